"""evaluate_all's keys, subsets and order; progress bars; batching and error propagation."""
import numpy as np
import pytest

import metrics
from metrics import utils
from tests.metrics_fixtures import CountingRep, SyntheticData

TINY = {"mig": {"num_train": 64}, "modularity": {"num_train": 64, "num_test": 32},
        "sap": {"num_train": 64, "num_test": 32},
        "factor_vae": {"num_train": 8, "num_eval": 8, "num_variance_estimate": 128},
        "beta_vae": {"num_train": 12, "num_eval": 8},
        "dci": {"num_train": 64, "num_test": 32}}

REPORTED = ["mig", "modularity", "sap_score", "factor_vae_metric", "beta_vae_sklearn",
            "dci_disentanglement"]


@pytest.fixture(scope="module")
def data():
    return SyntheticData()


def test_evaluate_all_keys(data):
    out = metrics.evaluate_all(data, data.factor_rep, 42, settings=TINY)
    for key in REPORTED + ["dci_completeness", "dci_informativeness_train",
                           "dci_informativeness_test", "factor_vae_train_accuracy",
                           "factor_vae_num_active_dims", "beta_vae_train_accuracy"]:
        assert key in out, key
    for name in metrics.METRIC_NAMES:
        assert out[f"time_{name}"] >= 0
    assert metrics.METRIC_NAMES == ("mig", "modularity", "sap", "factor_vae", "beta_vae",
                                    "dci")


def test_subset_runs_in_paper_order(data):
    # Asking for (dci, mig) runs MIG first: same numbers as MIG then DCI by hand.
    settings = TINY  # DCI's default booster is deterministic
    out = metrics.evaluate_all(data, data.rotated_rep, np.random.RandomState(3),
                               metrics=["dci", "mig"], settings=settings)
    assert set(k for k in out if k.startswith("time_")) == {"time_mig", "time_dci"}
    rs = np.random.RandomState(3)
    mig = metrics.compute_mig(data, data.rotated_rep, rs, **TINY["mig"])
    dci = metrics.compute_dci(data, data.rotated_rep, rs, **settings["dci"])
    assert out["mig"] == mig["discrete_mig"]
    assert out["dci_disentanglement"] == dci["disentanglement"]
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.evaluate_all(data, data.factor_rep, 0, metrics=["irs"])


def test_progress_bars(data, capsys):
    out = metrics.evaluate_all(data, data.factor_rep, 0, settings=TINY, progress=True,
                               metrics=["mig", "factor_vae"])
    assert np.isfinite(out["mig"])
    err = capsys.readouterr().err
    assert "MIG" in err and "FactorVAE" in err


def test_chunking_bounds_call_sizes(data):
    rep = CountingRep(data.factor_rep)
    metrics.compute_factor_vae(data, rep, np.random.RandomState(0), num_train=20,
                               num_eval=10, num_variance_estimate=300, chunk_size=256)
    # Variance estimate: 256 + 44; then 4 points (256 images) per call: 5 + 3 calls.
    assert rep.sizes[:2] == [256, 44]
    assert rep.sizes[2:] == [256] * 5 + [256, 256, 128]


def test_sampling_error_propagates():
    class Broken(SyntheticData):
        calls = 0

        def sample_observations_from_factors(self, factors, random_state):
            Broken.calls += 1
            if Broken.calls > 3:
                raise RuntimeError("disk gone")
            return super().sample_observations_from_factors(factors, random_state)

    data = Broken()
    with pytest.raises(RuntimeError, match="disk gone"):
        metrics.compute_mig(data, data.factor_rep, np.random.RandomState(0), num_train=200)


def test_pipelined_order_and_inline():
    assert list(utils.pipelined(iter(range(50)), prefetch=2)) == list(range(50))
    assert list(utils.pipelined(iter(range(5)), prefetch=0)) == list(range(5))
