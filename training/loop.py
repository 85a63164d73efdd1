"""The one training loop: dispatch scans of steps, log, evaluate, checkpoint, resume."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

import configs
from configs import Config, describe
from data import GroundTruthData, get_dataset
from models import Model
from training import checkpoint
from training.restore import model_and_example
from training.machine import describe_machine
from training.run_log import RunLog, log_path
from training.step import TrainState, committed, images_on_device, init_train_state, optimizers, train_steps

# Fields that define what a checkpoint *is*; resuming with any of them changed is refused.
IDENTITY_FIELDS = ("dataset", "gaussian", "tc", "gamma", "num_latents", "num_categories", "hidden_size")
# Fields that shape the optimisation: changed on resume, they change the run from there on (the
# Gumbel noise schedule is computed from `steps` and its endpoints). Refused unless the user
# says so (`--allow_schedule_change`); then the change is recorded in `config_history`.
SCHEDULE_FIELDS = ("steps", "noise_scale_init", "noise_scale_final", "temperature", "learning_rate",
                   "batch_size", "discriminator_learning_rate", "discriminator_b1", "discriminator_b2",
                   "discriminator_second_batch")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is left in place."""


def checkpoint_payload(config: Config, ts: TrainState, config_history: list | None = None) -> dict:
    return {
        "model": config.model_name,
        "dataset": config.dataset,
        "step": int(ts.step),
        "config": config.to_dict(),
        "params": checkpoint.to_numpy(ts.params),
        "state": checkpoint.to_numpy(ts.state),
        "opt_state": checkpoint.flatten_leaves(ts.opt_state),
        "params_disc": checkpoint.to_numpy(ts.params_disc),
        "state_disc": {},
        "opt_state_disc": checkpoint.flatten_leaves(ts.opt_state_disc) if ts.opt_state_disc is not None else None,
        "rng": np.asarray(ts.rng),   # a raw uint32 key (jax.random.PRNGKey)
        # [{"step", "changed": {field: [old, new]}}]: schedule changes made on resume.
        "config_history": list(config_history or []),
    }


def resume_config(path: str | Path, overrides: dict, where: str = "command line") -> Config:
    """The checkpoint's config updated by explicitly given values (keys and types checked as for
    a fresh run); identity changes refused. Schedule changes are checked by `train`."""
    payload = checkpoint.load_checkpoint(path)
    stored = configs.from_dict(payload["config"], where=str(path))
    wanted = configs.from_dict({**payload["config"], **overrides}, where=where)
    changed = [k for k in IDENTITY_FIELDS if getattr(stored, k) != getattr(wanted, k)]
    if changed:
        raise checkpoint.CheckpointError(
            f"{path} is a {stored.model_name} on {stored.dataset} (gamma {stored.gamma}), but the command "
            f"asks for a {wanted.model_name} on {wanted.dataset} (gamma {wanted.gamma}): changed {changed}")
    return wanted


def schedule_changes(stored: Config, config: Config) -> dict:
    """{field: [stored value, new value]} for the SCHEDULE_FIELDS that differ."""
    return {k: [getattr(stored, k), getattr(config, k)] for k in SCHEDULE_FIELDS
            if getattr(stored, k) != getattr(config, k)}


def _resumed_history(payload: dict, config: Config, path, allow_schedule_change: bool) -> list:
    """The checkpoint's config history, plus this resume's schedule changes (refused unless allowed)."""
    changes = schedule_changes(configs.from_dict(payload["config"], where=str(path)), config)
    if changes and not allow_schedule_change:
        described = ", ".join(f"{k} {old!r} -> {new!r}" for k, (old, new) in changes.items())
        raise configs.ConfigError(
            f"{path}: resuming with {described} would change the run from step {payload['step']} on (the noise "
            f"schedule is computed from steps and its endpoints); pass --allow_schedule_change if you mean it")
    history = list(payload.get("config_history", []))
    return history + ([{"step": int(payload["step"]), "changed": changes}] if changes else [])


def restore_parameters(model: Model, example_images, payload: dict, path):
    """(params, state, params_disc) from a checkpoint payload, names and shapes checked
    against a fresh model; all that evaluation and figures need (no optimiser state)."""
    # Shapes only (jax.eval_shape): running the initialisers op by op takes seconds on the CPU.
    params, state, params_disc = jax.eval_shape(lambda x: model.init(jax.random.PRNGKey(0), x), example_images)
    params = _match(params, payload["params"], f"{path} params")
    state = _match(state, payload["state"], f"{path} state")
    if params_disc is not None:
        params_disc = _match(params_disc, payload["params_disc"], f"{path} discriminator params")
    return params, state, params_disc


