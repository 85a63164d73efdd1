"""SAP (metrics/sap.py): a perfect code of binary factors; with continuous factors,
disentanglement_lib's own three test cases (sap_score_test.py) with their bounds, and the score
matrix against np.cov pair by pair."""
import numpy as np
import pytest

import metrics
from metrics import utils
from metrics.sap import compute_sap, correlation_score_matrix
from tests.metrics_fixtures import SyntheticData


class IdentityObservations:
    """disentanglement_lib's dummy_data.IdentityObservationsData: 10 factors drawn uniformly
    from 1..10 (its `random_integers(10)`, the same stream as `randint(1, 11)`), and the
    observations are the factors."""

    num_factors = 10
    factors_num_values = [1] * 10

    def sample_factors(self, num, random_state):
        return random_state.randint(1, 11, size=(num, self.num_factors))

    def sample_observations_from_factors(self, factors, random_state):
        return factors

    def sample(self, num, random_state):
        factors = self.sample_factors(num, random_state)
        return factors, self.sample_observations_from_factors(factors, random_state)


def sap(representation):
    return compute_sap(IdentityObservations(), representation, np.random.RandomState(0), 3000, 3000,
                       continuous_factors=True)["SAP_score"]


def test_metric():                       # disentanglement_lib: assertBetween(score, 0.9, 1.0)
    assert 0.9 <= sap(lambda x: np.array(x, dtype=np.float64)) <= 1.0


def test_bad_metric():                   # assertBetween(score, 0.0, 0.2)
    assert 0.0 <= sap(lambda x: np.zeros_like(x, dtype=np.float64)) <= 0.2


def test_duplicated_latent_space():      # assertBetween(score, 0.0, 0.2)
    assert 0.0 <= sap(lambda x: np.hstack([np.array(x, dtype=np.float64)] * 2)) <= 0.2


def test_score_matrix_against_np_cov_pair_by_pair():
    rs = np.random.RandomState(4)
    ys = rs.randint(0, 5, size=(3, 400)).astype(float)
    mus = np.vstack([ys[0] + rs.normal(size=400), -2 * ys[1] + ys[2], np.full(400, 7.0), rs.normal(size=400)])
    matrix = correlation_score_matrix(mus, ys)
    for i in range(mus.shape[0]):
        for j in range(ys.shape[0]):
            cov = np.cov(mus[i], ys[j], ddof=1)
            expected = cov[0, 1] ** 2 / (cov[0, 0] * cov[1, 1]) if cov[0, 0] > 1e-12 else 0.0
            assert matrix[i, j] == pytest.approx(expected, abs=1e-12)
    assert matrix[2].tolist() == [0.0, 0.0, 0.0]           # a constant code scores 0


def test_default_is_still_the_discrete_protocol():
    import inspect
    assert inspect.signature(compute_sap).parameters["continuous_factors"].default is False


def test_sap_perfect_binary_factors():
    from metrics import sap  # the module (this file's sap() is the continuous score)
    # A single code classifies a binary factor perfectly; the runner-up code is at chance,
    # so SAP of a perfect code is 1 - 0.5 (SAP's ceiling for balanced binary factors).
    data = SyntheticData((2, 2, 3, 2), (0, 1, 3))
    rs = np.random.RandomState(0)
    mus, ys = utils.generate_batch_factor_code(data, data.factor_rep, 1000, rs, 16)
    mt, yt = utils.generate_batch_factor_code(data, data.factor_rep, 500, rs, 16)
    matrix = sap.score_matrix(mus, ys, mt, yt)
    np.testing.assert_array_equal(np.diag(matrix), 1.0)
    assert sap.avg_diff_top_two(matrix) > 0.45
    rot = metrics.compute_sap(data, data.rotated_rep, np.random.RandomState(0),
                              num_train=1000, num_test=500)["SAP_score"]
    assert rot < 0.3
