"""Checkpoints: plain pickles written atomically and read back by a pickle interpreter.

Content (format version 1): plain dicts, lists, tuples, numbers, strings and numpy arrays
only, so that a checkpoint never needs this project's classes to load:
  format_version, model, dataset, step, config (dict), params, state (Haiku, nested dicts),
  opt_state (list of leaves), params_disc, state_disc, opt_state_disc, rng (uint32 key data).
Optimiser states are stored as their flat list of leaves; `restore_tree` rebuilds them from a
freshly initialised optimiser state of the same model.

`load_checkpoint` also reads the authors' checkpoints (docs/design.md §6) and returns them as this
payload (checkpoints/authors_format.py), so every tool reads both through this one reader.
"""
from __future__ import annotations

import glob
import os
import pickle
from pathlib import Path

import jax
import numpy as np

from checkpoints import authors_format
from checkpoints.pickle_reader import Global, PickleRefused, read_pickle
from checkpoints.schema import FORMAT_VERSION, FiniteValues, PayloadError, check_payload
from configs import describe
from configs.text import path_text
from data.atomic import atomic_write


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, unsafe or belongs to another model."""


def to_numpy(tree):
    """Nested dicts/lists/tuples of arrays -> the same structure of numpy arrays (no jax types)."""
    if isinstance(tree, dict):
        return {str(k): to_numpy(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(to_numpy(v) for v in tree)
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    return np.asarray(tree)


def flatten_leaves(tree) -> list:
    """Any pytree (e.g. an optax state) -> its leaves as a list of numpy arrays."""
    return [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(tree)]


def restore_tree(template, leaves: list, what: str):
    """Put stored `leaves` back into the structure of `template`, checking shapes."""
    template_leaves, treedef = jax.tree_util.tree_flatten(template)
    if len(template_leaves) != len(leaves):
        raise CheckpointError(f"{what}: checkpoint has {len(leaves)} arrays, the model expects {len(template_leaves)}")
    for i, (expected, got) in enumerate(zip(template_leaves, leaves)):
        if not isinstance(got, np.ndarray) or got.shape != np.shape(expected) or got.dtype != expected.dtype:
            raise CheckpointError(f"{what}: array {i} is {describe(got)}, the model expects a {expected.dtype} "
                                  f"array of shape {np.shape(expected)}")
    return jax.tree_util.tree_unflatten(treedef, list(leaves))


def save_checkpoint(path: str | Path, payload: dict, replace: bool = True) -> Path:
    """Pickle `payload` to `path` atomically (data/atomic.py); with `replace=False` an existing
    file is kept and FileExistsError raised."""
    path = Path(path)
    with atomic_write(path, "wb", replace=replace) as f:
        pickle.dump({"format_version": FORMAT_VERSION, **payload}, f, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def _numpy_globals() -> dict:
    """The numpy globals an array, dtype or scalar pickles with (numpy 1.x writes `numpy.core`,
    numpy 2 `numpy._core`; protocol 2 writes bytes through `_codecs.encode`, and empty bytes as
    `bytes()`)."""
    table = {("numpy", "ndarray"): Global("ndarray", "numpy.ndarray"),
             ("numpy", "dtype"): Global("dtype", "numpy.dtype"),
             ("_codecs", "encode"): Global("encode", "_codecs.encode"),
             ("__builtin__", "bytes"): Global("empty_bytes", "bytes"),
             ("builtins", "bytes"): Global("empty_bytes", "bytes")}
    for core in ("core", "_core"):
        table[f"numpy.{core}.multiarray", "_reconstruct"] = Global(
            "reconstruct", f"numpy.{core}.multiarray._reconstruct"
        )
        table[f"numpy.{core}.multiarray", "scalar"] = Global("scalar", f"numpy.{core}.multiarray.scalar")
        table[f"numpy.{core}.numeric", "_frombuffer"] = Global("frombuffer", f"numpy.{core}.numeric._frombuffer")
    return table


# The only globals a checkpoint may name: numpy's array, dtype and scalar rebuilders, plus the
# authors' classes (checkpoints/authors_format.py). Each stands for a kind of data that
# checkpoints/pickle_reader.py builds itself; nothing is imported or called by name from the file.
GLOBALS = {**_numpy_globals(), **authors_format.GLOBALS}


def load_checkpoint(path: str | Path) -> dict:
    """The payload of an lddr checkpoint, or of the authors' (mapped to this project's payload,
    with "source": "authors"), checked as a whole (checkpoints/schema.py); a one-line
    CheckpointError for anything else. The file is interpreted, never unpickled
    (checkpoints/pickle_reader.py), so no file can run code, crash, hang or exhaust memory here."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path_text(path)}")
    finite = FiniteValues()
    try:
        with open(path, "rb") as f:
            raw = read_pickle(f, GLOBALS, on_array=finite)
    except PickleRefused as error:
        raise CheckpointError(f"{path_text(path)}: not a readable checkpoint: {error}") from None
    except OSError as error:
        raise CheckpointError(f"{path_text(path)}: cannot be read ({error.strerror})") from None
    try:
        authors = authors_format.is_authors_file(raw)
        if authors:
            raw = {"format_version": FORMAT_VERSION, **authors_format.to_payload(raw, path_text(path))}
        return check_payload(raw, finite, authors=authors)
    except (PayloadError, authors_format.AuthorsFormatError) as error:
        message, shown = str(error), path_text(path)
        raise CheckpointError(message if message.startswith(shown) else f"{shown}: {message}") from None


def expand_checkpoint_paths(items) -> list[Path]:
    """Paths and glob patterns -> checkpoint paths (sorted per pattern, duplicates dropped).
    An argument that names an existing file is that file, whatever characters its name has
    (`run[1].pkl` is a legal name, and as a pattern would match `run1.pkl` only); any other
    argument with `*?[` is a pattern. A pattern that matches nothing or a path that is no
    file is a one-line CheckpointError."""
    paths: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_file():
            paths.append(path)
        elif any(c in item for c in "*?["):
            matches = sorted(glob.glob(os.path.expanduser(item)))
            if not matches:
                raise CheckpointError(f"no file matches {path_text(item)}")
            paths.extend(Path(m) for m in matches)
        else:
            raise CheckpointError(f"no checkpoint at {path_text(path)}")
    return list(dict.fromkeys(paths))
