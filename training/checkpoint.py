"""Checkpoints: plain pickles written atomically and read back with a restricted unpickler.

Content (format version 1): plain dicts, lists, tuples, numbers, strings and numpy arrays
only, so that a checkpoint never needs this project's classes to load:
  format_version, model, dataset, step, config (dict), params, state (Haiku, nested dicts),
  opt_state (list of leaves), params_disc, state_disc, opt_state_disc, rng (uint32 key data).
Optimiser states are stored as their flat list of leaves; `restore_tree` rebuilds them from a
freshly initialised optimiser state of the same model.

`load_checkpoint` also reads the authors' checkpoints (SPEC §2) and returns them as this
payload (training/authors_format.py), so every tool reads both through this one reader.
"""
from __future__ import annotations

import io
import pickle
from pathlib import Path

import jax
import numpy as np

from data.atomic import atomic_write
from training import authors_format

FORMAT_VERSION = 1


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
        if np.shape(expected) != np.shape(got):
            raise CheckpointError(f"{what}: array {i} has shape {np.shape(got)}, the model expects {np.shape(expected)}")
    return jax.tree_util.tree_unflatten(treedef, [np.asarray(leaf) for leaf in leaves])


def save_checkpoint(path: str | Path, payload: dict) -> Path:
    """Pickle `payload` to `path` atomically (data/atomic.py)."""
    path = Path(path)
    with atomic_write(path, "wb") as f:
        pickle.dump({"format_version": FORMAT_VERSION, **payload}, f, protocol=pickle.HIGHEST_PROTOCOL)
    return path


# The only globals a checkpoint may name, each mapped to a fixed object (nothing is imported
# by name from the file): what numpy needs to rebuild arrays and scalars (dict, list, tuple,
# str, int and float need nothing), plus the authors' classes, which map to inert stand-ins
# (training/authors_format.py). Files written with numpy 1.x name `numpy.core`, numpy 2
# `numpy._core`.
_NUMPY_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    **{(f"numpy.{core}.multiarray", "_reconstruct"): np._core.multiarray._reconstruct for core in ("core", "_core")},
    **{(f"numpy.{core}.multiarray", "scalar"): np._core.multiarray.scalar for core in ("core", "_core")},
    **{(f"numpy.{core}.numeric", "_frombuffer"): np._core.numeric._frombuffer for core in ("core", "_core")},
}
_GLOBALS = {**_NUMPY_GLOBALS, **authors_format.GLOBALS}


def _global(module: str, name: str):
    """The object standing for `module.name` in a checkpoint, or a one-line refusal."""
    if (module, name) in _GLOBALS:
        return _GLOBALS[module, name]
    if module == "numpy.dtypes" and name.endswith("DType"):  # numpy 2's dtype classes
        value = getattr(np.dtypes, name, None)
        if isinstance(value, type) and issubclass(value, np.dtype):
            return value
    raise CheckpointError(
        f"refusing to load {module}.{name}: a checkpoint (this project's or the authors') holds only "
        f"plain containers, arrays and the authors' TrainState/Box/optax states, so this file is "
        f"either from another program or unsafe")


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        return _global(module, name)


def load_checkpoint(path: str | Path) -> dict:
    """The payload of an lddr checkpoint, or of the authors' (mapped to this project's payload,
    with "source": "authors"); a one-line CheckpointError for anything else."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with open(path, "rb") as f:
            payload = _RestrictedUnpickler(io.BufferedReader(f)).load()
    except (CheckpointError, authors_format.AuthorsFormatError) as error:
        raise CheckpointError(f"{path}: {error}") from None
    except Exception as error:  # truncated or not a pickle at all
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(error).__name__}: {error})") from None
    if authors_format.is_authors_file(payload):
        try:
            return authors_format.to_payload(payload, str(path))
        except authors_format.AuthorsFormatError as error:
            raise CheckpointError(str(error)) from None
    if not isinstance(payload, dict) or "format_version" not in payload:
        raise CheckpointError(f"{path}: not an lddr checkpoint (no format_version)")
    if payload["format_version"] != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {payload['format_version']}, this code reads {FORMAT_VERSION}")
    return payload
