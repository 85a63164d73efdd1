"""Disentanglement metrics with disentanglement_lib's numbers, batched for speed.

Each `compute_*` makes exactly the `random_state` calls disentanglement_lib makes, in the same
order, so a shared `numpy.random.RandomState` passed from metric to metric ends where the
reference leaves it; only the (deterministic) representation function is called on larger
batches. See docs/metrics.md.
"""
from __future__ import annotations

import time

import numpy as np

from metrics import beta_vae, dci, factor_vae, mig, modularity, sap, utils
from metrics.beta_vae import compute_beta_vae
from metrics.dci import compute_dci
from metrics.factor_vae import compute_factor_vae
from metrics.mig import compute_mig
from metrics.modularity import compute_modularity
from metrics.sap import compute_sap

# The paper's order (eval.py); each metric continues the previous one's random_state.
METRIC_NAMES = ("mig", "modularity", "sap", "factor_vae", "beta_vae", "dci")

_COMPUTE = {
    "mig": compute_mig,
    "modularity": compute_modularity,
    "sap": compute_sap,
    "factor_vae": compute_factor_vae,
    "beta_vae": compute_beta_vae,
    "dci": compute_dci,
}

# Result key of each metric -> flat key in `evaluate_all`'s dict.
_FLAT_KEYS = {
    "mig": {"discrete_mig": "mig"},
    "modularity": {"modularity_score": "modularity"},
    "sap": {"SAP_score": "sap_score"},
    "factor_vae": {"eval_accuracy": "factor_vae_metric",
                   "train_accuracy": "factor_vae_train_accuracy",
                   "num_active_dims": "factor_vae_num_active_dims"},
    "beta_vae": {"eval_accuracy": "beta_vae_sklearn",
                 "train_accuracy": "beta_vae_train_accuracy"},
    "dci": {"disentanglement": "dci_disentanglement",
            "completeness": "dci_completeness",
            "informativeness_train": "dci_informativeness_train",
            "informativeness_test": "dci_informativeness_test"},
}


def evaluate_all(ground_truth_data, representation_function, random_state,
                 metrics=None, progress: bool = False, settings: dict | None = None) -> dict:
    """Run the selected metrics in the paper's order on ONE RandomState; a flat result dict.

    `random_state`: a `numpy.random.RandomState` (eval.py uses RandomState(42)) or an int seed.
    `metrics`: names from METRIC_NAMES (default all); they always run in the paper's order.
    `settings`: optional {metric: {kwarg: value}} overrides of the paper's settings (tests).
    Returns keys `mig`, `modularity`, `sap_score`, `factor_vae_metric`, `beta_vae_sklearn`,
    `dci_disentanglement`, the sub-scores, and `time_<metric>` (seconds) per metric run.
    """
    if not isinstance(random_state, np.random.RandomState):
        random_state = np.random.RandomState(random_state)
    selected = METRIC_NAMES if metrics is None else tuple(metrics)
    unknown = [m for m in selected if m not in _COMPUTE]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; expected some of {list(METRIC_NAMES)}")
    settings = settings or {}
    out: dict = {}
    for name in METRIC_NAMES:
        if name not in selected:
            continue
        start = time.perf_counter()
        result = _COMPUTE[name](ground_truth_data, representation_function, random_state,
                                progress=progress, **settings.get(name, {}))
        out[f"time_{name}"] = time.perf_counter() - start
        out.update(flat_results(name, result))
    return out


def setting_keywords(name: str) -> set[str]:
    """The keywords of `compute_<name>` that a setting may override (not the data, the
    representation function, the random state or `progress`)."""
    import inspect
    fixed = {"ground_truth_data", "representation_function", "random_state", "progress"}
    return set(inspect.signature(_COMPUTE[name]).parameters) - fixed


def solver_settings() -> dict:
    """The estimator settings the SAP and BetaVAE numbers correspond to (for result files)."""
    return {"matches": "scikit-learn 1.2.2 (the authors' pinned version)",
            "sap": sap.SOLVER, "beta_vae": beta_vae.SOLVER}


def flat_results(name: str, result: dict) -> dict:
    """`compute_<name>`'s result dict -> `evaluate_all`'s flat keys (e.g. `dci_disentanglement`)."""
    return {flat: result[key] for key, flat in _FLAT_KEYS[name].items()}


__all__ = [
    "METRIC_NAMES",
    "evaluate_all",
    "flat_results",
    "setting_keywords",
    "solver_settings",
    "compute_mig",
    "compute_modularity",
    "compute_sap",
    "compute_factor_vae",
    "compute_beta_vae",
    "compute_dci",
    "mig",
    "modularity",
    "sap",
    "factor_vae",
    "beta_vae",
    "dci",
    "utils",
]
