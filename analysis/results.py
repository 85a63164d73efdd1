"""Reading the per-checkpoint result files `X.eval.json` into records for the tables.

The layout is eval.py's: top-level `dataset`, `model`, `gamma`, `seed`, `step`,
`protocol`, `config` (its `steps`: the training budget), and the metric values under `results`
(`mig`, `modularity`, `sap_score`, `factor_vae_metric`, `beta_vae_sklearn`,
`dci_disentanglement`, sub-scores, `st_gap` for the Gumbel-softmax models, `elbo`,
`elbo_recon` for the models with a prior, `recon_loss`, `recon_loss_per_image` for QLAE, and in
later files InfoMEC: `infom`, `infoe`, `infoc`, and `*_argmax` for a categorical latent).
`read_result` is the one place that knows it; a flat file (metric values at the top level) is
accepted too.

The reconstruction per image (`recon_image`, nats) puts every model on one footing:
`elbo_recon` for a model with a prior (metrics/elbo.py), `recon_loss_per_image` for QLAE
(metrics/reconstruction.py). Both are `losses.bernoulli_reconstruction` (sigmoid cross-entropy
summed over an image's pixels) of the decoder's output on the same fixed images (one
`metrics.elbo.fixed_batches` sample: the same eval seed, number and size of batches give the
same images and the same observation keys), through the forward pass of training with the
same key (`fold_in(index key, 1)`). What differs is the code the decoder sees, each model's own
training sample: the VAE family's is random (a reparameterised Gaussian draw, or the relaxed
Gumbel-softmax sample at the checkpoint's noise scale), so its term is a one-sample estimate of
E_q[-log p(x | z)]; QLAE's quantized code is deterministic. The same quantity, each model's
reconstruction term as it trains, not the reconstruction of one deterministic code.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from evaluation.protocol import result_path
from models.registry import REGISTRY

# The paper's headline metrics, in table order, with their display names.
METRICS = {
    "mig": "MIG",
    "modularity": "Modularity",
    "sap_score": "SAP",
    "factor_vae_metric": "FactorVAE score",
    "beta_vae_sklearn": "BetaVAE score",
    "dci_disentanglement": "DCI disentanglement",
}
# InfoMEC (metrics/infomec.py), recorded by later versions of eval.py for every model: scores
# beside the six metrics wherever a record has them, never "missing" in older files.
INFOMEC = {"infom": "InfoM", "infoe": "InfoE", "infoc": "InfoC"}
# The same on the argmax codes of a categorical latent (D-VAE, FactorDVAE): a column of the runs.
INFOMEC_ARGMAX = {f"{key}_argmax": f"{name} (argmax)" for key, name in INFOMEC.items()}
# Every score a table can show, with its display name.
NAMES = {**METRICS, **INFOMEC, **INFOMEC_ARGMAX}
# Unsupervised selection scores recorded by later versions of eval.py (metrics/elbo.py, UDR,
# metrics/reconstruction.py), and InfoMEC.
OPTIONAL_SCORES = ("elbo", "udr", "recon_loss", "elbo_recon", "recon_loss_per_image", *INFOMEC, *INFOMEC_ARGMAX)
# The models of the registry, in its order: display names, the discrete ones, those with the
# straight-through gap (the Gumbel-softmax latent), figure colours.
MODEL_NAMES = {name: spec.display_name for name, spec in REGISTRY.items()}
DISCRETE = tuple(name for name, spec in REGISTRY.items() if spec.discrete)
GUMBEL = tuple(name for name, spec in REGISTRY.items() if spec.gumbel)
COLOURS = {name: spec.colour for name, spec in REGISTRY.items()}
# The score key each unsupervised score of a registry entry is recorded under.
SCORE_KEYS = {"st_gap": "st_gap", "reconstruction": "recon_loss"}


class ResultError(ValueError):
    """A result file cannot be read; the message is one line."""


def _number(value):
    if value is None or isinstance(value, bool):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def read_result(path) -> dict:
    """One eval JSON -> {path, dataset, model, gamma, seed, step, budget, protocol, values, missing}.

    `values` maps each headline metric (and `st_gap`, `elbo`, `udr`, `recon_loss`, the
    reconstruction terms, `recon_image`, InfoMEC) to a float, or None when absent/NaN;
    `missing` names the expected keys that are absent or not numbers (never the optional
    scores). `budget`: the run's training steps (`config.steps`, else `step`; None without either).
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ResultError(f"{path}: not readable JSON ({type(error).__name__}: {error})") from None
    if not isinstance(raw, dict):
        raise ResultError(f"{path}: expected a JSON object")
    for key in ("dataset", "model"):
        if not isinstance(raw.get(key), str):
            raise ResultError(f"{path}: no {key!r} field")
    if raw["model"] not in REGISTRY:
        raise ResultError(f"{path}: unknown model {raw['model']!r}")
    scores = raw.get("results", raw)
    if not isinstance(scores, dict):
        raise ResultError(f"{path}: 'results' is not an object")
    spec = REGISTRY[raw["model"]]
    # The headline metrics, and the gap or the reconstruction score where the entry has one.
    keys = list(METRICS) + [SCORE_KEYS[s] for s in spec.scores if s in SCORE_KEYS]
    values = {k: _number(scores.get(k)) for k in keys}
    # Selection scores that older result files lack: read when present, never "missing".
    values.update({k: _number(scores.get(k)) for k in OPTIONAL_SCORES})
    if values["udr"] is None:
        values["udr"] = _udr_beside(path)
    values["recon_image"] = values["elbo_recon" if spec.has_kl else "recon_loss_per_image"]
    return {
        "path": str(path),
        "dataset": raw["dataset"],
        "model": raw["model"],
        "gamma": float(raw.get("gamma") or 0.0) if spec.discriminator else None,
        "seed": raw.get("seed"),
        "step": raw.get("step"),
        "budget": _budget(raw),
        "protocol": raw.get("protocol", "unknown"),
        "values": values,
        "missing": [k for k in keys if values[k] is None],
    }


