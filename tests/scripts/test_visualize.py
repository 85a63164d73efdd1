"""scripts/visualize.py on tiny (untrained) checkpoints of the small procedural data set."""
import jax
import jax.numpy as jnp
import matplotlib.image
import numpy as np
import pytest

from analysis import model_figures
from checkpoints import checkpoint
from configs import Config
from models import build_model
from scripts import visualize


def make_checkpoint(tmp_path, **overrides):
    """A checkpoint with random weights, built from shapes only (no init compile: fast tests)."""
    config = Config(batch_size=8, steps=8, eval_every=0, save_path=str(tmp_path), **overrides)
    model = build_model(config, 1)
    params, state = jax.eval_shape(model.forward.init, jax.random.PRNGKey(0), jnp.zeros((1, 64, 64, 1)))
    rs = np.random.RandomState(0)
    fill = lambda leaf: (0.05 * rs.standard_normal(leaf.shape)).astype(leaf.dtype)
    params = jax.tree_util.tree_map(fill, params)
    params = {k: {n: np.asarray(v) for n, v in d.items()} for k, d in params.items()}
    if "codebook" in params:
        params["codebook"]["embed"] = np.broadcast_to(np.linspace(-1, 1, 64, dtype=np.float32)[None, :, None],
                                                      (10, 64, 1)).copy()
        state = {"codebook": {"scale": np.float32(0.5), "lambda": np.float32(1.0), "hard": np.bool_(False)}}
    payload = {"model": config.model_name, "dataset": config.dataset, "step": 8, "config": config.to_dict(),
               "params": params, "state": checkpoint.to_numpy(state), "opt_state": [], "params_disc": None,
               "state_disc": {}, "opt_state_disc": None, "rng": np.zeros(2, np.uint32)}
    return checkpoint.save_checkpoint(config.checkpoint_path(), payload)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    return make_checkpoint(folder), make_checkpoint(folder, gaussian=True)


def test_figures_written_with_sensible_shapes(checkpoints, tiny_data, tmp_path):
    dvae, vae = checkpoints
    paths = model_figures.visualize(dvae, out=tmp_path, compare=vae, data=tiny_data, steps=6, num_images=5,
                                num_points=200)
    names = sorted(p.name for p in paths)
    stem = "dsprites_procedural_seed42"
    assert names == sorted([f"{stem}_traversals.png", f"{stem}_traversals.pdf",
                            f"{stem}_reconstructions.png", f"{stem}_reconstructions.pdf",
                            f"{stem}_vs_dsprites_procedural_gauss_seed42_scatter.png",
                            f"{stem}_vs_dsprites_procedural_gauss_seed42_scatter.pdf"])
    assert all(p.stat().st_size > 1000 for p in paths)
    traversal = matplotlib.image.imread(tmp_path / f"{stem}_traversals.png")
    assert traversal.ndim == 3 and traversal.shape[0] > traversal.shape[1] * 0.9   # 10 rows x 6 columns
    scatter = matplotlib.image.imread(tmp_path / f"{stem}_vs_dsprites_procedural_gauss_seed42_scatter.png")
    assert scatter.shape[1] > 1.5 * scatter.shape[0]                                # two panels side by side


def test_traversal_grid_uses_codebook_and_quantiles(checkpoints, tiny_data):
    import numpy as np
    dvae = model_figures.Loaded(checkpoints[0], tiny_data)
    values, labels = dvae.traversal_values(5)
    assert values.shape == (10, 5) and labels[0] == "k=0" and labels[-1] == "k=63"
    np.testing.assert_allclose(values[3], np.linspace(-1, 1, 64)[[0, 16, 32, 47, 63]], atol=1e-6)
    fig, grid = model_figures.traversals(dvae, tiny_data.images[0].astype(np.float32), steps=5)
    assert grid.shape == (10, 5, 64, 64, 1) and grid.min() >= 0 and grid.max() <= 1
    vae = model_figures.Loaded(checkpoints[1], tiny_data)
    values, _ = vae.traversal_values(3)
    np.testing.assert_allclose(values[0], [-1.6448536, 0.0, 1.6448536], atol=1e-5)
    fig, grid = model_figures.reconstructions(vae, tiny_data.images[:4].astype(np.float32))
    assert grid.shape == (2, 4, 64, 64, 1)


def test_cli_errors(tmp_path, capsys):
    assert visualize.main(["--save_file", str(tmp_path / "missing.pkl")]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    assert visualize.main(["--save_file", "x.pkl", "--latents", "1"]) == 2
    assert visualize.main(["--save_file", "x.pkl", "--latents", "1,2,3"]) == 2


@pytest.mark.slow  # a subprocess that imports JAX and builds a model (~13 s)
def test_latents_checked_under_python_O(tmp_path):
    import os
    import subprocess
    import sys

    from tests import ROOT
    env = {**os.environ, "PYTHONPATH": str(ROOT)}   # this checkout's code, not an installed copy
    done = subprocess.run([sys.executable, "-O", str(ROOT / "scripts" / "visualize.py"), "--save_file", "x.pkl",
                           "--latents", "1,2,3"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert done.returncode == 2 and "--latents needs two" in done.stderr
