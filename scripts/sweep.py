"""Expand a sweep config (data sets x models x gamma values x seeds) into runs and execute them.

    python scripts/sweep.py configs/sweep_smoke.toml --dry_run
    python scripts/sweep.py configs/sweep_smoke.toml --results results/smoke
    python scripts/sweep.py configs/sweep_paper.toml --results /scratch/lddr --executor slurm \
        --slurm_partition gpu --timeout_min 1440 --gpus_per_node 1 --array_parallelism 64

Each run trains (`training.loop.train`, resuming a partial checkpoint) and then evaluates
(`eval.evaluate_checkpoint`, the code behind `python eval.py`). A run whose finished checkpoint
`{run_name}.pkl` and `{run_name}.eval.json` both exist is skipped, if that JSON records the
protocol, settings, metrics, eval seed and step the sweep asks for (else it is evaluated again);
one with a finished checkpoint only is evaluated; one with a partial checkpoint resumes; a
checkpoint that cannot be read is renamed `X.pkl.unreadable-<time>` and the run starts over.
Everything goes into the results folder. On Slurm (docs/slurm.md) the runs are one array job of
`SweepJob`s, requeued by submitit on time-outs and preemption, resuming from their last save.

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

ROOT = Path(__file__).resolve().parent.parent

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
    try:
        requested_eval(eval_options)
    except ValueError as error:  # eval.EvalError: unknown metric or bad settings
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
    except (CheckpointError, KeyError, TypeError, ValueError):
        return None


def requested_eval(eval_options: dict) -> dict:
    """What an eval JSON must record to count for these [eval] options: protocol, settings, metrics, seed."""
    import eval as eval_lib
    metrics = eval_options.get("metrics")
    if isinstance(metrics, str):
        metrics = None if metrics.strip() == "all" else [m.strip() for m in metrics.split(",") if m.strip()]
    names = eval_lib.parse_metrics(",".join(metrics) if metrics else None)
    settings = eval_lib.merge_settings(bool(eval_options.get("fast", False)), eval_options.get("settings"))
    protocol = "paper" if eval_lib.is_paper_protocol(settings) else "custom"
    return {"protocol": protocol, "settings": settings, "metrics": names, "eval_seed": eval_options.get("seed", 42)}


def _protocol_settings(settings: dict) -> dict:
    """Settings without the keywords that change speed only (they never change a number)."""
    import eval as eval_lib
    return {m: {k: v for k, v in values.items() if k not in eval_lib.SPEED_ONLY}
            for m, values in (settings or {}).items()}


def eval_mismatch(run: Run, step: int) -> str | None:
    """Why the run's eval JSON does not count for this sweep (None when it does)."""
    try:
        recorded = json.loads(run.eval_json.read_text())
    except (OSError, ValueError) as error:
        return f"{run.eval_json.name} is not readable JSON ({type(error).__name__})"
    if not isinstance(recorded, dict):
        return f"{run.eval_json.name} is not a JSON object"
    wanted = requested_eval(run.eval)
    if recorded.get("step") != step:
        return f"{run.eval_json.name} evaluated step {recorded.get('step')}, the checkpoint is at step {step}"
    if recorded.get("protocol") != wanted["protocol"]:
        return (f"{run.eval_json.name} used the {recorded.get('protocol', 'unknown')!r} protocol, "
                f"the sweep asks for {wanted['protocol']!r}")
    missing = [m for m in wanted["metrics"] if m not in (recorded.get("metrics") or [])]
    if missing:
        return f"{run.eval_json.name} lacks {', '.join(missing)}"
    if recorded.get("eval_seed") != wanted["eval_seed"]:
        return f"{run.eval_json.name} used eval seed {recorded.get('eval_seed')}, the sweep asks for {wanted['eval_seed']}"
    if wanted["protocol"] == "custom":
        have, want = _protocol_settings(recorded.get("settings")), _protocol_settings(wanted["settings"])
        for metric in set(have) | set(want):
            got = have.get(metric, {})
            if metric == "st_gap":  # the JSON always records the gap's batch counts; compare the asked ones
                got = {k: v for k, v in got.items() if k in want.get(metric, {})}
            if got != want.get(metric, {}):
                return f"{run.eval_json.name} used {metric} settings {got}, the sweep asks for {want.get(metric, {})}"
    return None


