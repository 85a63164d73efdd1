"""Reading (and, without eval.py, writing) the per-checkpoint result files `X.eval.json`.

The layout is eval.py's (eval branch): top-level `dataset`, `model`, `gamma`, `seed`, `step`,
`protocol`, and the metric values under `results` (`mig`, `modularity`, `sap_score`,
`factor_vae_metric`, `beta_vae_sklearn`, `dci_disentanglement`, sub-scores, `st_gap` for
discrete models). `read_result` is the one place that knows it; a flat file (metric values at
the top level) is accepted too.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

# The paper's headline metrics, in table order, with their display names.
METRICS = {
    "mig": "MIG",
    "modularity": "Modularity",
    "sap_score": "SAP",
    "factor_vae_metric": "FactorVAE score",
    "beta_vae_sklearn": "BetaVAE score",
    "dci_disentanglement": "DCI disentanglement",
}
MODEL_NAMES = {"vae": "VAE", "dvae": "D-VAE", "factor_vae": "FactorVAE", "factor_dvae": "FactorDVAE"}
DISCRETE = ("dvae", "factor_dvae")


class ResultError(ValueError):
    """A result file cannot be read; the message is one line."""


def result_path(checkpoint) -> Path:
    """X.pkl -> X.eval.json (eval.py's naming)."""
    path = Path(checkpoint)
    stem = path.name[:-4] if path.name.endswith(".pkl") else path.name
    return path.with_name(stem + ".eval.json")


def _number(value):
    if value is None or isinstance(value, bool):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def read_result(path) -> dict:
    """One eval JSON -> {path, dataset, model, gamma, seed, step, protocol, values, missing}.

    `values` maps each headline metric (and `st_gap`) to a float, or None when absent/NaN;
    `missing` names the expected keys that are absent or not numbers.
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
    if raw["model"] not in MODEL_NAMES:
        raise ResultError(f"{path}: unknown model {raw['model']!r}")
    scores = raw.get("results", raw)
    if not isinstance(scores, dict):
        raise ResultError(f"{path}: 'results' is not an object")
    keys = list(METRICS) + (["st_gap"] if raw["model"] in DISCRETE else [])
    values = {k: _number(scores.get(k)) for k in keys}
    tc = raw["model"].startswith("factor_")
    return {
        "path": str(path),
        "dataset": raw["dataset"],
        "model": raw["model"],
        "gamma": float(raw.get("gamma") or 0.0) if tc else None,
        "seed": raw.get("seed"),
        "step": raw.get("step"),
        "protocol": raw.get("protocol", "unknown"),
        "values": values,
        "missing": [k for k in keys if values[k] is None],
    }


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


# -- the fallback evaluator (same layout as eval.py) ----------------------------------------
FAST_SETTINGS = {
    "mig": {"num_train": 1000},
    "modularity": {"num_train": 1000, "num_test": 500},
    "sap": {"num_train": 1000, "num_test": 500},
    "factor_vae": {"num_train": 200, "num_eval": 100, "num_variance_estimate": 1000},
    "beta_vae": {"num_train": 200, "num_eval": 100},
    "dci": {"num_train": 1000, "num_test": 500},
    "st_gap": {"num_batches": 20},
}


def load_checkpoint_model(path, data=None):
    """(payload, config, data, model, params, state, params_disc) from a checkpoint, no optimiser."""
    import jax.numpy as jnp

    import configs
    from data import get_dataset
    from models import build_model
    from training.checkpoint import load_checkpoint

    payload = load_checkpoint(path)
    config = configs.from_dict(payload["config"], where=str(path))
    data = data if data is not None else get_dataset(config.dataset)
    model = build_model(config, data.observation_shape[-1])
    tree = lambda t: None if t is None else __import__("jax").tree_util.tree_map(jnp.asarray, t)
    params_disc = tree(payload.get("params_disc")) if config.tc else None
    return payload, config, data, model, tree(payload["params"]), tree(payload["state"]), params_disc


def straight_through_gap(model, params, state, params_disc, data, seed=42, num_batches=1000, batch_size=64):
    """SPEC §4: noise scale 0; |mean hard loss - mean soft loss| over `num_batches` batches."""
    import jax

    from models import set_gumbel_state

    soft_state = set_gumbel_state(state, scale=0.0, hard=False)
    hard_state = set_gumbel_state(state, scale=0.0, hard=True)
    loss = jax.jit(lambda s, x: model.loss(params, s, params_disc, jax.random.PRNGKey(0), x)[0])
    rs = np.random.RandomState(seed)
    soft, hard = [], []
    for _ in range(num_batches):
        x = np.asarray(data.sample_observations(batch_size, rs), np.float32)
        soft.append(float(loss(soft_state, x)))
        hard.append(float(loss(hard_state, x)))
    return {"st_gap": abs(np.mean(hard) - np.mean(soft)), "st_loss_hard": float(np.mean(hard)),
            "st_loss_soft": float(np.mean(soft))}


def fallback_evaluate(path, data=None, metrics=None, seed=42, settings=None, fast=False, progress=False,
                      log=print, write=True) -> dict:
    """eval.py's JSON layout from `metrics.evaluate_all` and `straight_through_gap` (used when
    eval.py is not importable). Gap batches come from numpy RandomState(seed)."""
    import metrics as metrics_lib
    from models.representation import make_representation_function

    started = time.perf_counter()
    merged = {k: dict(v) for k, v in (FAST_SETTINGS.items() if fast else ())}
    for name, values in (settings or {}).items():
        merged.setdefault(name, {}).update(values)
    names = list(metrics) if metrics else list(metrics_lib.METRIC_NAMES) + ["st_gap"]
    payload, config, data, model, params, state, params_disc = load_checkpoint_model(path, data)
    represent = make_representation_function(model, params, state)
    chosen = [n for n in metrics_lib.METRIC_NAMES if n in names]
    results = metrics_lib.evaluate_all(data, represent, np.random.RandomState(seed), metrics=chosen,
                                       progress=progress,
                                       settings={k: v for k, v in merged.items() if k in metrics_lib.METRIC_NAMES})
    times = {k[5:]: results.pop(k) for k in list(results) if k.startswith("time_")}
    if "st_gap" in names and not config.gaussian:
        results.update(straight_through_gap(model, params, state, params_disc, data, seed=seed,
                                            **merged.get("st_gap", {})))
    times["total"] = time.perf_counter() - started
    result = {
        "format_version": 1, "checkpoint": str(path), "dataset": config.dataset, "model": config.model_name,
        "gamma": config.gamma, "seed": config.seed, "step": int(payload.get("step", -1)),
        "config": config.to_dict(), "eval_seed": seed,
        "protocol": "paper" if not merged else "custom", "settings": merged, "metrics": names,
        "results": {k: (float(v) if v is not None else None) for k, v in results.items()},
        "times": times, "evaluator": "scripts/results.py fallback",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    log("  " + " ".join(f"{k} {v:.4f}" for k, v in result["results"].items() if v is not None))
    if write:
        out = result_path(path)
        temp = out.with_name(out.name + ".tmp")
        temp.write_text(json.dumps(result, indent=2, allow_nan=False, default=float) + "\n")
        temp.replace(out)
        result["json"] = str(out)
    return result