def _budget(raw: dict) -> int | None:
    """The training steps of the run: its config's `steps`, else the checkpoint's `step`."""
    config = raw.get("config")
    steps = config.get("steps") if isinstance(config, dict) else None
    for value in (steps, raw.get("step")):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return int(value)
    return None


def score_names(records: list[dict]) -> dict:
    """{key: display name} of the scores a table shows for `records`: the six metrics always,
    and each InfoMEC score where at least one record has it (so older studies show none)."""
    present = {k: name for k, name in INFOMEC.items() if any(r["values"].get(k) is not None for r in records)}
    return {**METRICS, **present}


def _udr_beside(eval_json: Path):
    """The UDR score scripts/udr.py wrote next to the run (`X.udr.json`), or None."""
    sibling = eval_json.with_name(eval_json.name.replace(".eval.json", ".udr.json"))
    try:
        return _number(json.loads(sibling.read_text()).get("udr"))
    except (OSError, ValueError, AttributeError):
        return None


def gather(results_dir) -> tuple[list[dict], list[str]]:
    """Every `*.eval.json` under `results_dir` (recursively) and the list of problems.

    Problems (listed, never silently dropped): unreadable files, files missing a metric,
    checkpoints without an eval JSON, results not computed with the paper's protocol.
    """
    root = Path(results_dir)
    if not root.is_dir():
        raise ResultError(f"no results folder {root}")
    records, problems = [], []
    for path in sorted(root.rglob("*.eval.json")):
        try:
            record = read_result(path)
        except ResultError as error:
            problems.append(f"unreadable: {error}")
            continue
        if record["missing"]:
            problems.append(f"partial: {path} lacks {', '.join(record['missing'])}")
        if record["protocol"] not in ("paper",):
            problems.append(f"protocol: {path} was evaluated with the {record['protocol']!r} protocol "
                            f"(not the paper's sample sizes)")
        records.append(record)
    for checkpoint in sorted(root.rglob("*.pkl")):
        if not result_path(checkpoint).is_file():
            problems.append(f"not evaluated: {checkpoint} has no {result_path(checkpoint).name}")
    return records, problems
