"""UDR records (metrics/udr_records.py): each model's codes recorded alone score exactly as the
group sampled together; records of other draws and damaged records are refused in one line."""
import numpy as np
import pytest

import configs
from metrics.udr import compute_udr_sklearn
from tests.eval_fixtures import small_data


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return small_data(tmp_path_factory.mktemp("udr_data"))


def _linear_function(seed: int, kl: np.ndarray):
    """A stand-in model: observations -> (a fixed random projection [n, 5], KL [5]); draws nothing."""
    projection = np.random.RandomState(seed).normal(size=(64 * 64, 5))
    return lambda observations: (np.asarray(observations).reshape(len(observations), -1) @ projection, kl)


def _record_each(data, functions, folder, seed=7, points=100):
    """Each function recorded alone, as `scripts/udr.py --record` does for a checkpoint."""
    from metrics.udr import sample_representations
    from metrics.udr_records import write_record
    paths = []
    for i, function in enumerate(functions):
        random_state = np.random.RandomState(seed)
        (codes,), (kl,) = sample_representations(data, [function], random_state, 10, points)
        header = {"checkpoint": f"m{i}.pkl", "config": configs.Config(seed=i + 1).to_dict(), "udr_seed": seed,
                  "batch_size": 10, "num_data_points": points}
        paths.append(write_record(folder / f"m{i}.udr_codes.npz", codes, kl, random_state, header))
    return paths


def test_recorded_models_score_as_the_group_does(data, tmp_path):
    """Recording each model alone and scoring the records later gives exactly the scores of
    sampling the group together (the draw is shared by the models)."""
    from metrics.udr_records import read_record, score_records
    kls = [np.array([0.5, 0.3, 0.005, 0.2, 1.0]), np.array([0.4, 0.02, 0.3, 0.2, 0.6]), np.full(5, 0.3)]
    functions = [_linear_function(s, kl) for s, kl in zip((1, 2, 3), kls)]
    direct = compute_udr_sklearn(data, functions, np.random.RandomState(7), num_data_points=100)
    records = [read_record(p) for p in _record_each(data, functions, tmp_path)]
    recorded = score_records(records)
    assert recorded["model_scores"] == direct["model_scores"]
    assert recorded["pairwise_disentanglement_scores"] == direct["pairwise_disentanglement_scores"]
    assert len(set(direct["model_scores"])) == 3                     # three different models
    np.testing.assert_array_equal(records[0]["kl"], np.mean([kls[0]] * 10, axis=0))  # mean of 10 batches


def test_records_from_other_draws_are_refused(data, tmp_path):
    from metrics.udr import UdrError
    from metrics.udr_records import read_record, score_records
    function = _linear_function(1, np.full(5, 0.3))
    first = _record_each(data, [function], tmp_path / "a", seed=7)
    other = _record_each(data, [function], tmp_path / "b", seed=8)
    with pytest.raises(UdrError, match="udr_seed 8"):
        score_records([read_record(first[0]), read_record(other[0])])


def test_bad_records_get_one_line_errors(data, tmp_path, monkeypatch):
    from metrics import udr_records
    from metrics.udr import UdrError
    from metrics.udr_records import read_record
    good = _record_each(data, [_linear_function(1, np.full(5, 0.3))], tmp_path)[0]
    monkeypatch.setattr(udr_records, "MAX_MEMBER_BYTES", 4000)     # codes [100, 5] float64: 4,128 bytes
    with pytest.raises(UdrError, match="declares 4128 bytes"):
        read_record(good)
    monkeypatch.undo()
    arrays = dict(np.load(good))
    cases = {
        "text.udr_codes.npz": b"not a zip",
        "short.udr_codes.npz": {**arrays, "codes": arrays["codes"][:50]},
        "nan.udr_codes.npz": {**arrays, "kl": np.full(5, np.nan)},
        "missing.udr_codes.npz": {k: v for k, v in arrays.items() if k != "rng_keys"},
        "pickled.udr_codes.npz": {**arrays, "header": np.array([{"config": 1}], dtype=object)},
        "header.udr_codes.npz": {**arrays, "header": np.array("{}")},
    }
    expected = {"text": "not a readable", "short": r"codes must be float64 \[100, D\]", "nan": "finite",
                "missing": "not a UDR record", "pickled": "not a readable", "header": "the header must hold"}
    for name, content in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            np.savez(path, **content)
        with pytest.raises(UdrError, match=expected[name.split(".")[0]]) as error:
            read_record(path)
        assert str(path) in str(error.value) and "\n" not in str(error.value)
