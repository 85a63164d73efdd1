"""The index cache (evaluation/index_cache.py): the same random_state calls as the data set, each
stored image encoded once, and no cache where observations are random."""
import numpy as np
import pytest

from evaluation.index_cache import CachedRepresentation, IndexedData, supports_index_cache


def test_indexed_data_same_random_state_calls(eval_data):
    assert supports_index_cache(eval_data)
    indexed = IndexedData(eval_data)
    a, b = np.random.RandomState(5), np.random.RandomState(5)
    factors, observations = eval_data.sample(50, a)
    factors_i, indices = indexed.sample(50, b)
    np.testing.assert_array_equal(factors, factors_i)
    np.testing.assert_array_equal(observations, eval_data.images[indices].astype(np.float32))
    assert a.randint(1 << 30) == b.randint(1 << 30)
    # The cache returns what the representation function returns for the images themselves.
    calls = []
    rep = lambda x: (calls.append(len(x)), x.reshape(len(x), -1)[:, :3].sum(-1, keepdims=True) * 2.0)[1]
    cache = CachedRepresentation(eval_data, rep, encode_batch=100)
    np.testing.assert_array_equal(cache(indices), rep(observations))
    np.testing.assert_array_equal(cache(indices[::-1]), rep(observations[::-1]))
    assert sum(calls[:-2]) == len(np.unique(indices))  # each image once (the last 2 calls: by hand)


def test_random_observations_not_cached(eval_data):
    class Coloured(type(eval_data)):
        def _observations_from_pixels(self, pixels, random_state):
            return pixels * random_state.uniform(0.5, 1, [len(pixels), 1, 1, 1])

    coloured = Coloured.__new__(Coloured)
    assert not supports_index_cache(coloured)
    assert not supports_index_cache(object())
    with pytest.raises(ValueError, match="index cache"):
        IndexedData(coloured)
