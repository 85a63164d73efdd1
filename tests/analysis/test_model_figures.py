"""Figures of one checkpoint (analysis/model_figures.py) on tiny (untrained) checkpoints of the
small procedural data set: every file written with sensible shapes, traversals over the codebook
and normal quantiles."""
import matplotlib.image
import pytest

from analysis import model_figures
from tests.eval_fixtures import random_checkpoint


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    return random_checkpoint(folder), random_checkpoint(folder, gaussian=True)


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
