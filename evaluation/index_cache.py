"""Encode each stored image at most once: storage indices in place of observations.

For a data set whose observation of a factor vector is exactly one stored image turned into
float (`GroundTruthData._observations_from_pixels`, no random colour / noise / background),
the metrics can be run on

- `IndexedData(data)`: the same `random_state` calls, in the same order, as `data` — its
  `sample_observations_from_factors` draws the nuisance factors exactly like
  `GroundTruthData.sample_observations_from_factors` — but it returns the int64 storage
  indices [num] of the images instead of the float images;
- `CachedRepresentation(data, representation_function)`: indices -> codes, looked up in a
  table [num_images, num_codes] that is filled lazily: the first time an index is asked for,
  its image is converted with the data set's own `_observations_from_pixels` and represented by
  `representation_function` (the same one the plain path uses), in large batches.

The metrics only pass observations through (`np.asarray`, concatenation, slicing) to the
representation function, so they see the same codes in the same order, and give identical
numbers, as long as the representation of an image does not depend on the batch it is in
(true for `models.representation.make_representation_function`, which pads every call to one
compiled shape; tests/evaluation/test_evaluate.py checks equality of every metric). The paper protocol draws
~2.9 million observations; with 737,280 stored images (dSprites) about 98% of them are encoded
once instead of ~4 times each, and no float image array is ever gathered.
"""
from __future__ import annotations

import threading
import time

import numpy as np

from data.base import GroundTruthData

# The methods whose base-class behaviour makes an observation a deterministic stored image.
_REQUIRED_BASE = ("sample_factors", "sample_observations_from_factors", "sample",
                  "sample_observations", "_observations_from_pixels")


def supports_index_cache(data) -> bool:
    """Whether `data`'s observations are exactly its stored images (no random transform)."""
    if not isinstance(data, GroundTruthData):
        return False
    cls = type(data)
    return all(getattr(cls, name) is getattr(GroundTruthData, name) for name in _REQUIRED_BASE)


class IndexedData:
    """`data` behind the ground-truth interface, with storage indices as observations."""

    def __init__(self, data: GroundTruthData):
        if not supports_index_cache(data):
            raise ValueError(f"{type(data).__name__}: observations are not plain stored images; "
                             f"the index cache does not apply")
        self.data = data

    @property
    def num_factors(self) -> int:
        return self.data.num_factors

    @property
    def factors_num_values(self):
        return self.data.factors_num_values

    @property
    def observation_shape(self):
        return self.data.observation_shape

    def sample_factors(self, num, random_state):
        return self.data.sample_factors(num, random_state)

    def sample_observations_from_factors(self, factors, random_state):
        """int64 [num] storage indices; the same random_state calls as the data set."""
        all_factors = self.data.factor_space.sample_all_factors(factors, random_state)
        return np.asarray(self.data._index_of(all_factors), dtype=np.int64)

    def sample(self, num, random_state):
        factors = self.sample_factors(num, random_state)
        return factors, self.sample_observations_from_factors(factors, random_state)

    def sample_observations(self, num, random_state):
        return self.sample(num, random_state)[1]


class CachedRepresentation:
    """indices [n] -> codes [n, num_codes], each stored image represented at most once.

    `representation_function` maps float observations [b, 64, 64, C] to codes; it is called on
    up to `encode_batch` images at a time (a multiple of its own padded batch size wastes
    nothing). `num_encoded` and `encode_seconds` record the work done.
    """

    def __init__(self, data: GroundTruthData, representation_function, encode_batch: int = 4096):
        self.data = data
        self.representation_function = representation_function
        self.encode_batch = int(encode_batch)
        self.num_images = int(data.images.shape[0])
        self.filled = np.zeros(self.num_images, dtype=bool)
        self.table: np.ndarray | None = None
        self.num_encoded = 0
        self.encode_seconds = 0.0
        self._lock = threading.Lock()  # one filler at a time (eval.py asks from two threads)

    def _encode(self, indices: np.ndarray) -> None:
        start = time.perf_counter()
        for s in range(0, len(indices), self.encode_batch):
            ids = indices[s:s + self.encode_batch]
            # The data set's own conversion, as in its sample_observations_from_factors.
            observations = self.data._observations_from_pixels(self.data.images[ids], None)
            codes = np.asarray(self.representation_function(observations))
            if self.table is None:
                self.table = np.zeros((self.num_images, *codes.shape[1:]), dtype=codes.dtype)
            self.table[ids] = codes
            self.filled[ids] = True
        self.num_encoded += len(indices)
        self.encode_seconds += time.perf_counter() - start

    def __call__(self, indices) -> np.ndarray:
        indices = np.asarray(indices)
        if not np.issubdtype(indices.dtype, np.integer) or indices.ndim != 1:
            raise TypeError(f"CachedRepresentation takes storage indices [n] (int), got "
                            f"{indices.dtype} {indices.shape}: use it with IndexedData")
        with self._lock:
            missing = np.unique(indices[~self.filled[indices]])
            if len(missing):
                self._encode(missing)
            if self.table is None:  # nothing asked for yet
                self._encode(np.arange(min(1, self.num_images)))
            return self.table[indices]


# Metric settings for the index path: observations are 8-byte indices, so chunks can be large
# (fewer, larger batches of new images for the encoder); the numbers do not depend on it.
INDEX_CHUNK_SIZE = 16384


def index_settings(settings: dict | None, metrics) -> dict:
    """`settings` with chunk_size = INDEX_CHUNK_SIZE added for every metric that lacks one."""
    settings = {k: dict(v) for k, v in (settings or {}).items()}
    for name in metrics:
        settings.setdefault(name, {}).setdefault("chunk_size", INDEX_CHUNK_SIZE)
    return settings


__all__ = ["supports_index_cache", "IndexedData", "CachedRepresentation", "index_settings",
           "INDEX_CHUNK_SIZE"]
