"""What a sweep's run still needs (train, resume, eval, done or unreadable), from its
checkpoint and its eval JSON (scripts/sweep.py)."""
from __future__ import annotations

import json
import time
from pathlib import Path

from checkpoints.checkpoint import CheckpointError, load_checkpoint
from evaluation import protocol as eval_protocol
from sweeps.grid import Run, requested_eval


def checkpoint_step(path) -> int | None:
    """The step stored in a checkpoint, or None when there is none (or it cannot be read)."""
    if not Path(path).is_file():
        return None
    try:
        return int(load_checkpoint(path)["step"])
    except (CheckpointError, KeyError, TypeError, ValueError):
        return None


def _protocol_settings(settings: dict) -> dict:
    """Settings without the keywords that change speed only (they never change a number)."""
    return {m: {k: v for k, v in values.items() if k not in eval_protocol.SPEED_ONLY}
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
        return (
            f"{run.eval_json.name} used eval seed {recorded.get('eval_seed')}, the sweep asks for {wanted['eval_seed']}"
        )
    if wanted["protocol"] == "custom":
        have, want = _protocol_settings(recorded.get("settings")), _protocol_settings(wanted["settings"])
        for metric in set(have) | set(want):
            got = have.get(metric, {})
            if metric == "st_gap":  # the JSON always records the gap's batch counts; compare the asked ones
                got = {k: v for k, v in got.items() if k in want.get(metric, {})}
            if got != want.get(metric, {}):
                return f"{run.eval_json.name} used {metric} settings {got}, the sweep asks for {want.get(metric, {})}"
    return None


def incomplete_note(run: Run) -> str | None:
    """What a matching eval JSON left uncomputed (its `incomplete` list: codes or losses no
    estimator can use), or None. Evaluating again computes the same nothing, so such a run is
    done; the note is what a reader of the sweep's status must still be told."""
    try:
        incomplete = json.loads(run.eval_json.read_text()).get("incomplete")
    except (OSError, ValueError, AttributeError):
        return None
    if not incomplete or not isinstance(incomplete, list):
        return None
    return f"done, but {run.eval_json.name} could not compute {', '.join(map(str, incomplete))}"


def status(run: Run, reasons: dict | None = None) -> str:
    """'done' (a matching eval JSON of the finished run, with or without its checkpoint), 'eval'
    (needs eval only), 'resume',
    'train', or 'unreadable' (a checkpoint file that cannot be read: moved aside before training).

    `reasons`, when given, receives {run name: why} for 'eval' because of a mismatching eval JSON,
    for 'unreadable', and for 'done' with an incomplete evaluation (`incomplete_note`).
    """
    state = _status(run, reasons)
    if state == "done" and reasons is not None:
        note = incomplete_note(run)
        if note:
            reasons[run.name] = note
    return state


def _status(run: Run, reasons: dict | None) -> str:
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
