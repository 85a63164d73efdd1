"""Codes records (evaluation/codes_record.py): the sample, the file, the guarded reader, and the
scores recomputed from a record (evaluation/rescore.py, scripts/rescore.py)."""
import json
import zipfile

import numpy as np
import pytest

from data.base import DataError
from evaluation.codes_record import read_codes_record, sample_codes, write_codes_record
from evaluation.rescore import scores_from_record
from metrics import utils
from metrics.dci import dci_from_codes
from metrics.infomec import compute_infomec
from metrics.mig import mig_from_codes
from scripts import rescore as rescore_cli
from tests.metrics_fixtures import SyntheticData

HEADER = {"checkpoint": "x.pkl", "model": "dvae", "dataset": "synthetic", "config": {}, "factor_sizes": [3, 4, 5],
          "sample_seed": 42, "discrete": False}


@pytest.fixture(scope="module")
def data():
    return SyntheticData()


def _record(data, num=400):
    factors, codes, argmax = sample_codes(data, data.factor_rep, seed=42, num=num, chunk=150,
                                          argmax_function=lambda obs: np.round(data.factor_rep(obs) * 4) / 4)
    return factors, codes, argmax


def test_sample_draws_factors_then_observations_from_its_own_random_state(data):
    factors, codes, argmax = _record(data)
    # By hand: the latent factors first (all 400), then per chunk of 150 the nuisance factor and
    # one uniform pixel per observation; nothing else draws from RandomState(42).
    rs = np.random.RandomState(42)
    expected = data.sample_factors(400, rs)
    for start in (0, 150, 300):
        data.replay_observations(rs, min(150, 400 - start))
    np.testing.assert_array_equal(factors, expected)
    leftover = np.random.RandomState(42)
    data.replay_factors(leftover, 400)
    for start in (0, 150, 300):
        data.replay_observations(leftover, min(150, 400 - start))
    assert rs.randint(2**30) == leftover.randint(2**30)
    np.testing.assert_array_equal(codes, data.factor_rep(data.sample_observations_from_factors(
        factors, np.random.RandomState(0))).astype(np.float32))   # factor_rep ignores the noise pixel
    assert codes.dtype == np.float32 and argmax.shape == codes.shape


def test_round_trip_and_rescore_equals_scoring_the_codes(data, tmp_path):
    factors, codes, argmax = _record(data)
    path = write_codes_record(tmp_path / "x.codes.npz", factors, codes, HEADER, argmax)
    record = read_codes_record(path)
    np.testing.assert_array_equal(record["codes"], codes)
    np.testing.assert_array_equal(record["argmax_codes"], argmax)
    assert record["header"] == {**HEADER, "format": 1}
    scores = scores_from_record(record)
    # The same scores computed directly from the arrays, independently of the record.
    direct = compute_infomec(factors, codes, False)
    assert scores["infom"] == direct["infom"] and scores["infoe"] == direct["infoe"]
    assert scores["infom_argmax"] == compute_infomec(factors, argmax, True)["infom"]
    assert scores["mig"] == mig_from_codes(codes.T, factors.T)["discrete_mig"]
    dci = dci_from_codes(codes[:200].T, factors[:200].T, codes[200:].T, factors[200:].T)
    assert scores["dci_disentanglement"] == dci["disentanglement"]
    # factor_rep is the factors themselves: a perfect code for every metric that can say so.
    assert scores["mig"] > 0.9 and scores["infom"] > 0.9 and scores["modularity"] > 0.99
    assert utils.histogram_discretize(codes.T).shape == codes.T.shape


def test_rescore_command_writes_json(data, tmp_path, capsys):
    factors, codes, argmax = _record(data)
    path = write_codes_record(tmp_path / "run[1].codes.npz", factors, codes, HEADER, argmax)
    assert rescore_cli.main([str(tmp_path / "*.codes.npz")]) == 0
    written = json.loads(rescore_cli.rescore_path(path).read_text())
    assert written["results"] == json.loads(json.dumps(scores_from_record(read_codes_record(path))))
    assert "run[1].codes.npz: infom" in capsys.readouterr().out


def _write_members(path, members: dict):
    with zipfile.ZipFile(path, "w") as archive:
        for name, payload in members.items():
            archive.writestr(name + ".npy", payload)
    return path


def _npy(array, **kwargs) -> bytes:
    import io
    buffer = io.BytesIO()
    np.save(buffer, array, **kwargs)
    return buffer.getvalue()


def _valid_members(data):
    factors, codes, _ = _record(data, num=50)
    return {"factors": _npy(factors), "codes": _npy(codes), "header": _npy(np.array(json.dumps({**HEADER,
                                                                                                "format": 1})))}


def _huge_header() -> bytes:
    """A .npy header declaring float32 [10^9, 10] followed by 8 bytes: a reader that trusts it
    would allocate 40 GB."""
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 10), np.float32))
    header["shape"] = (10**9, 10)
    import io
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + b"\0" * 8


@pytest.mark.parametrize("change,message", [
    (lambda m: {**m, "extra": _npy(np.zeros(3))}, "expected the arrays"),
    (lambda m: {k: v for k, v in m.items() if k != "codes"}, "expected the arrays"),
    (lambda m: {**m, "codes": _npy(np.array([{"a": 1}], dtype=object), allow_pickle=True)}, "dtype object"),
    (lambda m: {**m, "codes": _huge_header()}, "declares 40000000000 bytes"),
    (lambda m: {**m, "codes": m["codes"][:-40]}, "truncated"),
    (lambda m: {**m, "header": _npy(np.array("{not json"))}, "not JSON"),
    (lambda m: {**m, "header": _npy(np.array(json.dumps({**HEADER, "format": 1, "x": 1})))}, "exactly"),
    (lambda m: {**m, "factors": _npy(np.full((50, 3), 7, np.int64))}, "below the factor sizes"),
    (lambda m: {**m, "codes": _npy(np.full((50, 3), np.nan, np.float32))}, "finite"),
    (lambda m: {**m, "codes": _npy(np.zeros((49, 3), np.float32))}, r"float32 \[50, L\]"),
], ids=["extra", "missing", "pickle", "huge", "truncated", "header-json", "header-keys", "factor-range", "nan",
        "rows"])
def test_hostile_records_refused_in_one_line(data, tmp_path, change, message):
    path = _write_members(tmp_path / "bad.codes.npz", change(_valid_members(data)))
    with pytest.raises(DataError, match=message) as error:
        read_codes_record(path)
    assert "\n" not in str(error.value) and str(path) in str(error.value)


def test_not_a_zip_refused(tmp_path):
    path = tmp_path / "x.codes.npz"
    path.write_bytes(b"\x80\x04}Na.")
    with pytest.raises(DataError, match="not a readable npz"):
        read_codes_record(path)
