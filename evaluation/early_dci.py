"""Start DCI's gradient boosting before the metrics ahead of it have run.

DCI is the last of the paper's six metrics and its boosters are the longest single job. Its
draws depend only on where the five metrics before it leave the shared RandomState, and their
random calls do not depend on the codes they see, with one exception: the FactorVAE score
returns early when no code is active. So:

1. `plan_dci` runs the earlier metrics on a *copy* of the RandomState with stand-in codes (a
   fixed random vector per stored image, so every code is active) and then makes DCI's draws,
   recording the storage indices of DCI's train and test points and the RandomState before and
   after them. It needs storage indices as observations (`evaluation.index_cache.IndexedData`).
2. `EarlyDci.start` represents those points with the real representation and fits the boosters
   in a background thread, while the real metrics run.
3. When the real run reaches DCI, `EarlyDci.result(random_state)` checks that the RandomState
   is exactly where the plan said it would be (`get_state()`, every field). Then the early
   numbers are DCI's - the same points, the same codes - and the RandomState is moved to where
   DCI's own draws leave it. Otherwise (no active code in FactorVAE, or anything unforeseen) it
   returns None and DCI must run as usual; the answer is never taken from a wrong plan.
"""
from __future__ import annotations

import threading
import time

import numpy as np

from metrics import dci, evaluate_all, utils

# The metrics that run before DCI, in the paper's order (metrics.METRIC_NAMES without DCI).
_BEFORE_DCI = ("mig", "modularity", "sap", "factor_vae", "beta_vae")


class StandInCodes:
    """indices [n] -> codes [n, num_codes]: a fixed standard-normal vector per stored image."""

    def __init__(self, num_images: int, num_codes: int, seed: int = 0):
        self.table = np.random.RandomState(seed).standard_normal((num_images, num_codes)).astype(np.float32)

    def __call__(self, indices) -> np.ndarray:
        return self.table[np.asarray(indices)]


def _same_state(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b))


class DciPlan:
    """DCI's draws as the paper's protocol will make them, if the plan holds."""

    def __init__(self, state_before, state_after, train, test):
        self.state_before, self.state_after = state_before, state_after
        self.train_indices, self.ys_train = train    # [num_train] storage indices, [factors, num_train]
        self.test_indices, self.ys_test = test


def plan_dci(indexed_data, random_state, metrics_before, settings: dict, num_codes: int) -> DciPlan:
    """Replay the random calls of `metrics_before` and DCI on a copy of `random_state`.

    `indexed_data`: an IndexedData; `metrics_before`: the selected metrics that precede DCI;
    `settings`: {metric: kwargs} as given to the real run (the sample sizes must match).
    """
    unknown = [m for m in metrics_before if m not in _BEFORE_DCI]
    if unknown:
        raise ValueError(f"metrics {unknown} do not run before DCI")
    copy = np.random.RandomState()
    copy.set_state(random_state.get_state())
    stand_in = StandInCodes(indexed_data.data.images.shape[0], num_codes)
    if metrics_before:
        evaluate_all(indexed_data, stand_in, copy, metrics=list(metrics_before), settings=settings)
    state_before = copy.get_state()
    options = settings.get("dci", {})
    indices_train, ys_train, indices_test, ys_test = utils.generate_train_test_codes(
        indexed_data, lambda indices: np.asarray(indices)[:, None], options.get("num_train", 10000),
        options.get("num_test", 5000), copy, options.get("batch_size", 16), False, "DCI plan",
        chunk_size=options.get("chunk_size", utils.DEFAULT_CHUNK_SIZE))
    return DciPlan(state_before, copy.get_state(), (indices_train[0], ys_train),
                   (indices_test[0], ys_test))


class EarlyDci:
    """DCI of a plan, computed in a background thread from the real representation."""

    def __init__(self, plan: DciPlan, representation_function, dci_options: dict | None = None):
        self.plan = plan
        self.representation_function = representation_function
        # Only the options of the fit (sample sizes and batching are the plan's).
        self.options = {k: v for k, v in (dci_options or {}).items()
                        if k in ("n_jobs", "gbt_random_state", "booster")}
        self.seconds = None
        self._box: dict = {}
        self._thread: threading.Thread | None = None

    def _run(self):
        start = time.perf_counter()
        try:
            plan = self.plan
            codes_train = utils.represent(self.representation_function, plan.train_indices).T
            codes_test = utils.represent(self.representation_function, plan.test_indices).T
            self._box["result"] = dci.dci_from_codes(codes_train, plan.ys_train, codes_test,
                                                     plan.ys_test, **self.options)
        except BaseException as error:  # noqa: BLE001 - re-raised by result()
            self._box["error"] = error
        self.seconds = time.perf_counter() - start

    def start(self) -> "EarlyDci":
        self._thread = threading.Thread(target=self._run, name="early-dci", daemon=True)
        self._thread.start()
        return self

    def join(self):
        if self._thread is not None:
            self._thread.join()

    def result(self, random_state) -> dict | None:
        """DCI's result dict if `random_state` is where the plan expected (then advanced past
        DCI's draws), else None (nothing changed; run DCI as usual)."""
        self.join()
        if not _same_state(random_state.get_state(), self.plan.state_before):
            return None
        if "error" in self._box:
            raise self._box["error"]
        random_state.set_state(self.plan.state_after)
        return self._box["result"]


__all__ = ["plan_dci", "EarlyDci", "DciPlan", "StandInCodes"]
