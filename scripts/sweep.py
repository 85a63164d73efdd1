"""Expand a sweep config (data sets x models x gamma values x seeds) into runs and execute them.

    python scripts/sweep.py configs/sweep_smoke.toml --dry_run
    python scripts/sweep.py configs/sweep_smoke.toml --results results/smoke
    python scripts/sweep.py configs/sweep_paper.toml --results /scratch/lddr --executor slurm \
        --slurm_partition gpu --timeout_min 1440 --gpus_per_node 1 --array_parallelism 64

Each run trains (`training.loop.train`, resuming a partial checkpoint) and then evaluates
(`eval.evaluate_checkpoint`, the code behind `python eval.py`). A run whose finished checkpoint `{run_name}.pkl` and
`{run_name}.eval.json` both exist is skipped; one with a finished checkpoint only is
evaluated; one with a partial checkpoint resumes. Everything goes into the results folder.

Sweep config (TOML), keys:
  datasets = [...]          names from data.DATASET_NAMES (checked before any run starts)
  models   = [...]          vae, dvae, factor_vae, factor_dvae
  gammas   = [...]          TC weights for factor_vae / factor_dvae (vae/dvae have none)
  seeds    = [...]          or {start = 1, stop = 10} (inclusive)
  results  = "results/x"    default results folder (the --results flag wins)
  [base]                    Config overrides for every run (steps, batch_size, save_every, ...)
  [eval]                    fast = bool, metrics = "all" | "mig,dci,st_gap", seed = 42,
                            settings = {metric = {kwarg = value}} (changes the protocol)
Unknown keys, data sets or models stop the sweep with a one-line message.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `python scripts/sweep.py` from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import configs
from configs import ConfigError

MODELS = {  # model name -> (gaussian, tc)
    "vae": (True, False),
    "dvae": (False, False),
    "factor_vae": (True, True),
    "factor_dvae": (False, True),
}
TOP_KEYS = {"datasets", "models", "gammas", "seeds", "results", "base", "eval", "description"}
EVAL_KEYS = {"fast", "metrics", "seed", "settings"}
# Per-run fields the sweep sets itself; a [base] table may not set them.
SWEEP_FIELDS = {"dataset", "gaussian", "tc", "gamma", "seed", "save_path"}


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
        gamma = f" gamma {self.config.gamma:g}" if self.config.tc else ""
        return f"{self.config.dataset} {self.config.model_name}{gamma} seed {self.config.seed}"


# -- reading and expanding ------------------------------------------------------------------
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
    from data import DATASET_NAMES

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
    bad = [m for m in models if m not in MODELS]
    if bad:
        raise SweepError(f"{where}: unknown model(s) {bad}; expected some of {list(MODELS)}")
    seeds = values["seeds"]
    if isinstance(seeds, dict):
        if set(seeds) != {"start", "stop"}:
            raise SweepError(f"{where}: seeds as a table needs exactly start and stop (inclusive)")
        seeds = list(range(int(seeds["start"]), int(seeds["stop"]) + 1))
    seeds = _list(seeds, "seeds", where, int)
    tc_models = [m for m in models if MODELS[m][1]]
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
    try:
        configs.from_dict(base, where=f"{where} [base]")
    except ConfigError as error:
        raise SweepError(str(error)) from None
    eval_options = values.get("eval", {})
    if not isinstance(eval_options, dict):
        raise SweepError(f"{where}: [eval] must be a table")
    unknown = sorted(set(eval_options) - EVAL_KEYS)
    if unknown:
        raise SweepError(f"{where}: unknown [eval] key(s) {unknown}; valid keys: {sorted(EVAL_KEYS)}")
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
            gaussian, tc = MODELS[model]
            for gamma in (sweep.gammas if tc else (0.0,)):
                for seed in sweep.seeds:
                    config = configs.from_dict({**sweep.base, "dataset": dataset, "gaussian": gaussian, "tc": tc,
                                                "gamma": gamma, "seed": seed, "save_path": str(results_dir)},
                                               where=sweep.source)
                    runs.append(Run(config, dict(sweep.eval)))
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise SweepError(f"{sweep.source}: two runs share a checkpoint name")
    return runs


def checkpoint_step(path) -> int | None:
    """The step stored in a checkpoint, or None when there is none (or it cannot be read)."""
    from training.checkpoint import CheckpointError, load_checkpoint
    if not Path(path).is_file():
        return None
    try:
        return int(load_checkpoint(path)["step"])
    except (CheckpointError, KeyError):
        return None


def status(run: Run) -> str:
    """'done' (finished checkpoint and eval JSON), 'eval' (needs eval only), 'resume', 'train'."""
    step = checkpoint_step(run.checkpoint)
    if step is None:
        return "train"
    if step < run.config.steps:
        return "resume"
    return "done" if run.eval_json.is_file() else "eval"


# -- executing ------------------------------------------------------------------------------
def evaluate(checkpoint, eval_options: dict, data=None, log=print) -> dict:
    """Evaluate with eval.py's `evaluate_checkpoint` (the same code as `python eval.py`)."""
    options = dict(eval_options)
    metrics = options.pop("metrics", None)
    if isinstance(metrics, str):
        metrics = None if metrics.strip() == "all" else [m.strip() for m in metrics.split(",") if m.strip()]
    import eval as eval_lib  # eval.py at the repository root
    return eval_lib.evaluate_checkpoint(checkpoint, data=data, metrics=metrics, seed=options.get("seed", 42),
                 settings=options.get("settings"), fast=options.get("fast", False), progress=False, log=log)


