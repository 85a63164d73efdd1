"""Known answers on synthetic data: perfect codes score near the top, rotations lower."""
import numpy as np
import pytest

import metrics
from metrics import sap, utils
from tests.metrics_fixtures import SyntheticData


@pytest.fixture(scope="module")
def data():
    return SyntheticData()


SMALL = {"mig": {"num_train": 2000}, "modularity": {"num_train": 2000, "num_test": 100},
         "sap": {"num_train": 1000, "num_test": 500},
         "factor_vae": {"num_train": 200, "num_eval": 150, "num_variance_estimate": 1000},
         "beta_vae": {"num_train": 200, "num_eval": 150},
         "dci": {"num_train": 600, "num_test": 300}}


@pytest.fixture(scope="module")
def perfect(data):
    return metrics.evaluate_all(data, data.factor_rep, np.random.RandomState(0), settings=SMALL)


@pytest.fixture(scope="module")
def rotated(data):
    return metrics.evaluate_all(data, data.rotated_rep, np.random.RandomState(0), settings=SMALL)


def test_perfect_code_scores_near_one(perfect):
    assert perfect["mig"] > 0.95
    assert perfect["modularity"] > 0.95
    assert perfect["factor_vae_metric"] == 1.0
    assert perfect["beta_vae_sklearn"] == 1.0
    assert perfect["dci_disentanglement"] > 0.95
    assert perfect["dci_completeness"] > 0.95
    assert perfect["dci_informativeness_test"] > 0.95


def test_rotation_scores_clearly_lower(perfect, rotated):
    for key in ("mig", "sap_score", "dci_disentanglement"):
        assert rotated[key] < perfect[key] - 0.2, key
    for key in ("factor_vae_metric", "beta_vae_sklearn", "modularity"):
        assert rotated[key] < perfect[key] - 0.03, key


def test_sap_perfect_binary_factors():
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


def test_noise_and_constant_codes(data):
    out = metrics.evaluate_all(data, data.factor_rep_plus, np.random.RandomState(1),
                               settings=SMALL)
    for key, value in out.items():
        assert np.isfinite(value), key
    assert out["factor_vae_num_active_dims"] == 4   # the constant code is pruned
    assert out["factor_vae_metric"] == 1.0
    assert out["mig"] > 0.95


def test_all_constant_code(data):
    out = metrics.evaluate_all(data, data.constant_rep, np.random.RandomState(1),
                               settings=SMALL, metrics=["mig", "modularity", "factor_vae"])
    assert out["mig"] == 0.0 and out["modularity"] == 0.0
    assert out["factor_vae_metric"] == 0.0 and out["factor_vae_num_active_dims"] == 0


def _collapsed(values):
    """float32 1.0 or the next float32 above it: a range numpy cannot split into 20 bins."""
    return np.where(values, np.nextafter(np.float32(1), np.float32(2)), np.float32(1)).astype(np.float32)


def test_collapsed_code_is_discretised_as_a_constant_one():
    rs = np.random.RandomState(0)
    normal = rs.normal(size=200).astype(np.float32)
    target = np.stack([_collapsed(rs.randint(2, size=200)), normal])
    with pytest.raises(ValueError):        # what numpy (and disentanglement_lib) does with row 0
        np.histogram(target[0], 20)
    got = utils.histogram_discretize(target, 20)
    constant = np.full(200, np.float32(1))
    np.testing.assert_array_equal(got[0], np.digitize(constant, np.histogram(constant, 20)[1][:-1]))
    np.testing.assert_array_equal(got[1], np.digitize(normal, np.histogram(normal, 20)[1][:-1]))
    assert len(set(got[0])) == 1 and len(set(got[1])) > 5
    np.testing.assert_array_equal(utils.discrete_mutual_info(got[:1], rs.randint(3, size=(1, 200))), [[0.0]])


def test_mig_with_a_collapsed_code_equals_mig_with_a_constant_code(data):
    """A training-time MIG once died on such a code (FactorDVAE gamma 100, the TC study)."""
    def with_code(code):
        def rep(obs):
            f = data.factor_rep(obs)
            return np.concatenate([f, code(f)[:, None]], axis=1)
        return rep

    settings = {"mig": SMALL["mig"]}
    collapsed = metrics.evaluate_all(data, with_code(lambda f: _collapsed(f[:, 0] > 0.5)), np.random.RandomState(2),
                                     settings=settings, metrics=["mig"])["mig"]
    constant = metrics.evaluate_all(data, with_code(lambda f: np.ones_like(f[:, 0])), np.random.RandomState(2),
                                    settings=settings, metrics=["mig"])["mig"]
    assert collapsed == constant > 0.95
