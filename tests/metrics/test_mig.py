"""MIG (metrics/mig.py): by hand on two codes, and a collapsed code (a range numpy cannot split
into bins) counts as a constant one."""
import numpy as np
import pytest

import metrics
from metrics.mig import mig_from_codes
from tests.metrics_fixtures import SyntheticData, collapsed_code


@pytest.fixture(scope="module")
def data():
    return SyntheticData()


def test_mig_by_hand():
    # Two codes, two factors, 8 points. Codes take values in {0, 1}: the 20-bin histogram
    # maps 0 -> bin 1 and 1 -> bin 20, so the discretised codes are the codes themselves.
    y0 = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    y1 = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    c0 = y0.astype(float)                             # copies factor 0
    c1 = np.array([0, 1, 1, 0, 1, 1, 0, 1], float)    # factor 1 == 0 or not
    mus, ys = np.stack([c0, c1]), np.stack([y0, y1])

    def entropy(labels):
        p = np.bincount(labels) / len(labels)
        p = p[p > 0]
        return -np.sum(p * np.log(p))

    def mi(a, b):
        a, b = a.astype(int), b.astype(int)
        total = 0.
        for u in np.unique(a):
            for v in np.unique(b):
                pj = np.mean((a == u) & (b == v))
                if pj > 0:
                    total += pj * np.log(pj / (np.mean(a == u) * np.mean(b == v)))
        return total

    # H(y0) = log 2; H(y1) with counts (3, 3, 2).
    assert np.isclose(entropy(y0), np.log(2))
    h1 = -(2 * 3 / 8 * np.log(3 / 8) + 2 / 8 * np.log(2 / 8))
    assert np.isclose(entropy(y1), h1)
    # MI(c1, y1) = H(c1) since c1 is a function of y1; H(c1) with counts (3, 5).
    h_c1 = -(3 / 8 * np.log(3 / 8) + 5 / 8 * np.log(5 / 8))
    assert np.isclose(mi(c1, y1), h_c1)
    expected = np.mean([
        (np.log(2) - mi(c1, y0)) / np.log(2),             # factor 0: c0 best, c1 second
        (h_c1 - mi(c0, y1)) / h1,                         # factor 1: c1 best, c0 second
    ])
    assert mig_from_codes(mus, ys)["discrete_mig"] == pytest.approx(expected, abs=1e-12)


def test_mig_with_a_collapsed_code_equals_mig_with_a_constant_code(data):
    """A training-time MIG once died on such a code (FactorDVAE gamma 100, the TC study)."""
    def with_code(code):
        def rep(obs):
            f = data.factor_rep(obs)
            return np.concatenate([f, code(f)[:, None]], axis=1)
        return rep

    settings = {"mig": {"num_train": 2000}}
    collapsed = metrics.evaluate_all(data, with_code(lambda f: collapsed_code(f[:, 0] > 0.5)), np.random.RandomState(2),
                                     settings=settings, metrics=["mig"])["mig"]
    constant = metrics.evaluate_all(data, with_code(lambda f: np.ones_like(f[:, 0])), np.random.RandomState(2),
                                    settings=settings, metrics=["mig"])["mig"]
    assert collapsed == constant > 0.95
