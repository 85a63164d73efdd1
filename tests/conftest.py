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
    """A D-VAE config that trains in seconds: batch 8, 2 steps per dispatch.

    Compiled steps are shared by every run whose config differs only in bookkeeping
    (models.model.BOOKKEEPING_FIELDS), so the TC tests all use gamma 5: one compile each.
    """
    return Config(steps=8, batch_size=8, log_every=4, eval_every=0, save_every=4,
                  steps_per_dispatch=2, save_path=str(tmp_path))


def pytest_runtest_setup(item):
    """Tests marked `slurm` need a reachable cluster (tests/slurm_cluster.py): skip, or fail in CI."""
    if item.get_closest_marker("slurm") is not None:
        from tests.slurm_cluster import require_cluster
        require_cluster()


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
def sample_replayed():
    """sample(ds, seed, n, sizes) -> (factors [n, k], observations): ds.sample(n) on
    RandomState(seed), after checking it drew what disentanglement_lib's uniform factor
    sampling draws (one randint per factor, in order) and nothing more."""
    def sample(ds, seed, n, sizes):
        rs, rs_replay = np.random.RandomState(seed), np.random.RandomState(seed)
        factors, observations = ds.sample(n, rs)
        want = np.stack([rs_replay.randint(s, size=n) for s in sizes], 1)
        np.testing.assert_array_equal(factors, want)
        assert rs.rand() == rs_replay.rand()  # the same number of draws
        return want, observations
    return sample
