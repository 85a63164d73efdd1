"""UDR of groups of checkpoints, or of their recorded inputs (the library behind scripts/udr.py).

Checkpoints are grouped by everything in their config but the bookkeeping (the seed among it),
and each group is scored on its own with one RandomState(seed); every model gets the content
of its `X.udr.json`.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

import configs
from checkpoints.checkpoint import load_checkpoint
from checkpoints.restore import load_model
from metrics.udr import UdrError, compute_udr_sklearn, sample_representations
from metrics.udr_records import RECORD_SUFFIX, record_path, score_records, write_record
from models.representation import make_udr_function


def udr_path(checkpoint) -> Path:
    """X.pkl (or its record X.udr_codes.npz) -> X.udr.json, next to it."""
    path = Path(checkpoint)
    return path.with_name(path.name.removesuffix(RECORD_SUFFIX).removesuffix(".pkl") + ".udr.json")


def group_key(config) -> tuple:
    """What must be equal for two checkpoints to be compared by UDR: the config without the
    seed and the bookkeeping fields."""
    bookkeeping = configs.fields_with(configs.BOOKKEEPING)
    return tuple(sorted((k, v) for k, v in config.to_dict().items() if k not in bookkeeping))


def score_group(paths: list[Path], seed: int, options: dict, datasets: dict, log=print) -> list[dict]:
    """UDR of one group of checkpoints; returns one record per checkpoint (written as X.udr.json)."""

    functions, data, has_kl = [], None, True
    for path in paths:
        _, _, data, model, params, state, _ = load_model(path, datasets=datasets)
        functions.append(make_udr_function(model, params, state, options["batch_size"]))
        has_kl = has_kl and model.spec.has_kl
    start = time.perf_counter()
    scores = compute_udr_sklearn(data, functions, np.random.RandomState(seed), include_raw_correlations=False,
                                 **options)
    return _per_model(paths, scores, seed, options, time.perf_counter() - start, "checkpoints", log, has_kl)


def _per_model(checkpoints: list[Path], scores: dict, seed: int, settings: dict, seconds: float, what: str, log,
               has_kl: bool, records: list[Path] | None = None) -> list[dict]:
    """The X.udr.json content of each model of a scored group (logged in one line); `has_kl`:
    whether the models have a KL (so whether the KL filter could apply); `records`: the record
    each was scored from."""
    names = [p.name for p in checkpoints]
    # A model without a KL (QLAE) is scored without the KL filter: said in the log and the record.
    filtered = settings.get("filter_low_kl", True) and has_kl
    log(f"UDR of {len(names)} {what} ({seconds:.1f} s{'' if has_kl else ', no KL filter: the models have no KL'}): "
        + ", ".join(f"{n} {s:.4f}" for n, s in zip(names, scores["model_scores"])))
    return [{"checkpoint": str(path), **({"record": str(records[i])} if records else {}), "udr": score,
             "kl_filter": "applied" if filtered else ("not applied: the model has no KL" if not has_kl
                                                      else "not applied (--no_filter)"),
             "group": names, "index_in_group": i,
             "pairwise_disentanglement_scores": scores["pairwise_disentanglement_scores"],
             "udr_seed": seed, "settings": settings, "seconds": seconds}
            for i, (path, score) in enumerate(zip(checkpoints, scores["model_scores"]))]


def record_checkpoint(path: Path, seed: int, options: dict, datasets: dict) -> Path:
    """One checkpoint's codes and KL on UDR's draw from RandomState(seed), as X.udr_codes.npz."""
    _, config, data, model, params, state, _ = load_model(path, datasets=datasets)
    random_state = np.random.RandomState(seed)
    (codes,), (kl,) = sample_representations(data, [make_udr_function(model, params, state, options["batch_size"])],
                                             random_state, options["batch_size"], options["num_data_points"])
    header = {"checkpoint": path.name, "config": config.to_dict(), "udr_seed": seed,
              "batch_size": options["batch_size"], "num_data_points": options["num_data_points"]}
    return write_record(record_path(path), codes, kl, random_state, header)


def score_record_group(paths: list[Path], records: list[dict], options: dict, log=print) -> list[dict]:
    """UDR of one group of recorded models; one record per model (written as X.udr.json)."""
    start = time.perf_counter()
    scores = score_records(records, options["correlation_matrix"], options["filter_low_kl"],
                           options["kl_filter_threshold"])
    header = records[0]["header"]
    settings = {**options, "batch_size": header["batch_size"], "num_data_points": header["num_data_points"]}
    checkpoints = [path.with_name(r["header"]["checkpoint"]) for path, r in zip(paths, records)]
    return _per_model(checkpoints, scores, header["udr_seed"], settings, time.perf_counter() - start,
                      "recorded models", log, all(r["kl"] is not None for r in records), records=paths)


def group_paths(paths: list[Path], records: dict | None = None) -> list[list[Path]]:
    """Checkpoints (or, with `records` {path: record}, recorded models) grouped by `group_key`;
    a one-line UdrError when a setting has fewer than two members."""
    groups: dict = {}
    for path in paths:
        raw = records[path]["header"]["config"] if records else load_checkpoint(path)["config"]
        groups.setdefault(group_key(configs.from_dict(raw, where=str(path))), []).append(path)
    alone = [str(p[0]) for p in groups.values() if len(p) < 2]
    if alone:
        raise UdrError(f"UDR compares models trained with the same settings; {alone[0]} has no partner "
                       f"(give at least two seeds of each setting)")
    return list(groups.values())