def status(run: Run, reasons: dict | None = None) -> str:
    """'done' (a matching eval JSON of the finished run, with or without its checkpoint), 'eval'
    (needs eval only), 'resume',
    'train', or 'unreadable' (a checkpoint file that cannot be read: moved aside before training).

    `reasons`, when given, receives {run name: why} for 'eval' because of a mismatching eval JSON
    and for 'unreadable'.
    """
    step = checkpoint_step(run.checkpoint)
    if step is None:
        if run.checkpoint.exists():
            if reasons is not None:
                reasons[run.name] = f"{run.checkpoint} cannot be read as a checkpoint"
            return "unreadable"
        # Results are committed, checkpoints are not: a fresh checkout keeps a finished run's eval
        # JSON only, and that is enough when it is the one this sweep asks for.
        if run.eval_json.is_file() and eval_mismatch(run, run.config.steps) is None:
            return "done"
        return "train"
    if step < run.config.steps:
        return "resume"
    if not run.eval_json.is_file():
        return "eval"
    why = eval_mismatch(run, step)
    if why is None:
        return "done"
    if reasons is not None:
        reasons[run.name] = why
    return "eval"


def move_aside(path, log=print) -> Path:
    """Rename an unreadable checkpoint to `X.pkl.unreadable-<time>` (never trained over silently)."""
    path = Path(path)
    target = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
        n += 1
    path.rename(target)
    log(f"{path} cannot be read as a checkpoint; moved it to {target.name} and training from step 0")
    return target


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
    reasons: dict = {}
    before = status(run, reasons)
    if before == "unreadable":
        move_aside(run.checkpoint, log=lambda m: log(f"[{run.name}] {m}"))
        before = "train"
    elif before == "eval" and run.name in reasons:
        log(f"[{run.name}] evaluating again: {reasons[run.name]}")
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


def _checkpointable_base():
    try:
        from submitit.helpers import Checkpointable
    except ImportError:  # submitit is only needed for the cluster executors
        return object
    return Checkpointable


class SweepJob(_checkpointable_base()):
    """One run as a submitit job that survives preemption and time-outs.

    Slurm signals the job (submitit asks for USR2, `signal_delay_s` before the time limit, and
    a preempting scheduler sends it too); submitit then calls `checkpoint`, stores the returned
    submission and requeues the job (`scontrol requeue`). The requeued job calls the run again,
    and `execute` resumes from the run's last checkpoint, which the training loop writes every
    `save_every` steps, atomically: at most the steps since that save are done twice.
    """

    def __init__(self, train_only: bool = False):
        self.train_only = train_only

    def __call__(self, config_dict: dict, eval_options: dict) -> dict:
        return execute_config(config_dict, eval_options, train_only=self.train_only)

    def checkpoint(self, config_dict: dict, eval_options: dict):
        import submitit
        config = configs.from_dict(config_dict)
        step = checkpoint_step(config.checkpoint_path())
        where = f"its checkpoint at step {step}" if step is not None else "step 0 (no checkpoint yet)"
        print(f"[{config.run_name}] signalled (time limit or preemption): requeued, resumes from {where}",
              flush=True)
        return submitit.helpers.DelayedSubmission(self, config_dict, eval_options)


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


def make_executor(folder, cluster: str | None = None, **parameters):
    """The submitit executor of a sweep; logs per run under `folder/<job id>` (arrays: `<A>_<i>`)."""
    import submitit

    executor = submitit.AutoExecutor(folder=str(Path(folder) / "%j"), cluster=cluster)
    if executor.cluster == "slurm":
        # The job imports this repository (scripts.sweep) wherever sbatch was called from.
        parameters.setdefault("slurm_setup", [f"export PYTHONPATH={ROOT}${{PYTHONPATH:+:$PYTHONPATH}}"])
    executor.update_parameters(name="lddr_sweep", **parameters)
    return executor


def sbatch_options(executor, count: int) -> list[str]:
    """The `#SBATCH` lines submitit writes for an array of `count` runs (what --dry_run prints)."""
    from submitit.slurm.slurm import _make_sbatch_string
    inner = executor._executor
    text = _make_sbatch_string(command="true", folder=inner.folder, map_count=count, **inner.parameters)
    return [line for line in text.splitlines() if line.startswith("#SBATCH ")]


