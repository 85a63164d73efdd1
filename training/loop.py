"""The one training loop: dispatch scans of steps, log, evaluate, checkpoint, resume."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, NamedTuple

import jax
import numpy as np
from tqdm import tqdm

import configs
from checkpoints import checkpoint
from checkpoints.restore import model_and_example
from configs import Config
from configs.text import path_text, printable
from data import GroundTruthData, get_dataset
from training import seeds as multi
from training.machine import describe_machine
from training.resume import check_resume_target, checkpoint_payload, restore_train_state, resumed_history
from training.run_log import RunLog, log_path
from training.step import TrainState, images_on_device, init_train_state, train_steps


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is left in place."""


def _next_boundary(step: int, config: Config) -> int:
    """The next step at which something happens (log, eval, save, end), capped per dispatch."""
    boundaries = [config.steps]
    for every in (config.log_every, config.eval_every, config.save_every):
        if every:
            boundaries.append((step // every + 1) * every)
    # Chunks also end at multiples of steps_per_dispatch, so chunking is the same whether a run
    # is resumed or not.
    boundaries.append((step // config.steps_per_dispatch + 1) * config.steps_per_dispatch)
    return min(boundaries)


class _Members(NamedTuple):
    """The runs trained in the same dispatches: one config, or one per seed with `--seeds`."""
    configs: list[Config]
    steps_fn: Callable      # (model, data, images, ts, n) -> (ts, terms): n steps
    state_of: Callable      # (ts, i) -> member i's TrainState


# On the CPU the steps of one dispatch are unrolled into one program (training.step.train_steps),
# and its compilation grows with them: on a busy 2-core machine a 10-step dispatch took 89 s from
# start to end, a 50-step one 354 s (docs/performance.md). The config allows up to 1,000 (an
# accelerator compiles a loop, not the unrolled steps); the CPU refuses more than this at once
# rather than compile for hours, whether the number comes from a flag or a checkpoint.
CPU_MAX_STEPS_PER_DISPATCH = 100


def check_dispatch(config: Config) -> None:
    """ConfigError where `config.steps_per_dispatch` would compile for too long on this backend."""
    if jax.default_backend() == "cpu" and config.steps_per_dispatch > CPU_MAX_STEPS_PER_DISPATCH:
        raise configs.ConfigError(
            f"steps_per_dispatch {config.steps_per_dispatch} is more than the CPU compiles in reasonable time "
            f"(at most {CPU_MAX_STEPS_PER_DISPATCH}: its steps are unrolled into one program); "
            f"give --steps_per_dispatch 10")


def _start(config: Config, data, resume, allow_schedule_change: bool, log: Callable):
    """(model, data, TrainState, members, config history) of a fresh or resumed run.

    Checks run before work: a bad checkpoint is refused before the data are read, and missing
    data are reported before the initialisers' compiles (the first model's take seconds).
    """
    history: list = []
    check_dispatch(config)
    if config.seeds and resume is not None:
        raise configs.ConfigError("--seeds cannot be combined with --resume; resume each seed's checkpoint")
    if resume is not None:
        payload = checkpoint.load_checkpoint(resume)
        history = resumed_history(payload, config, resume, allow_schedule_change)
    # One example image: it gives the initialisers their shapes (no parameter depends on the
    # batch), and a file's batch_size is allocated only once its parameters have passed.
    model, example = model_and_example(config, data)
    if resume is not None:
        ts = restore_train_state(model, example, payload, resume)
        check_resume_target(resume, payload, config)    # the file is sound: has it work, and where?
        log(f"resumed {printable(resume, None)} at step {int(ts.step)}")
    data = data if data is not None else get_dataset(config.dataset)
    if config.seeds:
        member_configs = [multi.seed_config(config, s) for s in config.seed_list]
        members = _Members(member_configs, multi.multi_train_steps, multi.unstack)
        ts = multi.init_stacked(model, example, config.seed_list)
    else:
        members = _Members([config], train_steps, lambda ts, i: ts)
        if resume is None:
            ts = init_train_state(model, example)
    return model, data, ts, members, history


def _chunk_means(terms, chunk: int, step: int, checkpoints: str) -> tuple[dict, dict]:
    """Each term per step [chunk, members] and its mean over the chunk [members]; a non-finite
    mean stops the run (the last checkpoint, named by `checkpoints`, stays as it is)."""
    per_step = {k: np.asarray(v, np.float64).reshape(chunk, -1) for k, v in jax.device_get(terms).items()}
    means = {k: v.mean(axis=0) for k, v in per_step.items()}
    if not all(np.isfinite(v).all() for v in means.values()):
        raise TrainingDiverged(
            f"non-finite loss between steps {step} and {step + chunk} "
            f"({ {k: v.tolist() for k, v in means.items()} }); stopped, the last good checkpoint "
            f"(if any) is at {checkpoints}")
    return per_step, means


def train(config: Config, data: GroundTruthData | None = None, resume: str | Path | None = None,
          progress: bool = True, evaluate: Callable | None = None, log: Callable | None = None,
          until: int | None = None, allow_schedule_change: bool = False) -> TrainState:
    """Train `config` to `config.steps` updates; returns the final TrainState.

    With `config.seeds` ("1,2,3") every seed trains in the same dispatches (see
    `training.seeds`), the returned TrainState has a leading seed axis, and each seed writes
    its own checkpoint. `until` stops early at that step, after writing a checkpoint, as an
    interrupted run would (the schedule still runs to `config.steps`).
    `evaluate(model, train_state, data) -> dict` is called every `eval_every` steps (training MIG).
    Resuming with a SCHEDULE_FIELDS value changed is refused unless `allow_schedule_change`.
    Log and evaluation lines go to `log` (default: printed above the progress bar); every
    member also appends them to its `{run_name}.log.jsonl` (`training.run_log`).
    """
    model, data, ts, members, history = _start(config, data, resume, allow_schedule_change, log or print)
    images = images_on_device(data)
    step = first_step = int(np.max(ts.step))
    run_logs = [RunLog(log_path(m.checkpoint_path()), resume_step=step if resume is not None else None)
                for m in members.configs]
    machine = describe_machine()
    for run_log in run_logs:
        run_log.note_machine(step, machine)
    checkpoints = path_text(members.configs[0].checkpoint_path()) + (" (one per seed)" if config.seeds else "")

    def label(i):
        return f" seed {members.configs[i].seed}" if config.seeds else ""

    window: list[tuple[dict, int]] = []
    # The first dispatch compiles the step: the bar says so, and its rate starts after it.
    bar = tqdm(total=config.steps, initial=step, disable=not progress, unit="step", dynamic_ncols=True,
               desc="compiling")
    write = log if log is not None else bar.write
    started = run_started = time.perf_counter()
    run_first_step, compiling = step, True
    last = config.steps if until is None else min(until, config.steps)
    try:
        while step < last:
            chunk = min(_next_boundary(step, config), last) - step
            ts, terms = members.steps_fn(model, data, images, ts, chunk)
            per_step, means = _chunk_means(terms, chunk, step, checkpoints)
            step += chunk
            window.append((means, chunk))
            if compiling:   # rates (bar and log) count from the end of compilation
                _restart_clock(bar, step)
                started, first_step, compiling = time.perf_counter(), step, False
            else:
                bar.update(chunk)
            bar.set_postfix({k: f"{means[k].mean():.2f}" for k in ("loss", "recon", "kl", "tc", "bce") if k in means})
            if config.log_every and step % config.log_every == 0:
                # Right after the compiling dispatch there is no later step to time: count it too.
                since, begun = (first_step, started) if step > first_step else (run_first_step, run_started)
                rate = (step - since) / max(time.perf_counter() - begun, 1e-9)
                averaged = _window_average(window, per_step["noise_scale"][-1])
                for i, run_log in enumerate(run_logs):
                    values = {k: v[i] for k, v in averaged.items()}
                    write(f"step {step}{label(i)}: " + " ".join(f"{k} {v:.4f}" for k, v in values.items())
                          + f" ({rate:.1f} steps/s)")
                    run_log.append("train", step, {"steps_per_s": rate, **values})
                window = []
            if evaluate is not None and config.eval_every and step % config.eval_every == 0:
                for i, (member, run_log) in enumerate(zip(members.configs, run_logs)):
                    scores = evaluate(model._replace(config=member), members.state_of(ts, i), data)
                    write(f"step {step}{label(i)}: " + " ".join(f"{k} {v:.4f}" for k, v in scores.items()))
                    run_log.append("eval", step, scores)
            if (config.save_every and step % config.save_every == 0) or step == last:
                for i, member in enumerate(members.configs):
                    checkpoint.save_checkpoint(member.checkpoint_path(),
                                               checkpoint_payload(member, members.state_of(ts, i), history))
    finally:
        bar.close()
    return ts


def _restart_clock(bar: tqdm, step: int) -> None:
    """The bar at `step` with its clock and rate started now (after the first, compiling dispatch)."""
    if bar.disable:
        return
    bar.set_description_str("", refresh=False)
    bar.reset()
    bar.n = bar.last_print_n = bar.initial = step
    bar.refresh()


def _window_average(window: list[tuple[dict, int]], noise_scale) -> dict:
    """Step-weighted means of the terms since the last log line; the noise scale is the one of
    the last step (a schedule value, not a loss)."""
    total = sum(n for _, n in window)
    averaged = {k: sum(m[k] * n for m, n in window) / total for k in window[0][0]}
    averaged["noise_scale"] = noise_scale
    return averaged
