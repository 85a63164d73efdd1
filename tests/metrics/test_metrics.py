"""metrics (the package: evaluate_all): keys, subsets and their order, progress bars."""
import time

import numpy as np
import pytest

import metrics
from tests.metrics_fixtures import SyntheticData

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
    start = time.perf_counter()
    out = metrics.evaluate_all(data, data.factor_rep, 42, settings=TINY)
    elapsed = time.perf_counter() - start
    for key in REPORTED + ["dci_completeness", "dci_informativeness_train",
                           "dci_informativeness_test", "factor_vae_train_accuracy",
                           "factor_vae_num_active_dims", "beta_vae_train_accuracy"]:
        assert key in out, key
    # Seconds of each metric's own run: the metrics run one after another inside the call.
    assert all(out[f"time_{name}"] > 0 for name in metrics.METRIC_NAMES)
    assert sum(out[f"time_{name}"] for name in metrics.METRIC_NAMES) <= elapsed
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