def submit(runs: list[Run], folder, cluster: str | None = None, function=None, wait: bool = False,
           **parameters):
    """Submit the runs as ONE submitit array job; logs per run under `folder/<job id>`.

    `cluster`: None (auto: Slurm when available), "slurm", "local" or "debug" (in-process).
    `function(config_dict, eval_options)` replaces `SweepJob()` (tests).
    `parameters`: submitit's (timeout_min, slurm_partition, gpus_per_node, cpus_per_task,
    mem_gb, slurm_array_parallelism, ...). Returns the jobs (and their outcomes if `wait`).
    """
    executor = make_executor(folder, cluster, **parameters)
    function = function or SweepJob()
    config_dicts = [r.config.to_dict() for r in runs]
    eval_options = [r.eval for r in runs]
    jobs = executor.map_array(function, config_dicts, eval_options)
    if wait:
        return jobs, wait_for(jobs, runs)
    return jobs


def job_log(job) -> str:
    """The log of a submitted job (stderr holds the tracebacks; stdout the run's own log)."""
    return f"{job.paths.stdout} (errors: {job.paths.stderr})"


def job_error(error: Exception) -> str:
    """The run's own exception line ("DataError: ...") out of submitit's FailedJobError text."""
    import re
    text = str(error)
    trace = text.split("Traceback (most recent call last):", 1)
    if len(trace) == 2:
        lines = [line.strip() for line in trace[1].split("\n----")[0].splitlines() if line.strip()]
        if lines:
            return re.sub(r"^(?:\w+\.)+(\w+:)", r"\1", lines[-1])
    return f"{type(error).__name__}: {' '.join(text.split())[:300]}"


