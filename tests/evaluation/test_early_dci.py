"""Early DCI: the planned draws are DCI's, the result and the RandomState equal the plain run's,
and a plan that does not hold (FactorVAE finds no active code) is never used."""
import numpy as np
import pytest

import metrics
from evaluation.early_dci import EarlyDci, plan_dci
from evaluation.index_cache import CachedRepresentation, IndexedData
from tests.metrics_fixtures import same_state

SETTINGS = {"mig": {"num_train": 300}, "modularity": {"num_train": 300, "num_test": 100},
            "sap": {"num_train": 300, "num_test": 100},
            "factor_vae": {"num_train": 30, "num_eval": 20, "num_variance_estimate": 300},
            "beta_vae": {"num_train": 30, "num_eval": 20},
            "dci": {"num_train": 200, "num_test": 100}}
ORDER = list(metrics.METRIC_NAMES)


def pixel_sums(observations):
    """Six codes: sums of the pixels in six bands (row by row, so batch-invariant)."""
    obs = np.asarray(observations, np.float32)[..., 0]
    return np.stack([obs[:, 10 * k:10 * k + 10].sum(axis=(1, 2)) for k in range(6)], axis=1)


def constant_code(observations):
    return np.zeros((len(observations), 6), np.float32)


def run(data, representation, early: bool):
    """All six metrics on RandomState(42), DCI early or not: (results, random_state, early_used)."""
    indexed, cached = IndexedData(data), CachedRepresentation(data, representation)
    random_state = np.random.RandomState(42)
    job = None
    if early:
        plan = plan_dci(indexed, random_state, ORDER[:-1], SETTINGS, num_codes=6)
        job = EarlyDci(plan, cached, SETTINGS["dci"]).start()
    results = metrics.evaluate_all(indexed, cached, random_state, metrics=ORDER[:-1], settings=SETTINGS)
    early_result = job.result(random_state) if job else None
    if early_result is None:
        results.update(metrics.evaluate_all(indexed, cached, random_state, metrics=["dci"], settings=SETTINGS))
    else:
        results.update(metrics.flat_results("dci", early_result))
    return ({k: v for k, v in results.items() if not k.startswith("time_")}, random_state,
            early_result is not None)


def test_early_dci_is_dci(tiny_data):
    plain, plain_state, used = run(tiny_data, pixel_sums, early=False)
    fast, fast_state, used_early = run(tiny_data, pixel_sums, early=True)
    assert used_early and not used
    assert fast == plain
    assert same_state(fast_state, plain_state)
    # Not vacuous: DCI sees varied codes, and the RandomState moved through DCI's draws.
    assert 0 < plain["dci_informativeness_train"] <= 1 and plain["factor_vae_num_active_dims"] > 0
    before_dci = np.random.RandomState(42)
    metrics.evaluate_all(IndexedData(tiny_data), CachedRepresentation(tiny_data, pixel_sums), before_dci,
                         metrics=ORDER[:-1], settings=SETTINGS)
    assert not same_state(before_dci, plain_state)


def test_plan_that_fails_is_not_used(tiny_data):
    # Constant codes: FactorVAE returns early (no active code), so the real run reaches DCI with
    # the RandomState elsewhere than the plan, made with stand-in codes, expected.
    indexed, cached = IndexedData(tiny_data), CachedRepresentation(tiny_data, constant_code)
    random_state = np.random.RandomState(42)
    plan = plan_dci(indexed, random_state, ORDER[:-1], SETTINGS, num_codes=6)
    job = EarlyDci(plan, cached, SETTINGS["dci"]).start()
    out = metrics.evaluate_all(indexed, cached, random_state, metrics=ORDER[:-1], settings=SETTINGS)
    assert out["factor_vae_num_active_dims"] == 0
    untouched = np.random.RandomState()
    untouched.set_state(random_state.get_state())
    assert job.result(random_state) is None
    assert same_state(random_state, untouched)
    # ... and the whole run then equals the plain one.
    plain, plain_state, _ = run(tiny_data, constant_code, early=False)
    fast, fast_state, used_early = run(tiny_data, constant_code, early=True)
    assert not used_early and fast == plain and same_state(fast_state, plain_state)


def test_plan_rejects_metrics_after_dci(tiny_data):
    with pytest.raises(ValueError, match="do not run before DCI"):
        plan_dci(IndexedData(tiny_data), np.random.RandomState(0), ["dci"], SETTINGS, num_codes=6)