def restore_train_state(model: Model, example_images, payload: dict, path) -> TrainState:
    """A TrainState (parameters and optimiser states) from a checkpoint payload."""
    params, state, params_disc = restore_parameters(model, example_images, payload, path)
    vae_opt, disc_opt = optimizers(model.config)
    opt_state = checkpoint.restore_tree(vae_opt.init(params), payload["opt_state"], f"{path} optimiser state")
    opt_state_disc = None
    if params_disc is not None:
        opt_state_disc = checkpoint.restore_tree(disc_opt.init(params_disc), payload["opt_state_disc"],
                                                 f"{path} discriminator optimiser state")
    return committed(TrainState(step=jnp.asarray(payload["step"], jnp.int32), params=params, state=state,
                                opt_state=opt_state, params_disc=params_disc, opt_state_disc=opt_state_disc,
                                rng=jnp.asarray(payload["rng"], jnp.uint32)))


def _match(template: dict, stored: dict, what: str):
    """`stored` nested dict in the exact structure of `template` (same keys and shapes)."""
    if not isinstance(stored, dict) or set(stored) != set(template):
        missing = sorted(set(template) - set(stored or {}))
        extra = sorted(set(stored or {}) - set(template))
        raise checkpoint.CheckpointError(f"{what}: parameter names differ (missing {missing}, unexpected {extra})")
    out = {}
    for key, value in template.items():
        if isinstance(value, dict):
            out[key] = _match(value, stored[key], f"{what}/{key}")
        else:
            got = stored[key]
            if not isinstance(got, np.ndarray) or got.shape != tuple(value.shape) or got.dtype != value.dtype:
                raise checkpoint.CheckpointError(
                    f"{what}/{key}: {describe(got)}, the model expects a {value.dtype} array of shape {tuple(value.shape)}")
            out[key] = jnp.asarray(got)
    return out


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


def _start(config: Config, data, resume, allow_schedule_change: bool, log: Callable):
    """(model, data, TrainState, members, config history) of a fresh or resumed run.

    Checks run before work: a bad checkpoint is refused before the data are read, and missing
    data are reported before the initialisers' compiles (~20 s for the first model on 2 cores).
    """
    from training import seeds as multi

    history: list = []
    if resume is not None:
        payload = checkpoint.load_checkpoint(resume)
        history = _resumed_history(payload, config, resume, allow_schedule_change)
    if config.seeds and resume is not None:
        raise configs.ConfigError("--seeds cannot be combined with --resume; resume each seed's checkpoint")
    model, example = model_and_example(config, data, config.batch_size)
    if resume is not None:
        ts = restore_train_state(model, example, payload, resume)
        log(f"resumed {resume} at step {int(ts.step)}")
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
    checkpoints = f"{members.configs[0].checkpoint_path()}" + (" (one per seed)" if config.seeds else "")

    def label(i):
        return f" seed {members.configs[i].seed}" if config.seeds else ""

    window: list[tuple[dict, int]] = []
    bar = tqdm(total=config.steps, initial=step, disable=not progress, unit="step", dynamic_ncols=True)
    write = log if log is not None else bar.write
    started = time.perf_counter()
    last = config.steps if until is None else min(until, config.steps)
    try:
        while step < last:
            chunk = min(_next_boundary(step, config), last) - step
            ts, terms = members.steps_fn(model, data, images, ts, chunk)
            per_step, means = _chunk_means(terms, chunk, step, checkpoints)
            step += chunk
            window.append((means, chunk))
            bar.update(chunk)
            bar.set_postfix({k: f"{means[k].mean():.2f}" for k in ("loss", "recon", "kl", "tc") if k in means})
            if config.log_every and step % config.log_every == 0:
                rate = (step - first_step) / max(time.perf_counter() - started, 1e-9)
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


def _window_average(window: list[tuple[dict, int]], noise_scale) -> dict:
    """Step-weighted means of the terms since the last log line; the noise scale is the one of
    the last step (a schedule value, not a loss)."""
    total = sum(n for _, n in window)
    averaged = {k: sum(m[k] * n for m, n in window) / total for k in window[0][0]}
    averaged["noise_scale"] = noise_scale
    return averaged
