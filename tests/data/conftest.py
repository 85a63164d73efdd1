"""Fixtures of the loader tests: files in the real formats written into an empty
$DISENTANGLEMENT_LIB_DATA, and the factor indexing and sampling they are checked against."""
import numpy as np
import pytest


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
