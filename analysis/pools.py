"""The pools of runs a user selects among, and the settings inside each: one pool per latent
type (its settings: one per gamma, gamma 0 the model without TC), and, where QLAE's runs stand
beside the VAE family, two pools across latent types ('all discrete': D-VAE, FactorDVAE, QLAE;
'all runs': every model), whose settings are one model at one gamma each (D-VAE and QLAE both
train at gamma 0, so gamma alone no longer names a setting). The training budget is the third
part of a setting; analysis/study.py splits the records by it before any pool is formed.

Why the pools across latent types and the reconstruction rule wait for a QLAE run: they exist
to judge QLAE's runs beside the VAE family's on one footing (the reconstruction per image,
analysis/results.py, is the one unsupervised score every model has). A study without QLAE (the
10,000-step study of docs/study) keeps the tables it has committed, byte for byte, though its
runs record `elbo_recon`; its own pools are the latent types, as before.
"""
from __future__ import annotations

from analysis.results import MODEL_NAMES
from models.registry import REGISTRY

# The latent types, each with its models in registry order: (("Gaussian", ("vae", "factor_vae")),
# ("discrete", ("dvae", "factor_dvae")), ("quantized", ("qlae",))).
LATENTS = tuple((latent.LABEL, tuple(name for name, spec in REGISTRY.items() if spec.latent is latent))
                for latent in dict.fromkeys(spec.latent for spec in REGISTRY.values()))
# The model whose runs bring in the pools across latent types and the reconstruction rule.
CROSS_FAMILY = "qlae"
CROSS_POOLS = {
    "all discrete": tuple(name for name, spec in REGISTRY.items() if spec.discrete),
    "all runs": tuple(REGISTRY),
}
# The rule that needs a QLAE run (analysis/selection.py's RULES key).
CROSS_RULES = ("recon_image",)


def by_gamma(runs: list[dict]) -> dict:
    """{gamma: runs}, the models without TC at gamma 0."""
    groups: dict = {}
    for r in runs:
        groups.setdefault(r["gamma"] or 0.0, []).append(r)
    return dict(sorted(groups.items()))


def setting_label(model: str, gamma) -> str:
    """'D-VAE', 'FactorDVAE γ=10': one model at one gamma."""
    return MODEL_NAMES[model] + ("" if gamma is None else f" γ={gamma:g}")


def settings_of(runs: list[dict]) -> list[tuple]:
    """[(model, gamma)] of the runs: models in registry order, gamma ascending."""
    return sorted({(r["model"], r["gamma"]) for r in runs}, key=lambda s: (list(REGISTRY).index(s[0]), s[1] or 0.0))


def by_setting(runs: list[dict]) -> dict:
    """{setting label: runs}, in the order of `settings_of`."""
    return {setting_label(m, g): [r for r in runs if (r["model"], r["gamma"]) == (m, g)] for m, g in settings_of(runs)}


def cross_family(records: list[dict]) -> bool:
    """Whether the records hold a QLAE run (the gate of the cross-family pools and rule)."""
    return any(r["model"] == CROSS_FAMILY for r in records)


def pools(records: list[dict], dataset: str) -> list[tuple[str, list[dict], dict]]:
    """[(pool, runs, {setting: runs})] of one data set: each latent type with runs (settings by
    gamma), then with a QLAE run the pools across latent types (settings by model and gamma),
    each only when it spans more than one latent type and differs from the pool before it."""
    rows = [r for r in records if r["dataset"] == dataset]
    out = []
    for latent, models in LATENTS:
        runs = [r for r in rows if r["model"] in models]
        if runs:
            out.append((latent, runs, by_gamma(runs)))
    if not cross_family(rows):
        return out
    latent_of = {m: latent for latent, models in LATENTS for m in models}
    for pool, models in CROSS_POOLS.items():
        runs = [r for r in rows if r["model"] in models]
        if len({latent_of[r["model"]] for r in runs}) > 1 and runs != out[-1][1]:
            out.append((pool, runs, by_setting(runs)))
    return out


# A rule the pools across latent types leave out: QLAE's loss per pixel ranks only QLAE's runs,
# in the same order as the reconstruction per image (the same sum divided by the pixels).
QLAE_ONLY_RULES = ("recon_loss",)


def rules_for(runs: list[dict], records: list[dict], rules: dict, pool: str = "") -> list[str]:
    """The rules of `rules` ({rule: (score key, sign)}) that some run of `runs` has a score
    for; the cross-family rules only when `records` hold a QLAE run; in a pool across latent
    types (`pool` in CROSS_POOLS) not the QLAE-only ones."""
    return [rule for rule, (key, _) in rules.items()
            if any(r["values"].get(key) is not None for r in runs)
            and (rule not in CROSS_RULES or cross_family(records))
            and not (pool in CROSS_POOLS and rule in QLAE_ONLY_RULES)]
