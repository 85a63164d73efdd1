"""UDR on this project's checkpoints: the KL per latent, the grouping and the command line."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import configs
from checkpoints.restore import load_model
from evaluation.udr_groups import udr_path
from metrics.udr import compute_udr_sklearn
from models import build_model
from models.representation import make_udr_function
from scripts import udr as udr_cli
from tests.eval_fixtures import make_checkpoint, small_data
from training.step import init_train_state


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return small_data(tmp_path_factory.mktemp("udr_data"))


@pytest.mark.parametrize("gaussian", [False, True], ids=["dvae", "vae"])
def test_kl_per_latent_sums_to_the_training_kl(data, gaussian):
    """posterior_kl [batch, N] summed over N is the KL term of the training loss."""
    model = build_model(configs.Config(gaussian=gaussian), 1)
    ts = init_train_state(model, jnp.zeros((1, 64, 64, 1), jnp.float32))
    params = jax.tree_util.tree_map(lambda p: p * 3.0, ts.params)      # posteriors far from the prior
    images = jnp.asarray(data.images[:16], jnp.float32)
    per_latent = jax.jit(model.posterior_kl.apply)(params, ts.state, images)[0]
    outputs, _ = jax.jit(model.forward.apply)(params, ts.state, jax.random.PRNGKey(0), images)
    assert per_latent.shape == (16, 10) and float(per_latent.min()) >= -1e-6
    np.testing.assert_allclose(per_latent.sum(axis=1), outputs["kl"], rtol=1e-5)
    assert float(outputs["kl"].mean()) > 0.1


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


def test_tables_read_udr_beside_the_eval_json(tmp_path):
    from analysis.results import read_result
    (tmp_path / "ds_seed1.eval.json").write_text(json.dumps(
        {"dataset": "ds", "model": "dvae", "seed": 1, "results": {"mig": 0.1}}))
    assert read_result(tmp_path / "ds_seed1.eval.json")["values"]["udr"] is None
    (tmp_path / "ds_seed1.udr.json").write_text(json.dumps({"udr": 0.42}))
    assert read_result(tmp_path / "ds_seed1.eval.json")["values"]["udr"] == 0.42


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
