"""Resuming: a checkpoint's payload written from a TrainState and read back into one, and the
config a resumed run continues with (which changes are refused, which are recorded)."""
from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np

import configs
from checkpoints import checkpoint
from checkpoints.restore import restore_parameters
from configs import Config
from configs.text import path_text
from models import Model
from training.run_log import log_path
from training.step import TrainState, committed, optimizers

# Fields that define what a checkpoint *is*; resuming with any of them changed is refused.
IDENTITY_FIELDS = configs.fields_with(configs.IDENTITY)
# Fields that shape the optimisation: changed on resume, they change the run from there on (the
# Gumbel noise schedule is computed from `steps` and its endpoints). Refused unless the user
# says so (`--allow_schedule_change`); then the change is recorded in `config_history`.
SCHEDULE_FIELDS = configs.fields_with(configs.SCHEDULE)


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
    a fresh run); identity changes refused. Schedule changes are checked by `train`.

    The run writes where the user says: `save_path` from `overrides`, or else the folder of the
    file being resumed. The save_path stored in the file (the authors' `run.save_path` too) says
    where someone once wrote it; a file from elsewhere must not choose which folder a resume
    writes into (it could name another run's folder and replace that run's checkpoint)."""
    payload = checkpoint.load_checkpoint(path)
    stored = configs.from_dict(payload["config"], where=path_text(path))
    folder = overrides.get("save_path", str(Path(path).parent))
    wanted = configs.from_dict({**payload["config"], **overrides, "save_path": folder}, where=where)
    changed = [k for k in IDENTITY_FIELDS if getattr(stored, k) != getattr(wanted, k)]
    if changed:
        raise checkpoint.CheckpointError(
            f"{path_text(path)} is a {stored.model_name} on {stored.dataset} (gamma {stored.gamma}), but the command "
            f"asks for a {wanted.model_name} on {wanted.dataset} (gamma {wanted.gamma}): changed {changed}")
    return wanted


def schedule_changes(stored: Config, config: Config) -> dict:
    """{field: [stored value, new value]} for the SCHEDULE_FIELDS that differ."""
    return {k: [getattr(stored, k), getattr(config, k)] for k in SCHEDULE_FIELDS
            if getattr(stored, k) != getattr(config, k)}


def resumed_history(payload: dict, config: Config, path, allow_schedule_change: bool) -> list:
    """The checkpoint's config history, plus this resume's schedule changes (refused unless allowed)."""
    changes = schedule_changes(configs.from_dict(payload["config"], where=path_text(path)), config)
    if changes and not allow_schedule_change:
        described = ", ".join(f"{k} {old!r} -> {new!r}" for k, (old, new) in changes.items())
        raise configs.ConfigError(
            f"{path_text(path)}: resuming with {described} would change the run from step {payload['step']} on "
            "(the noise schedule is computed from steps and its endpoints); pass --allow_schedule_change if you "
            "mean it")
    history = list(payload.get("config_history", []))
    return history + ([{"step": int(payload["step"]), "changed": changes}] if changes else [])


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def check_resume_target(path: str | Path, payload: dict, config: Config) -> None:
    """A resume of the checkpoint at `path` (its `payload`) into `config` has work to do and
    writes only its own files: a one-line CheckpointError otherwise.

    It writes `config.checkpoint_path()` and its run log. Both may be the resumed run's own
    (the same file, continued), or new; an existing checkpoint or log of another run in that
    folder is refused, since the resume would replace the one and cut the other back to this
    file's step."""
    step = int(payload["step"])
    if step >= config.steps:
        raise checkpoint.CheckpointError(
            f"{path_text(path)} is at step {step} of the {config.steps} steps to train: nothing to resume (to train "
            f"further, pass a larger --steps with --allow_schedule_change)")
    output, resumed = config.checkpoint_path(), Path(path)
    if _same_file(output, resumed):
        return
    for existing in (output, log_path(output)):
        if existing.exists():
            raise checkpoint.CheckpointError(
                f"resuming {path_text(path)} would write {path_text(output)}, but {path_text(existing)} already "
                "exists (another run's); "
                "pass --save_path with another folder")


def restore_train_state(model: Model, example_images, payload: dict, path) -> TrainState:
    """A TrainState (parameters and optimiser states) from a checkpoint payload."""
    params, state, params_disc = restore_parameters(model, example_images, payload, path)
    vae_opt, disc_opt = optimizers(model.config)
    opt_state = checkpoint.restore_tree(vae_opt.init(params), payload["opt_state"],
                                        f"{path_text(path)} optimiser state")
    opt_state_disc = None
    if params_disc is not None:
        opt_state_disc = checkpoint.restore_tree(disc_opt.init(params_disc), payload["opt_state_disc"],
                                                 f"{path_text(path)} discriminator optimiser state")
    return committed(TrainState(step=jnp.asarray(payload["step"], jnp.int32), params=params, state=state,
                                opt_state=opt_state, params_disc=params_disc, opt_state_disc=opt_state_disc,
                                rng=jnp.asarray(payload["rng"], jnp.uint32)))