def execute(run: Run, data=None, log=print, train_only: bool = False) -> dict:
    """Train (or resume) and evaluate one run; returns {'run', 'status', 'seconds', 'eval_json'}."""
    from training.loop import train
    from training.train_mig import training_mig

    started = time.perf_counter()
    before = status(run)
    if before == "done" or (train_only and before == "eval"):
        return {"run": run.name, "status": "skipped", "seconds": 0.0, "eval_json": str(run.eval_json)}
    if before in ("train", "resume"):
        resume = run.checkpoint if before == "resume" else None
        log(f"[{run.name}] {'resuming' if resume else 'training'} {run.describe()} to step {run.config.steps}")
        train(run.config, data=data, resume=resume, progress=False, log=log,
              evaluate=training_mig if run.config.eval_every else None)
    if train_only:
        return {"run": run.name, "status": before, "seconds": time.perf_counter() - started, "eval_json": None}
    log(f"[{run.name}] evaluating {run.checkpoint}")
    evaluate(run.checkpoint, run.eval, data=data, log=log)
    return {"run": run.name, "status": before, "seconds": time.perf_counter() - started,
            "eval_json": str(run.eval_json)}


def execute_config(config_dict: dict, eval_options: dict, train_only: bool = False) -> dict:
    """Picklable entry for submitit: one run from plain dicts (a cluster worker re-imports)."""
    return execute(Run(configs.from_dict(config_dict), eval_options), train_only=train_only)


def execute_config_train_only(config_dict: dict, eval_options: dict) -> dict:
    return execute_config(config_dict, eval_options, train_only=True)


def probe(config_dict: dict, eval_options: dict) -> dict:
    """A trivial job for checking an executor: no training, reports where it ran."""
    import os
    import socket
    config = configs.from_dict(config_dict)
    return {"run": config.run_name, "status": "probe", "host": socket.gethostname(), "pid": os.getpid(),
            "eval": dict(eval_options)}


def run_local(runs: list[Run], data=None, log=print, keep_going: bool = True, train_only: bool = False) -> list[dict]:
    """Execute runs one after another in this process; failures are reported, not hidden."""
    outcomes = []
    loaded: dict = {}  # one copy of each data set for the whole sweep (dSprites: 3 GB as uint8)
    for i, run in enumerate(runs, 1):
        log(f"run {i}/{len(runs)}: {run.describe()}")
        try:
            run_data = data
            if run_data is None and status(run) != "done":
                if run.config.dataset not in loaded:
                    from data import get_dataset
                    loaded.clear()  # keep at most one data set in memory
                    loaded[run.config.dataset] = get_dataset(run.config.dataset)
                run_data = loaded[run.config.dataset]
            outcomes.append(execute(run, data=run_data, log=log, train_only=train_only))
        except Exception as error:  # noqa: BLE001 - reported and counted, the sweep goes on
            log(f"[{run.name}] FAILED: {type(error).__name__}: {' '.join(str(error).split())}")
            outcomes.append({"run": run.name, "status": "failed", "error": f"{type(error).__name__}: {error}"})
            if not keep_going:
                break
    return outcomes


def submit(runs: list[Run], folder, cluster: str | None = None, function=None, wait: bool = False,
           **parameters):
    """Submit the runs as ONE submitit array job; logs per run under `folder/<job id>`.

    `cluster`: None (auto: Slurm when available), "slurm", "local" or "debug" (in-process).
    `function(config_dict, eval_options)` replaces `execute_config` (tests).
    `parameters`: submitit's (timeout_min, slurm_partition, gpus_per_node, cpus_per_task,
    mem_gb, slurm_array_parallelism, ...). Returns the jobs (and their results if `wait`).
    """
    import submitit

    executor = submitit.AutoExecutor(folder=str(Path(folder) / "%j"), cluster=cluster)
    executor.update_parameters(name="lddr_sweep", **parameters)
    function = function or execute_config
    config_dicts = [r.config.to_dict() for r in runs]
    eval_options = [r.eval for r in runs]
    jobs = executor.map_array(function, config_dicts, eval_options)
    if wait:
        return jobs, [job.result() for job in jobs]
    return jobs


