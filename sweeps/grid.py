"""A sweep config (TOML) read, checked and expanded into runs: data sets x models x gamma values
x seeds, each a `Config` with its checkpoint and eval JSON paths (scripts/sweep.py)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import configs
from configs import ConfigError
from data import DATASET_NAMES
from evaluation import protocol as eval_protocol
from models.registry import REGISTRY, spec_for

ROOT = Path(__file__).resolve().parent.parent

TOP_KEYS = {"datasets", "models", "gammas", "seeds", "results", "base", "eval", "description"}
EVAL_KEYS = {"fast", "metrics", "seed", "settings"}
# Per-run fields the sweep sets itself (with the flags that select each model); a [base] table
# may not set them.
SWEEP_FIELDS = {"dataset", "gamma", "seed", "save_path"} | {flag for spec in REGISTRY.values() for flag in spec.flags}


class SweepError(ValueError):
    """A sweep config is wrong; the message is one line."""


@dataclasses.dataclass(frozen=True)
class Sweep:
    datasets: tuple
    models: tuple
    gammas: tuple
    seeds: tuple
    base: dict
    eval: dict
    results: str | None = None
    source: str = "sweep"


@dataclasses.dataclass(frozen=True)
class Run:
    config: configs.Config
    eval: dict

    @property
    def name(self) -> str:
        return self.config.run_name

    @property
    def checkpoint(self) -> Path:
        return self.config.checkpoint_path()

    @property
    def eval_json(self) -> Path:
        return self.checkpoint.with_name(self.name + ".eval.json")

    def describe(self) -> str:
        gamma = f" gamma {self.config.gamma:g}" if spec_for(self.config).discriminator else ""
        return f"{self.config.dataset} {self.config.model_name}{gamma} seed {self.config.seed}"


def _list(value, key, where, kind):
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not value:
        raise SweepError(f"{where}: {key} must be a non-empty list")
    for item in value:
        ok = isinstance(item, kind) and not isinstance(item, bool)
        if not ok:
            raise SweepError(f"{where}: {key} has {item!r}, expected {getattr(kind, '__name__', kind)}")
    return tuple(dict.fromkeys(value))


def parse_sweep(values: dict, where: str = "sweep") -> Sweep:
    """A checked Sweep from a TOML table: unknown keys, data sets, models and Config keys refused."""

    unknown = sorted(set(values) - TOP_KEYS)
    if unknown:
        raise SweepError(f"{where}: unknown key(s) {unknown}; valid keys: {sorted(TOP_KEYS)}")
    for key in ("datasets", "models", "seeds"):
        if key not in values:
            raise SweepError(f"{where}: missing key {key!r}")
    datasets = _list(values["datasets"], "datasets", where, str)
    bad = [d for d in datasets if d not in DATASET_NAMES]
    if bad:
        raise SweepError(f"{where}: unknown data set(s) {bad}; expected some of {list(DATASET_NAMES)}")
    models = _list(values["models"], "models", where, str)
    bad = [m for m in models if m not in REGISTRY]
    if bad:
        raise SweepError(f"{where}: unknown model(s) {bad}; expected some of {list(REGISTRY)}")
    seeds = values["seeds"]
    if isinstance(seeds, dict):
        if set(seeds) != {"start", "stop"}:
            raise SweepError(f"{where}: seeds as a table needs exactly start and stop (inclusive)")
        seeds = list(range(int(seeds["start"]), int(seeds["stop"]) + 1))
    seeds = _list(seeds, "seeds", where, int)
    tc_models = [m for m in models if REGISTRY[m].discriminator]
    gammas = ()
    if tc_models:
        if "gammas" not in values:
            raise SweepError(f"{where}: models {tc_models} need a gammas list")
        gammas = tuple(float(g) for g in _list(values["gammas"], "gammas", where, (int, float)))
        if any(g <= 0 for g in gammas):
            raise SweepError(f"{where}: gammas must be positive, got {list(gammas)}")
    base = values.get("base", {})
    if not isinstance(base, dict):
        raise SweepError(f"{where}: [base] must be a table of Config keys")
    clash = sorted(set(base) & SWEEP_FIELDS)
    if clash:
        raise SweepError(f"{where}: [base] may not set {clash}; the sweep sets them per run")
    try:   # with each model's flags: a setting only QLAE reads is checked against QLAE's runs
        for model in models:
            spec = REGISTRY[model]
            configs.from_dict({**base, **spec.config_fields(gammas[0] if spec.discriminator else 0.0)},
                              where=f"{where} [base] ({model})")
    except ConfigError as error:
        raise SweepError(str(error)) from None
    eval_options = values.get("eval", {})
    if not isinstance(eval_options, dict):
        raise SweepError(f"{where}: [eval] must be a table")
    unknown = sorted(set(eval_options) - EVAL_KEYS)
    if unknown:
        raise SweepError(f"{where}: unknown [eval] key(s) {unknown}; valid keys: {sorted(EVAL_KEYS)}")
    try:
        requested_eval(eval_options)
    except ValueError as error:  # evaluation.protocol.EvalError: unknown metric or bad settings
        raise SweepError(f"{where} [eval]: {error}") from None
    results = values.get("results")
    if results is not None and not isinstance(results, str):
        raise SweepError(f"{where}: results must be a folder name")
    return Sweep(datasets, models, gammas, seeds, dict(base), dict(eval_options), results, where)


def load_sweep(path) -> Sweep:
    try:
        values = configs.load_file(path)
    except ConfigError as error:
        raise SweepError(str(error)) from None
    return parse_sweep(values, where=str(path))


def expand(sweep: Sweep, results_dir) -> list[Run]:
    """Every run of the sweep, in the order data set, model, gamma, seed."""
    runs = []
    for dataset in sweep.datasets:
        for model in sweep.models:
            spec = REGISTRY[model]
            for gamma in (sweep.gammas if spec.discriminator else (0.0,)):
                for seed in sweep.seeds:
                    config = configs.from_dict({**sweep.base, **spec.config_fields(gamma), "dataset": dataset,
                                                "seed": seed, "save_path": str(results_dir)}, where=sweep.source)
                    runs.append(Run(config, dict(sweep.eval)))
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise SweepError(f"{sweep.source}: two runs share a checkpoint name")
    return runs


def requested_eval(eval_options: dict) -> dict:
    """What an eval JSON must record to count for these [eval] options: protocol, settings, metrics, seed."""
    metrics = eval_options.get("metrics")
    if isinstance(metrics, str):
        metrics = None if metrics.strip() == "all" else [m.strip() for m in metrics.split(",") if m.strip()]
    names = eval_protocol.parse_metrics(",".join(metrics) if metrics else None)
    settings = eval_protocol.merge_settings(bool(eval_options.get("fast", False)), eval_options.get("settings"))
    protocol = "paper" if eval_protocol.is_paper_protocol(settings) else "custom"
    return {"protocol": protocol, "settings": settings, "metrics": names, "eval_seed": eval_options.get("seed", 42)}
