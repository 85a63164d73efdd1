"""scripts/udr.py on this project's checkpoints: groups of seeds scored as compute_udr_sklearn scores
them, a lone checkpoint refused, recorded codes scored as the checkpoints (evaluation/udr_groups.py)."""
import json

import numpy as np
import pytest

from checkpoints.restore import load_model
from evaluation.udr_groups import udr_path
from metrics.udr import compute_udr_sklearn
from models.representation import make_udr_function
from scripts import udr as udr_cli
from tests.eval_fixtures import make_checkpoint, small_data


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return small_data(tmp_path_factory.mktemp("udr_data"))


@pytest.mark.slow  # compiles two encoders per checkpoint: minutes on a loaded 2-core machine
def test_groups_scored_and_written(data, tmp_path, capsys):
    paths = [make_checkpoint(tmp_path, data, seed=s, perturb=1.0) for s in (1, 2, 3)]
    paths += [make_checkpoint(tmp_path, data, seed=s, perturb=1.0, gaussian=True) for s in (1, 2)]
    assert udr_cli.main([str(tmp_path / "*.pkl"), "--num_data_points", "200"],
                        datasets={"dsprites_procedural": data}) == 0
    records = {p.name: json.loads(udr_path(p).read_text()) for p in paths}
    dvae = [records[p.name] for p in paths[:3]]
    assert all(r["group"] == [p.name for p in paths[:3]] for r in dvae)      # seeds of one setting together
    assert len(records[paths[3].name]["group"]) == 2
    # Wiring: the same as compute_udr_sklearn on the loaded models with RandomState(42).
    functions = []
    for path in paths[:3]:
        _, _, _, model, params, state, _ = load_model(path, data)
        functions.append(make_udr_function(model, params, state, 10))
    direct = compute_udr_sklearn(data, functions, np.random.RandomState(42), num_data_points=200)
    np.testing.assert_allclose([r["udr"] for r in dvae], direct["model_scores"], rtol=0, atol=1e-12)
    assert all(0.0 <= r["udr"] <= 1.0 for r in records.values())


def test_lone_checkpoint_refused_in_one_line(data, tmp_path, capsys):
    make_checkpoint(tmp_path, data, seed=1)
    make_checkpoint(tmp_path, data, seed=2)
    make_checkpoint(tmp_path, data, seed=1, gaussian=True)
    assert udr_cli.main([str(tmp_path / "*.pkl")], datasets={"dsprites_procedural": data}) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no partner" in err[0] and "gauss" in err[0]
    assert udr_cli.main([str(tmp_path / "nothing*.pkl")]) == 2


@pytest.mark.slow  # compiles two encoders per checkpoint, twice
def test_cli_records_then_scores_as_from_checkpoints(data, tmp_path):
    paths = [make_checkpoint(tmp_path, data, seed=s, perturb=1.0) for s in (1, 2, 3)]
    common = ["--num_data_points", "200"]
    assert udr_cli.main([str(tmp_path / "*.pkl"), *common], datasets={"dsprites_procedural": data}) == 0
    direct = {p.name: json.loads(udr_path(p).read_text()) for p in paths}
    for p in paths:
        udr_path(p).unlink()
    assert udr_cli.main(["--record", str(paths[0]), *common], datasets={"dsprites_procedural": data}) == 0
    assert udr_cli.main(["--record", str(tmp_path / "*seed[23].pkl"), *common],
                        datasets={"dsprites_procedural": data}) == 0
    for p in paths:
        p.unlink()                                           # the checkpoints are gone
    assert udr_cli.main(["--from_records", str(tmp_path / "*.udr_codes.npz")]) == 0
    for p in paths:
        recorded = json.loads(udr_path(p).read_text())
        assert recorded["udr"] == direct[p.name]["udr"] and recorded["group"] == direct[p.name]["group"]
        assert recorded["pairwise_disentanglement_scores"] == direct[p.name]["pairwise_disentanglement_scores"]
