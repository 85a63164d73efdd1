"""Convert a checkpoint written by the authors' run.py into this project's format
(the command line: scripts/convert.py).

Every tool here (eval.py, scripts/visualize.py, run.py --resume, ...) already reads the
authors' files directly; converting gives a file that needs no stand-ins to load and carries
the seed in its name (the authors' names have none, so their seeds overwrite each other).
The file is read with the restricted unpickler (nothing in it is executed) and written
atomically; the converted payload keeps "source": "authors" and the original path. An existing
file is never replaced unless the caller says so (`force`): the output's name comes from the
input's config, so a file could otherwise pick which neighbour to overwrite.
"""
from __future__ import annotations

from pathlib import Path

import configs
from checkpoints import authors_format
from checkpoints.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from checkpoints.restore import model_and_example
from configs.text import path_text
from training.resume import restore_train_state


def default_output(source: Path, payload: dict) -> Path:
    """Next to the source, named as this project names runs (`{stem}_seed{seed}.pkl`);
    `{stem}_converted.pkl` when the authors' config holds no seed."""
    config = configs.from_dict(payload["config"])
    if payload.get("seed_known", True):
        return source.with_name(config.checkpoint_path().name)
    return source.with_name(source.stem + "_converted.pkl")


def convert(source, output=None, force: bool = False) -> Path:
    """Read the authors' checkpoint at `source`, write this project's; returns the new path.
    An existing `output` is refused unless `force` (the authors' file itself, always)."""
    source = Path(source)
    payload = load_checkpoint(source)
    # Only a file in the authors' own format is mapped with `seed_known` (checkpoints.schema
    # refuses it in this project's files), so a file of ours that merely says "source":
    # "authors" is not taken for theirs.
    if "seed_known" not in payload or payload.get("source") != authors_format.SOURCE:
        raise CheckpointError(f"{path_text(source)}: not a checkpoint of the authors' code (nothing to convert)")
    output = Path(output) if output is not None else default_output(source, payload)
    if output.resolve() == source.resolve():
        raise CheckpointError(f"{path_text(output)}: the output would overwrite the authors' file; give another name")
    if output.exists() and not force:
        raise CheckpointError(f"{path_text(output)} already exists; not replaced (give another output, or --force)")
    check_against_model(payload, source)
    payload = {k: v for k, v in payload.items() if k not in ("format_version", "seed_known")}
    try:
        return save_checkpoint(output, {**payload, "converted_from": str(source)}, replace=force)
    except FileExistsError:     # appeared since the check above
        raise CheckpointError(
            f"{path_text(output)} already exists; not replaced (give another output, or --force)") from None


def check_against_model(payload: dict, where) -> None:
    """Every parameter and optimiser array has the name, shape and dtype of the model the
    config builds (as a resume would check), before anything is written."""
    restore_train_state(*model_and_example(configs.from_dict(payload["config"])), payload, where)