def _slurm_states(jobs) -> dict:
    """{job id: state} of these jobs from squeue, then scontrol for jobs that left the queue
    (None when squeue fails)."""
    import subprocess
    states: dict = {}
    ids = sorted({job.job_id.split("_")[0] for job in jobs})
    out = subprocess.run(["squeue", "-h", "-r", "-o", "%i %T", "-j", ",".join(ids)],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0 and "Invalid job id" not in out.stderr:
        return None  # the controller did not answer: nothing is known this time
    for line in out.stdout.splitlines():
        job_id, _, state = line.partition(" ")
        states[job_id] = state.strip()
    for job in jobs:
        if job.job_id not in states:
            out = subprocess.run(["scontrol", "-o", "show", "job", job.job_id], capture_output=True, text=True,
                                 timeout=60)
            fields = dict(f.split("=", 1) for f in out.stdout.split() if "=" in f)
            states[job.job_id] = fields.get("JobState", "GONE")
    return states


def wait_for(jobs, runs: list[Run], poll_s: float = 2.0) -> list[dict]:
    """Wait for every job; one outcome per run, a failed one with its error and log path.

    On Slurm the queue is asked directly (squeue/scontrol: submitit's own waiting asks sacct,
    which needs accounting); a job that leaves the queue without a result is a failure, and the
    other runs of the array go on.
    """
    outcomes: dict = {}
    slurm = bool(jobs) and type(jobs[0]).__name__ == "SlurmJob"
    ended_without_result: dict = {}
    while len(outcomes) < len(jobs):
        pending = [(i, job) for i, job in enumerate(jobs) if i not in outcomes]
        states = _slurm_states([job for _, job in pending]) if slurm else {}
        for i, job in pending:
            if not slurm or job.paths.result_pickle.exists():
                try:
                    outcomes[i] = job.result()
                except Exception as error:  # noqa: BLE001 - reported with its log
                    outcomes[i] = {"run": runs[i].name, "status": "failed", "error": job_error(error),
                                   "log": job_log(job)}
                continue
            if states is None:
                continue
            state = (states.get(job.job_id) or "GONE").split()[0].upper()
            if state in ("PENDING", "RUNNING", "REQUEUED", "COMPLETING", "CONFIGURING", "SUSPENDED",
                         "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT"):
                ended_without_result.pop(i, None)
                continue
            # Out of the queue and no result (yet): give the result file a few polls to appear.
            ended_without_result[i] = ended_without_result.get(i, 0) + 1
            if ended_without_result[i] >= 3:
                outcomes[i] = {"run": runs[i].name, "status": "failed",
                               "error": f"Slurm job {job.job_id} ended {state} without a result",
                               "log": job_log(job)}
        if len(outcomes) < len(jobs):
            time.sleep(poll_s)
    return [outcomes[i] for i in range(len(jobs))]


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
    group.add_argument("--gpus_per_node", type=int, default=1, help="0: no GPU requested")
    group.add_argument("--cpus_per_task", type=int, default=8)
    group.add_argument("--mem_gb", type=int, default=64)
    group.add_argument("--array_parallelism", type=int, default=64)
    group.add_argument("--signal_delay_s", type=int, default=120,
                       help="Slurm signals a run this long before its time limit; it is then requeued and resumes "
                            "from its last checkpoint (keep it above the time between checkpoints' writes)")
    group.add_argument("--wait", action="store_true", help="wait for the array job and report each run")
    return parser.parse_args(argv)


def executor_parameters(args) -> tuple[str, dict]:
    """(submitit cluster name, submitit parameters) from the command line."""
    cluster = {"slurm": "slurm", "submitit_local": "local", "debug": "debug"}[args.executor]
    parameters = {"timeout_min": args.timeout_min}
    if cluster == "slurm":
        parameters.update(slurm_partition=args.slurm_partition, gpus_per_node=args.gpus_per_node or None,
                          cpus_per_task=args.cpus_per_task, mem_gb=args.mem_gb,
                          slurm_array_parallelism=args.array_parallelism,
                          slurm_signal_delay_s=args.signal_delay_s)
        parameters = {k: v for k, v in parameters.items() if v is not None}
    return cluster, parameters


def report(outcomes: list[dict]) -> int:
    failed = [o for o in outcomes if o["status"] == "failed"]
    print(json.dumps({"finished": len(outcomes) - len(failed), "failed": [o["run"] for o in failed]}))
    for o in failed:
        first = o["error"].splitlines()[0] if o.get("error") else ""
        print(f"FAILED {o['run']}: {first}" + (f"; log: {o['log']}" if o.get("log") else ""), file=sys.stderr)
    return 1 if failed else 0


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
    reasons: dict = {}
    states = {r.name: status(r, reasons) for r in runs}
    counts = {s: sum(1 for v in states.values() if v == s) for s in ("train", "resume", "eval", "done", "unreadable")}
    print(f"{len(runs)} runs in {results}: " + ", ".join(f"{v} {k}" for k, v in counts.items() if v or k != "unreadable"))
    todo = [r for r in runs if states[r.name] != "done" and not (args.train_only and states[r.name] == "eval")]
    if args.dry_run:
        for run in runs:
            why = f"  ({reasons[run.name]})" if run.name in reasons else ""
            print(f"  {states[run.name]:<7s} {run.name:<45s} {run.describe()}, {run.config.steps} steps{why}")
        if args.executor != "local" and todo:
            cluster, parameters = executor_parameters(args)
            folder = Path(results).absolute() / "logs"
            print(f"would submit {len(todo)} runs as one array job (task: run):")
            for i, run in enumerate(todo):
                print(f"  {i}: {run.name}")
            if cluster == "slurm":
                print("sbatch options:")
                for line in sbatch_options(make_executor(folder, cluster, **parameters), len(todo)):
                    print(f"  {line}")
        return 0
    if not todo:
        print("nothing to do: every run has its checkpoint" + ("" if args.train_only else " and eval JSON"))
        return 0
    Path(results).mkdir(parents=True, exist_ok=True)
    if args.executor == "local":
        if args.probe:
            print("error: --probe checks a submitit executor; use it with --executor slurm/submitit_local/debug",
                  file=sys.stderr)
            return 2
        return report(run_local(todo, keep_going=not args.stop_on_error, train_only=args.train_only))
    cluster, parameters = executor_parameters(args)
    folder = Path(results).absolute() / "logs"
    function = probe if args.probe else SweepJob(train_only=args.train_only)
    jobs = submit(todo, folder, cluster=cluster, function=function, **parameters)
    kind = "array job" if len(todo) > 1 else "job"  # submitit submits a single run as a plain job
    print(f"submitted {len(todo)} runs as {kind} {jobs[0].job_id.split('_')[0]}; logs in {folder}/<job id>")
    for job, run in zip(jobs, todo):
        print(f"  {job.job_id}  {run.name}  {job.paths.stdout}")
    sys.stdout.flush()
    if not (args.wait or cluster in ("local", "debug")):
        return 0
    return report(wait_for(jobs, todo))


if __name__ == "__main__":
    # Run as `scripts.sweep`, not `__main__`, so that submitted jobs pickle SweepJob by reference.
    from scripts.sweep import main as _main
    sys.exit(_main())
