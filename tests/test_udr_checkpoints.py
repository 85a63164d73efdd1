"""UDR on this project's checkpoints: the KL per latent, the grouping and the command line."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from eval_fixtures import make_checkpoint, small_data

import configs
from metrics.udr import compute_udr_sklearn
from models import build_model
from models.representation import make_udr_function
from scripts import udr as udr_cli
from training.restore import load_model
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
    records = {p.name: json.loads(udr_cli.udr_path(p).read_text()) for p in paths}
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
    from scripts.results import read_result
    (tmp_path / "ds_seed1.eval.json").write_text(json.dumps(
        {"dataset": "ds", "model": "dvae", "seed": 1, "results": {"mig": 0.1}}))
    assert read_result(tmp_path / "ds_seed1.eval.json")["values"]["udr"] is None
    (tmp_path / "ds_seed1.udr.json").write_text(json.dumps({"udr": 0.42}))
    assert read_result(tmp_path / "ds_seed1.eval.json")["values"]["udr"] == 0.42
