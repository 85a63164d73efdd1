"""Expand a sweep config (data sets x models x gamma values x seeds) into runs and execute them.

    python scripts/sweep.py configs/sweep_smoke.toml --dry_run
    python scripts/sweep.py configs/sweep_smoke.toml --results results/smoke
    python scripts/sweep.py configs/sweep_paper.toml --results /scratch/lddr --executor slurm \
        --slurm_partition gpu --timeout_min 1440 --gpus_per_node 1 --array_parallelism 64

Each run trains (`training.loop.train`, resuming a partial checkpoint) and then evaluates
(`evaluation.evaluate.evaluate_checkpoint`, the code behind `python eval.py`). A run whose
finished checkpoint `{run_name}.pkl` and `{run_name}.eval.json` both exist is skipped, if that JSON records the
protocol, settings, metrics, eval seed and step the sweep asks for (else it is evaluated again);
one with a finished checkpoint only is evaluated; one with a partial checkpoint resumes; a
checkpoint that cannot be read is renamed `X.pkl.unreadable-<time>` and the run starts over.
Everything goes into the results folder. On Slurm (docs/slurm.md) the runs are one array job of
`SweepJob`s, requeued by submitit on time-outs and preemption, resuming from their last save.

Sweep config (TOML), keys:
  datasets = [...]          names from data.DATASET_NAMES (checked before any run starts)
  models   = [...]          vae, dvae, factor_vae, factor_dvae, qlae
  gammas   = [...]          TC weights for factor_vae / factor_dvae (vae/dvae have none)
  seeds    = [...]          or {start = 1, stop = 10} (inclusive)
  results  = "results/x"    default results folder (the --results flag wins)
  [base]                    Config overrides for every run (steps, batch_size, save_every, ...)
  [eval]                    fast = bool, metrics = "all" | "mig,dci,st_gap", seed = 42,
                            settings = {metric = {kwarg = value}} (changes the protocol)
Unknown keys, data sets or models stop the sweep with a one-line message.

This is the command line; the library is sweeps/grid.py (the config and its runs),
sweeps/status.py (what each run still needs) and sweeps/execute.py (running
them here or as a Slurm array job).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from configs import ConfigError
from configs.text import error_line
from evaluation.allocator import keep_freed_memory
from sweeps.execute import SweepJob, make_executor, probe, run_local, sbatch_options, submit, wait_for
from sweeps.grid import SweepError, expand, load_sweep
from sweeps.status import status


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="sweep TOML (a path, or a name under configs/)")
    parser.add_argument("--results", help="results folder (checkpoints, eval JSON, logs); default: the config's")
    parser.add_argument("--dry_run", action="store_true", help="list the runs and their status, run nothing")
    parser.add_argument("--executor", choices=["local", "slurm", "submitit_local", "debug"], default="local",
                        help="local: one after another in this process (default); slurm: one submitit array job; "
                             "submitit_local/debug: submitit's local/debug executors (testing)")
    parser.add_argument("--only", default=None, help="run only runs whose name contains this text")
    parser.add_argument("--run", default=None, metavar="NAME",
                        help="run only the run with exactly this name (e.g. dsprites_procedural_gauss_seed1)")
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


def chosen_runs(args) -> tuple[list, str]:
    """The runs the command line asks for (--only, --run) and their results folder; SweepError or
    ConfigError (one line) for a bad config, no results folder or an unknown run name."""
    sweep = load_sweep(args.config)
    results = args.results or sweep.results
    if not results:
        raise SweepError(f"{args.config}: no results folder: give --results DIR or results = '...' in the config")
    runs = expand(sweep, results)
    if args.only:
        runs = [r for r in runs if args.only in r.name]
    if args.run:
        named = [r for r in runs if r.name == args.run]
        if not named:
            raise SweepError(f"{args.config}: no run named {args.run!r}; its runs: {', '.join(r.name for r in runs)}")
        runs = named
    return runs, results


def print_dry_run(args, runs, states: dict, reasons: dict, todo: list, results) -> None:
    """Each run's state, and for a cluster executor the array job and #SBATCH options it would submit."""
    for run in runs:
        why = f"  ({reasons[run.name]})" if run.name in reasons else ""
        print(f"  {states[run.name]:<7s} {run.name:<45s} {run.describe()}, {run.config.steps} steps{why}")
    if args.executor == "local" or not todo:
        return
    cluster, parameters = executor_parameters(args)
    folder = Path(results).absolute() / "logs"
    print(f"would submit {len(todo)} runs as one array job (task: run):")
    for i, run in enumerate(todo):
        print(f"  {i}: {run.name}")
    if cluster == "slurm":
        print("sbatch options:")
        for line in sbatch_options(make_executor(folder, cluster, **parameters), len(todo)):
            print(f"  {line}")


def main(argv=None) -> int:
    args = parse_args(argv)
    keep_freed_memory()   # the local runs' evaluations (evaluation/allocator.py)
    try:
        runs, results = chosen_runs(args)
    except (SweepError, ConfigError) as error:
        print(error_line(error), file=sys.stderr)
        return 2
    reasons: dict = {}
    states = {r.name: status(r, reasons) for r in runs}
    counts = {s: sum(1 for v in states.values() if v == s) for s in ("train", "resume", "eval", "done", "unreadable")}
    incomplete = sum(1 for r in runs if states[r.name] == "done" and r.name in reasons)
    print(
        f"{len(runs)} runs in {results}: " + ", ".join(f"{v} {k}" for k, v in counts.items() if v or k != "unreadable")
        + (f" ({incomplete} of them with an incomplete evaluation: --dry_run lists them)" if incomplete else "")
    )
    todo = [r for r in runs if states[r.name] != "done" and not (args.train_only and states[r.name] == "eval")]
    if args.dry_run:
        print_dry_run(args, runs, states, reasons, todo, results)
        return 0
    if not todo:
        print("nothing to do: every run has its checkpoint" + ("" if args.train_only else " and eval JSON"))
        return 0
    Path(results).mkdir(parents=True, exist_ok=True)
    if args.executor == "local":
        if args.probe:
            print(
                "error: --probe checks a submitit executor; use it with --executor slurm/submitit_local/debug",
                file=sys.stderr,
            )
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
    sys.exit(main())
