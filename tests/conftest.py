"""Shared fixtures: a small procedural dSprites and a fast training config."""
import numpy as np
import pytest

from configs import Config
from data.procedural import ProceduralDSprites


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """3 shapes x 2 scales x 4 orientations x 4 x 4 positions = 384 images, 64x64x1."""
    return ProceduralDSprites(num_scales=2, num_orientations=4, num_positions=4,
                              cache_dir=tmp_path_factory.mktemp("procedural"), verbose=False)


@pytest.fixture
def tiny_config(tmp_path):
    """A D-VAE config that trains in seconds: batch 8, 2 steps per dispatch."""
    return Config(steps=8, batch_size=8, log_every=4, eval_every=0, save_every=4,
                  steps_per_dispatch=2, save_path=str(tmp_path))


# -- the loader tests (tests/test_data_*.py) ------------------------------------------------
@pytest.fixture
def data_root(tmp_path, monkeypatch):
    """An empty $DISENTANGLEMENT_LIB_DATA: the loader tests write files in the real formats
    into it."""
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path))
    return tmp_path


@pytest.fixture
def c_index():
    """index(factors [n, k], sizes [k]) -> [n] storage positions of full factor tuples in C
    order, written out by hand (not np.ravel_multi_index)."""
    def index(factors, sizes):
        position = np.zeros(len(factors), np.int64)
        for f, size in zip(np.asarray(factors).T, sizes):
            position = position * size + f
        return position
    return index


@pytest.fixture
def uniform_draws():
    """draws(seed, n, sizes) -> (factors [n, k], the RandomState after them): what
    disentanglement_lib's uniform factor sampling draws, one randint per factor in order."""
    def draws(seed, n, sizes):
        rs = np.random.RandomState(seed)
        return np.stack([rs.randint(s, size=n) for s in sizes], 1), rs
    return draws
