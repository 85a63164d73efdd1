"""Running a sweep's runs: one after another in this process, or as one submitit array job on
Slurm that survives preemption (scripts/sweep.py, docs/slurm.md)."""
from __future__ import annotations

import time
from pathlib import Path

import configs
from data import get_dataset
from evaluation.allocator import keep_freed_memory
from evaluation.evaluate import EvalOptions, evaluate_checkpoint
from evaluation.training_mig import training_mig
from sweeps.grid import ROOT, Run
from sweeps.status import checkpoint_step, move_aside, status
from training.loop import train


def evaluate(checkpoint, eval_options: dict, data=None, log=print) -> dict:
    """Evaluate with `evaluate_checkpoint` (the same code as `python eval.py`)."""
    options = dict(eval_options)
    metrics = options.pop("metrics", None)
    if isinstance(metrics, str):
        metrics = None if metrics.strip() == "all" else [m.strip() for m in metrics.split(",") if m.strip()]
    return evaluate_checkpoint(
        checkpoint,
        EvalOptions(
            metrics=metrics,
            seed=options.get("seed", 42),
            settings=options.get("settings"),
            fast=options.get("fast", False),
            progress=False,
        ),
        data=data,
        log=log,
    )


def execute(run: Run, data=None, log=print, train_only: bool = False) -> dict:
    """Train (or resume) and evaluate one run; returns {'run', 'status', 'seconds', 'eval_json'}."""

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
        train(
            run.config,
            data=data,
            resume=resume,
            progress=False,
            log=log,
            evaluate=training_mig if run.config.eval_every else None,
        )
    if train_only:
        return {"run": run.name, "status": before, "seconds": time.perf_counter() - started, "eval_json": None}
    log(f"[{run.name}] evaluating {run.checkpoint}")
    evaluate(run.checkpoint, run.eval, data=data, log=log)
    return {
        "run": run.name,
        "status": before,
        "seconds": time.perf_counter() - started,
        "eval_json": str(run.eval_json),
    }


def execute_config(config_dict: dict, eval_options: dict, train_only: bool = False) -> dict:
    """Picklable entry for submitit: one run from plain dicts (a cluster worker re-imports).
    A worker process is an entry point: it sets the evaluation's allocator itself."""
    keep_freed_memory()
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
        print(f"[{config.run_name}] signalled (time limit or preemption): requeued, resumes from {where}", flush=True)
        return submitit.helpers.DelayedSubmission(self, config_dict, eval_options)


def probe(config_dict: dict, eval_options: dict) -> dict:
    """A trivial job for checking an executor: no training, reports where it ran."""
    import os
    import socket

    config = configs.from_dict(config_dict)
    return {
        "run": config.run_name,
        "status": "probe",
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "eval": dict(eval_options),
    }


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
        # The job imports this repository (sweeps.execute) wherever sbatch was called from.
        parameters.setdefault("slurm_setup", [f"export PYTHONPATH={ROOT}${{PYTHONPATH:+:$PYTHONPATH}}"])
    executor.update_parameters(name="lddr_sweep", **parameters)
    return executor


def sbatch_options(executor, count: int) -> list[str]:
    """The `#SBATCH` lines submitit writes for an array of `count` runs (what --dry_run prints)."""
    from submitit.slurm.slurm import _make_sbatch_string

    inner = executor._executor
    text = _make_sbatch_string(command="true", folder=inner.folder, map_count=count, **inner.parameters)
    return [line for line in text.splitlines() if line.startswith("#SBATCH ")]


def submit(runs: list[Run], folder, cluster: str | None = None, function=None, wait: bool = False, **parameters):
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
    out = subprocess.run(
        ["squeue", "-h", "-r", "-o", "%i %T", "-j", ",".join(ids)], capture_output=True, text=True, timeout=60
    )
    if out.returncode != 0 and "Invalid job id" not in out.stderr:
        return None  # the controller did not answer: nothing is known this time
    for line in out.stdout.splitlines():
        job_id, _, state = line.partition(" ")
        states[job_id] = state.strip()
    for job in jobs:
        if job.job_id not in states:
            out = subprocess.run(
                ["scontrol", "-o", "show", "job", job.job_id], capture_output=True, text=True, timeout=60
            )
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
                    outcomes[i] = {
                        "run": runs[i].name,
                        "status": "failed",
                        "error": job_error(error),
                        "log": job_log(job),
                    }
                continue
            if states is None:
                continue
            state = (states.get(job.job_id) or "GONE").split()[0].upper()
            if state in (
                "PENDING",
                "RUNNING",
                "REQUEUED",
                "COMPLETING",
                "CONFIGURING",
                "SUSPENDED",
                "REQUEUE_HOLD",
                "REQUEUE_FED",
                "RESIZING",
                "SIGNALING",
                "STAGE_OUT",
            ):
                ended_without_result.pop(i, None)
                continue
            # Out of the queue and no result (yet): give the result file a few polls to appear.
            ended_without_result[i] = ended_without_result.get(i, 0) + 1
            if ended_without_result[i] >= 3:
                outcomes[i] = {
                    "run": runs[i].name,
                    "status": "failed",
                    "error": f"Slurm job {job.job_id} ended {state} without a result",
                    "log": job_log(job),
                }
        if len(outcomes) < len(jobs):
            time.sleep(poll_s)
    return [outcomes[i] for i in range(len(jobs))]