# -- command line ---------------------------------------------------------------------------
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="sweep TOML (a path, or a name under configs/)")
    parser.add_argument("--results", help="results folder (checkpoints, eval JSON, logs); default: the config's")
    parser.add_argument("--dry_run", action="store_true", help="list the runs and their status, run nothing")
    parser.add_argument("--executor", choices=["local", "slurm", "submitit_local", "debug"], default="local",
                        help="local: one after another in this process (default); slurm: one submitit array job; "
                             "submitit_local/debug: submitit's local/debug executors (testing)")
    parser.add_argument("--only", default=None, help="run only runs whose name contains this text")
    parser.add_argument("--train_only", action="store_true",
                        help="train (or resume) only; evaluate later with eval.py --save_file 'DIR/*.pkl'")
    parser.add_argument("--probe", action="store_true",
                        help="submit a trivial job per run instead of training (checks the executor set-up)")
    parser.add_argument("--stop_on_error", action="store_true", help="stop the local sweep at the first failure")
    group = parser.add_argument_group("slurm (submitit)")
    group.add_argument("--slurm_partition", default=None)
    group.add_argument("--timeout_min", type=int, default=24 * 60)
    group.add_argument("--gpus_per_node", type=int, default=1)
    group.add_argument("--cpus_per_task", type=int, default=8)
    group.add_argument("--mem_gb", type=int, default=64)
    group.add_argument("--array_parallelism", type=int, default=64)
    group.add_argument("--wait", action="store_true", help="wait for the array job and report each run")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        sweep = load_sweep(args.config)
        results = args.results or sweep.results
        if not results:
            raise SweepError(f"{args.config}: no results folder: give --results DIR or results = '...' in the config")
        runs = expand(sweep, results)
    except (SweepError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.only:
        runs = [r for r in runs if args.only in r.name]
    states = {r.name: status(r) for r in runs}
    counts = {s: sum(1 for v in states.values() if v == s) for s in ("train", "resume", "eval", "done")}
    print(f"{len(runs)} runs in {results}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    if args.dry_run:
        for run in runs:
            print(f"  {states[run.name]:<7s} {run.name:<45s} {run.describe()}, {run.config.steps} steps")
        return 0
    todo = [r for r in runs if states[r.name] != "done" and not (args.train_only and states[r.name] == "eval")]
    if not todo:
        print("nothing to do: every run has its checkpoint" + ("" if args.train_only else " and eval JSON"))
        return 0
    Path(results).mkdir(parents=True, exist_ok=True)
    if args.executor == "local":
        if args.probe:
            print("error: --probe checks a submitit executor; use it with --executor slurm/submitit_local/debug",
                  file=sys.stderr)
            return 2
        outcomes = run_local(todo, keep_going=not args.stop_on_error, train_only=args.train_only)
    else:
        cluster = {"slurm": "slurm", "submitit_local": "local", "debug": "debug"}[args.executor]
        parameters = {"timeout_min": args.timeout_min}
        if cluster == "slurm":
            parameters.update(slurm_partition=args.slurm_partition, gpus_per_node=args.gpus_per_node,
                              cpus_per_task=args.cpus_per_task, mem_gb=args.mem_gb,
                              slurm_array_parallelism=args.array_parallelism)
            parameters = {k: v for k, v in parameters.items() if v is not None}
        folder = Path(results) / "logs"
        jobs = submit(todo, folder, cluster=cluster, function=probe if args.probe else (execute_config_train_only if args.train_only else None), **parameters)
        print(f"submitted {len(jobs)} runs as array job {jobs[0].job_id.split('_')[0]}; logs in {folder}")
        for job, run in zip(jobs, todo):
            print(f"  {job.job_id}  {run.name}")
        if not (args.wait or cluster in ("local", "debug")):
            return 0
        outcomes = []
        for job, run in zip(jobs, todo):
            try:
                outcomes.append(job.result())
            except Exception as error:  # noqa: BLE001
                outcomes.append({"run": run.name, "status": "failed", "error": f"{type(error).__name__}: {error}"})
    failed = [o for o in outcomes if o["status"] == "failed"]
    print(json.dumps({"finished": len(outcomes) - len(failed), "failed": [o["run"] for o in failed]}))
    for o in failed:
        print(f"FAILED {o['run']}: {o['error'].splitlines()[0] if o['error'] else ''}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
