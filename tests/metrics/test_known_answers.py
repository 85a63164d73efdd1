"""Known answers of all six metrics on synthetic data: perfect codes score near the top, rotations
lower, noise and constant codes handled."""
import numpy as np
import pytest

import metrics
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
