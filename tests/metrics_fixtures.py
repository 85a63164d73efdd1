"""Small synthetic ground-truth data and representation functions for the metric tests."""
from __future__ import annotations

import numpy as np

from data.base import FactorSpace, GroundTruthData


class SyntheticData(GroundTruthData):
    """Images whose first row stores every storage factor (pixel (0, j) = factor j).

    Some storage factors are nuisance ones (drawn inside `sample_observations_from_factors`,
    like dSprites' colour), and every observation carries one uniform noise pixel at (1, 0),
    drawn from `random_state` (like color_dsprites' colour), so both steps consume random
    numbers.
    """

    name = "synthetic"
    pixel_divisor = 255.0

    def __init__(self, factor_sizes=(3, 4, 2, 5), latent=(0, 1, 3), size: int = 64):
        self.sizes = list(factor_sizes)
        self.latent = list(latent)
        self.factor_space = FactorSpace(self.sizes, self.latent)
        n = int(np.prod(self.sizes))
        all_factors = np.stack(np.unravel_index(np.arange(n), self.sizes), axis=1)
        assert (self.factor_space.index_of(all_factors) == np.arange(n)).all()
        self.images = np.zeros((n, size, size, 1), dtype=np.uint8)
        self.images[:, 0, :len(self.sizes), 0] = all_factors
        q = np.linalg.qr(np.random.RandomState(3).randn(len(latent), len(latent)))[0]
        self._rotation = q.astype(np.float32)

    def _observations_from_pixels(self, pixels, random_state):
        obs = pixels.astype(np.float32) / np.float32(self.pixel_divisor)
        obs[:, 1, 0, 0] = random_state.uniform(size=pixels.shape[0]).astype(np.float32)
        return obs

    # -- the random_state calls of this data set, written out by hand ----------------------
    def replay_factors(self, rs, n):
        for i in self.latent:
            rs.randint(self.sizes[i], size=n)

    def replay_observations(self, rs, n):
        for i in range(len(self.sizes)):
            if i not in self.latent:
                rs.randint(self.sizes[i], size=n)
        rs.uniform(size=n)

    def replay_sample(self, rs, n):
        self.replay_factors(rs, n)
        self.replay_observations(rs, n)

    # -- representation functions (elementwise only, so exactly batch-invariant) -----------
    def true_factors(self, obs):
        """[b, num_latent] float32 latent factors normalised to [0, 1]."""
        raw = np.rint(np.asarray(obs)[:, 0, :len(self.sizes), 0] * 255.0)
        return np.stack([raw[:, i] / (self.sizes[i] - 1) for i in self.latent],
                        axis=1).astype(np.float32)

    def factor_rep(self, obs):
        """The normalised factors themselves: a perfectly disentangled code."""
        return self.true_factors(obs)

    def factor_rep_plus(self, obs):
        """Normalised factors, then a noise code and a constant code."""
        f = self.true_factors(obs)
        noise = np.asarray(obs)[:, 1, 0, 0:1].astype(np.float32)
        return np.concatenate([f, noise, np.zeros_like(f[:, :1])], axis=1)

    def rotated_rep(self, obs):
        """A random rotation of the centred factors (elementwise sum of products)."""
        f = self.true_factors(obs) - np.float32(0.5)
        q = self._rotation
        return sum(f[:, k:k + 1] * q[k][None, :] for k in range(q.shape[0])).astype(np.float32)

    def constant_rep(self, obs):
        return np.zeros((np.asarray(obs).shape[0], 3), dtype=np.float32)


class CountingRep:
    """Wraps a representation function; records the batch size of each call."""

    def __init__(self, fn):
        self.fn = fn
        self.sizes: list[int] = []

    def __call__(self, obs):
        self.sizes.append(len(obs))
        return self.fn(obs)


def same_state(a: np.random.RandomState, b: np.random.RandomState) -> bool:
    sa, sb = a.get_state(), b.get_state()
    return sa[0] == sb[0] and np.array_equal(sa[1], sb[1]) and sa[2:] == sb[2:]


class KnownMigRep:
    """A representation of `SyntheticData(factor_sizes=(4, 3), latent=(0,))` (one factor f,
    4 values) whose MIG is known by construction: codes (f / 3, f // 2, 0). After the 20-bin
    histogram, code 0 has one bin per value of f (MI = H(f)), code 1 is a function of f with
    two values (MI = H(f // 2)), code 2 is constant (MI = 0), so
    MIG = (H(f) - H(f // 2)) / H(f). Records the factor values it was shown (`seen`)."""

    def __init__(self, data: SyntheticData):
        assert data.sizes[data.latent[0]] == 4 and len(data.latent) == 1
        self.data = data
        self.seen: list[np.ndarray] = []

    def __call__(self, obs):
        f = np.rint(self.data.true_factors(obs)[:, 0] * 3).astype(int)
        self.seen.append(f)
        return np.stack([f / 3, f // 2, np.zeros(len(f))], axis=1).astype(np.float32)

    def mig_by_hand(self) -> float:
        """From the counts of the values it was shown (natural log, as MI is computed)."""
        f = np.concatenate(self.seen)

        def entropy(labels):
            p = np.bincount(labels) / len(labels)
            p = p[p > 0]
            return float(-np.sum(p * np.log(p)))
        return (entropy(f) - entropy(f // 2)) / entropy(f)


def exact_codes(rs, n):
    """Codes (factor 0 + noise, factor 1 + noise, code 0 again) [3, n] float32 and factors
    [2, n] (4 and 3 values). Each noise is < 0.3, so a code determines its factor exactly."""
    ys = np.stack([rs.randint(4, size=n), rs.randint(3, size=n)])
    c = np.round(ys + 0.3 * rs.rand(2, n), 3)
    return np.concatenate([c, c[:1]]).astype(np.float32), ys


def collapsed_code(values):
    """float32 1.0 or the next float32 above it: a range numpy cannot split into 20 bins."""
    return np.where(values, np.nextafter(np.float32(1), np.float32(2)), np.float32(1)).astype(np.float32)
