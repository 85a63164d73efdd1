"""The evaluation protocol of the paper (docs/design.md §8) as data: which metrics, in which order, with
which settings, and where the result of a checkpoint is written.

`evaluation.evaluate.evaluate_checkpoint` runs it; eval.py, scripts/sweep.py, the tables
and the benchmarks read these names and rules from here.
"""
from __future__ import annotations

from pathlib import Path

import metrics as metrics_lib
from metrics.elbo import compute_elbo
from metrics.reconstruction import compute_reconstruction
from metrics.st_gap import compute_st_gap

# InfoMEC comes last: its sample is drawn from its own RandomState, after everything else.
METRIC_CHOICES = metrics_lib.METRIC_NAMES + ("st_gap", "elbo", "reconstruction", "infomec")
# Computed by the project's own model code, not by the disentanglement_lib metrics. Each runs
# for the models whose registry entry lists it among its scores (the gap: the Gumbel-softmax
# latent; the ELBO: latents with a prior; the reconstruction: QLAE, which has no ELBO).
UNSUPERVISED = ("st_gap", "elbo", "reconstruction")
# Why an unsupervised score was not computed for a model (the eval JSON's `<name>_note`).
NOT_DEFINED = {
    "st_gap": "not defined: it needs the Gumbel-softmax latent (D-VAE, FactorDVAE)",
    "elbo": "not defined for a latent without a prior (no KL): see the reconstruction score",
    "reconstruction": "recorded for models without an ELBO (QLAE); elbo_recon is the same images' reconstruction",
}
# InfoMEC's sample (and the codes record's): evaluation/codes_record.py.
INFOMEC_POINTS = 10_000
RESULT_FORMAT = 1

# Reduced settings for smoke tests (--fast): NOT the paper's protocol.
FAST_SETTINGS = {
    "mig": {"num_train": 1000},
    "modularity": {"num_train": 1000, "num_test": 500},
    "sap": {"num_train": 1000, "num_test": 500},
    "factor_vae": {"num_train": 200, "num_eval": 100, "num_variance_estimate": 1000},
    "beta_vae": {"num_train": 200, "num_eval": 100},
    "dci": {"num_train": 1000, "num_test": 500},
    "st_gap": {"num_batches": 20},
    "elbo": {"num_batches": 5},
    "reconstruction": {"num_batches": 5},
    "infomec": {"num_points": 1000},
}

# Flat result keys of each metric (evaluate_all's, plus the gap's), in table order.
RESULT_KEYS = {
    "mig": ["mig"],
    "modularity": ["modularity"],
    "sap": ["sap_score"],
    "factor_vae": ["factor_vae_metric", "factor_vae_train_accuracy", "factor_vae_num_active_dims"],
    "beta_vae": ["beta_vae_sklearn", "beta_vae_train_accuracy"],
    "dci": ["dci_disentanglement", "dci_completeness", "dci_informativeness_train",
            "dci_informativeness_test"],
    "st_gap": ["st_gap", "st_loss_hard", "st_loss_soft"],
    "elbo": ["elbo", "elbo_recon", "elbo_kl"],
    "reconstruction": ["recon_loss", "recon_loss_per_image"],
    # Plus infom_argmax, infoe_argmax, infoc_argmax for a categorical latent (its argmax codes).
    "infomec": ["infom", "infoe", "infoc"],
}


class EvalError(ValueError):
    """Bad evaluation input (metric names, settings); the message is one line."""


# -- small helpers --------------------------------------------------------------------------
def parse_metrics(text: str | None) -> list[str]:
    """'mig,dci' -> ['mig', 'dci'] (checked); None or 'all' -> every metric plus the unsupervised
    scores and InfoMEC."""
    if text is None or text.strip() == "all":
        return list(METRIC_CHOICES)
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [n for n in names if n not in METRIC_CHOICES]
    if unknown or not names:
        raise EvalError(f"unknown metric name(s) {unknown or [text]}; choose from {','.join(METRIC_CHOICES)}")
    return [n for n in METRIC_CHOICES if n in names]  # the paper's order


def result_path(checkpoint_path) -> Path:
    """X.pkl -> X.eval.json (next to the checkpoint)."""
    path = Path(checkpoint_path)
    stem = path.name[:-4] if path.name.endswith(".pkl") else path.name
    return path.with_name(stem + ".eval.json")


def merge_settings(fast: bool, overrides: dict | None) -> dict:
    """FAST_SETTINGS (with `fast`) updated by `overrides`; every metric name and keyword checked
    against its function's signature, so a typo stops an evaluation before any work."""
    settings = {k: dict(v) for k, v in (FAST_SETTINGS.items() if fast else ())}
    for name, values in (overrides or {}).items():
        if name not in METRIC_CHOICES:
            raise EvalError(f"--settings: unknown metric {name!r}; choose from {','.join(METRIC_CHOICES)}")
        if not isinstance(values, dict):
            raise EvalError(f"--settings: the value for {name!r} must be an object of keyword arguments")
        allowed = _setting_keywords(name)
        unknown = sorted(set(values) - allowed)
        if unknown:
            raise EvalError(f"--settings: {name} has no keyword(s) {unknown}; valid: {', '.join(sorted(allowed))}")
        settings.setdefault(name, {}).update(values)
    return settings


def _setting_keywords(name: str) -> set[str]:
    if name == "infomec":
        return {"num_points"}
    if name not in UNSUPERVISED:
        return metrics_lib.setting_keywords(name)
    import inspect

    # The model, its parameters and the data come from the checkpoint; the seed is --seed.
    fixed = {"model", "params", "state", "params_disc", "data", "seed", "progress", "step", "pixel_scale"}
    function = {"st_gap": compute_st_gap, "elbo": compute_elbo, "reconstruction": compute_reconstruction}[name]
    return set(inspect.signature(function).parameters) - fixed


# Keywords that change speed only, never a number.
# (DCI's `booster` changes only how equally good splits are chosen, as sklearn's own runs do.)
SPEED_ONLY = {"chunk_size", "n_jobs", "booster", "batches_per_call"}


def is_paper_protocol(settings: dict) -> bool:
    """Whether `settings` leave every sample size and setting of docs/design.md §8 as it is."""
    return all(set(values) <= SPEED_ONLY for values in settings.values())
