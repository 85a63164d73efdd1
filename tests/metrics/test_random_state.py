"""Each metric leaves the RandomState where disentanglement_lib's protocol leaves it.

The expected state comes from a second RandomState that replays, by hand, the raw
`randint`/`uniform` calls of the reference order (SyntheticData.replay_*), not from the
metric code or the data set's own sampling methods.
"""
import numpy as np
import pytest

import metrics
from tests.metrics_fixtures import SyntheticData, same_state

NF = 3  # latent factors of SyntheticData()


@pytest.fixture(scope="module")
def data():
    return SyntheticData()


def replay_factor_code(data, rs, num, batch):
    i = 0
    while i < num:
        n = min(num - i, batch)
        data.replay_sample(rs, n)
        i += n


def replay_factor_vae_point(data, rs, batch):
    rs.randint(NF)                      # factor index
    data.replay_factors(rs, batch)      # factors
    data.replay_observations(rs, batch)  # observations from them


def replay_beta_vae_point(data, rs, batch):
    rs.randint(low=0, high=NF)
    data.replay_factors(rs, batch)       # factors1
    data.replay_factors(rs, batch)       # factors2
    data.replay_observations(rs, batch)  # observation1
    data.replay_observations(rs, batch)  # observation2


def test_mig_state(data):
    rs, ref = np.random.RandomState(1), np.random.RandomState(1)
    metrics.compute_mig(data, data.factor_rep, rs, num_train=1000, batch_size=16)
    replay_factor_code(data, ref, 1000, 16)  # 62 batches of 16 and one of 8
    assert same_state(rs, ref)
    assert rs.randint(1 << 30) == ref.randint(1 << 30)


def test_mig_state_is_not_trivially_equal(data):
    # The check can fail: one point fewer leaves a different state.
    rs, ref = np.random.RandomState(1), np.random.RandomState(1)
    metrics.compute_mig(data, data.factor_rep, rs, num_train=1000, batch_size=16)
    replay_factor_code(data, ref, 999, 16)
    assert not same_state(rs, ref)


@pytest.mark.parametrize("name", ["modularity", "sap", "dci"])
def test_train_test_metrics_state(data, name):
    rs, ref = np.random.RandomState(2), np.random.RandomState(2)
    compute = getattr(metrics, f"compute_{name}")
    compute(data, data.factor_rep, rs, num_train=300, num_test=200, batch_size=16)
    replay_factor_code(data, ref, 300, 16)
    replay_factor_code(data, ref, 200, 16)
    assert same_state(rs, ref)


def test_factor_vae_state(data):
    rs, ref = np.random.RandomState(3), np.random.RandomState(3)
    metrics.compute_factor_vae(data, data.factor_rep_plus, rs, num_train=50, num_eval=30,
                               num_variance_estimate=500, chunk_size=256)
    data.replay_sample(ref, 500)  # one sample_observations(num_variance_estimate) call
    for _ in range(50 + 30):
        replay_factor_vae_point(data, ref, 64)
    assert same_state(rs, ref)


def test_factor_vae_state_no_active_dims(data):
    # Nothing is active: the reference returns after the variance estimate.
    rs, ref = np.random.RandomState(4), np.random.RandomState(4)
    out = metrics.compute_factor_vae(data, data.constant_rep, rs, num_train=50, num_eval=30,
                                     num_variance_estimate=500)
    data.replay_sample(ref, 500)
    assert same_state(rs, ref)
    assert out == {"train_accuracy": 0., "eval_accuracy": 0., "num_active_dims": 0}


def test_beta_vae_state(data):
    rs, ref = np.random.RandomState(5), np.random.RandomState(5)
    metrics.compute_beta_vae(data, data.rotated_rep, rs, num_train=60, num_eval=40,
                             chunk_size=300)
    for _ in range(60 + 40):
        replay_beta_vae_point(data, ref, 64)
    assert same_state(rs, ref)


def test_evaluate_all_state(data):
    settings = {"mig": {"num_train": 100}, "modularity": {"num_train": 100, "num_test": 50},
                "sap": {"num_train": 100, "num_test": 50},
                "factor_vae": {"num_train": 20, "num_eval": 10, "num_variance_estimate": 200},
                "beta_vae": {"num_train": 30, "num_eval": 20},
                "dci": {"num_train": 100, "num_test": 50}}
    rs, ref = np.random.RandomState(42), np.random.RandomState(42)
    metrics.evaluate_all(data, data.rotated_rep, rs, settings=settings)
    replay_factor_code(data, ref, 100, 16)                                # MIG
    replay_factor_code(data, ref, 100, 16); replay_factor_code(data, ref, 50, 16)  # Modularity
    replay_factor_code(data, ref, 100, 16); replay_factor_code(data, ref, 50, 16)  # SAP
    data.replay_sample(ref, 200)                                          # FactorVAE
    for _ in range(30):
        replay_factor_vae_point(data, ref, 64)
    for _ in range(50):                                                   # BetaVAE
        replay_beta_vae_point(data, ref, 64)
    replay_factor_code(data, ref, 100, 16); replay_factor_code(data, ref, 50, 16)  # DCI
    assert same_state(rs, ref)
