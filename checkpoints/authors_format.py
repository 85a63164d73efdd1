"""Checkpoints written by the authors' release (docs/design.md §6), read without running their code.

Their run.py pickles `{"step_num", "train_state", "rng", "config"}` where `train_state` is a
NamedTuple defined in their script (`__main__.TrainState`: params, params_disc, state,
opt_state, opt_state_disc), arrays are jax arrays, optimiser states are optax's
(`ScaleByAdamState`, `EmptyState` in tuples) and `config` is a frozen `box.Box`.

`GLOBALS` maps exactly the globals such a file names to inert stand-ins that rebuild plain
data (tuples, dicts, numpy arrays); nothing from `__main__`, box, optax or jax is imported or
called on the file's say-so. `to_payload` turns what the stand-ins rebuilt into this
project's checkpoint payload (checkpoints/checkpoint.py): the codebook `~/embed` becomes
`codebook/embed`, the Gumbel state `~` {scale, lambda, hard (float32)} becomes `codebook`
{scale, lambda, hard (bool)}, the Box becomes a `configs.Config`, and the Adam states become
the flat list of leaves this project stores (same order as its own optax state).
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import numpy as np

import configs
from checkpoints.pickle_reader import Global
from configs import describe
from configs.text import printable
from models.registry import spec_for

SOURCE = "authors"          # payload["source"] of a checkpoint read from (or converted from) their file
CODEBOOK = "codebook"       # this project's name of the module holding `embed` and the Gumbel state
AUTHORS_CODEBOOK = "~"      # theirs: created at the top level of the Haiku function


class AuthorsFormatError(ValueError):
    """The file names the authors' classes but its content is not what their run.py writes."""


# -- inert stand-ins -------------------------------------------------------------------------
# checkpoints/pickle_reader.py constructs these itself from checked data (NEWOBJ with the right
# number of fields); nothing of the authors' code, box, optax or jax is imported or called.
class TrainStateRecord(NamedTuple):
    """Stand-in for the authors' `__main__.TrainState`."""
    params: Any
    params_disc: Any
    state: Any
    opt_state: Any
    opt_state_disc: Any


class AdamStateRecord(NamedTuple):
    """Stand-in for optax's `ScaleByAdamState`."""
    count: Any
    mu: Any
    nu: Any


class EmptyStateRecord(NamedTuple):
    """Stand-in for optax's `EmptyState`."""


class BoxRecord(dict):
    """Stand-in for `box.box.Box`: a plain dict. Box pickles as dict items plus a BUILD of its
    `_box_config` options, which the reader drops."""


# (module, name) as the authors' files name them -> what the reader builds for it. Their jax
# arrays pickle as `_reconstruct_array(numpy's _reconstruct, args, array state, aval state)`;
# the reader rebuilds the numpy value only.
GLOBALS = {
    ("__main__", "TrainState"): Global("record", "__main__.TrainState", TrainStateRecord),
    ("box.box", "Box"): Global("mapping", "box.box.Box", BoxRecord),
    ("optax._src.transform", "ScaleByAdamState"): Global("record", "optax ScaleByAdamState", AdamStateRecord),
    ("optax._src.base", "EmptyState"): Global("record", "optax EmptyState", EmptyStateRecord),
    ("jax._src.array", "_reconstruct_array"): Global("jax_array", "jax._src.array._reconstruct_array"),
}


# -- recognising and mapping ---------------------------------------------------------------
def is_authors_file(raw) -> bool:
    """Whether an unpickled object is the authors' checkpoint dict."""
    return isinstance(raw, dict) and isinstance(raw.get("train_state"), TrainStateRecord)


def _section(config: dict, *keys, where: str, required: bool = True):
    value = config
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            if not required:
                return None
            raise AuthorsFormatError(f"{where}: config has no {'.'.join(keys)}")
        value = value[key]
    return value


def to_config(box: dict, where: str = "config") -> configs.Config:
    """The authors' config Box (sections run, model, loss, dataset, discrete, discriminator)
    -> a Config. Sections their run.py deletes (`discrete` for Gaussian models,
    `discriminator` without --tc) fall back to this project's defaults."""
    if not isinstance(box, dict):
        raise AuthorsFormatError(f"{where}: config is not a Box")

    def get(*keys, required=True):
        return _section(box, *keys, where=where, required=required)

    discrete = get("run", "discrete")
    tc = get("loss", "tc")
    for key, flag in (("run.discrete", discrete), ("loss.tc", tc)):
        if type(flag) is not bool:
            raise AuthorsFormatError(f"{where}: config {key} must be a bool, got {describe(flag)}")
    values = {
        "dataset": get("dataset", "dataset_name"),
        "gaussian": not discrete,
        "num_latents": get("model", "N"),
        "hidden_size": get("model", "hidden"),
        "tc": tc,
        "learning_rate": get("loss", "lr"),
        "batch_size": get("run", "batch_size"),
        "steps": get("run", "num_train_steps"),
        "log_every": get("run", "log_every", required=False),
        "eval_every": get("run", "eval_every", required=False),
        "save_every": get("run", "save_every", required=False),
        "seed": get("run", "seed", required=False),
        "save_path": get("run", "save_path", required=False),
    }
    if discrete:
        values.update(num_categories=get("model", "K"), noise_scale_init=get("discrete", "scale", "init"),
                      noise_scale_final=get("discrete", "scale", "final"))
    if tc:
        layers = get("discriminator", "num_layers")
        if type(layers) is not int or layers != 6:
            raise AuthorsFormatError(
                f"{where}: discriminator with {describe(layers)} hidden layers; this project's has 6")
        values.update(
            gamma=get("discriminator", "gamma"),
            discriminator_learning_rate=get("discriminator", "optimizer", "lr"),
            discriminator_b1=get("discriminator", "optimizer", "b1"),
            discriminator_b2=get("discriminator", "optimizer", "b2"),
        )
    resolution = get("dataset", "decode_res", required=False)
    if resolution is not None and (
        type(resolution) not in (list, tuple)
        or len(resolution) != 2
        or any(type(n) is not int for n in resolution)
        or list(resolution) != [64, 64]
    ):
        raise AuthorsFormatError(
            f"{where}: dataset.decode_res is {describe(resolution)}; this project's models take 64x64 images"
        )
    values = {k: v for k, v in values.items() if v is not None}
    try:
        return configs.from_dict(values, where=f"{where} (authors' config)")
    except configs.ConfigError as error:
        raise AuthorsFormatError(str(error)) from None


def _modules(tree, where: str) -> dict:
    """Haiku's {module: {name: array}}, as their Haiku functions make it, checked level by level
    before anything iterates further (a module that is an array or a number is refused, never
    taken apart); a plain dict of plain dicts out."""
    if not isinstance(tree, dict):
        raise AuthorsFormatError(f"{where}: expected a dict of modules, found {describe(tree)}")
    out = {}
    for module, arrays in tree.items():
        if not isinstance(arrays, dict):
            raise AuthorsFormatError(f"{where}/{printable(module)}: expected a module (a dict of arrays), "
                                     f"found {describe(arrays)}")
        for name, array in arrays.items():
            if not isinstance(array, np.ndarray):
                raise AuthorsFormatError(f"{where}/{printable(module)}/{printable(name)}: expected an array, "
                                         f"found {describe(array)}")
        out[module] = dict(arrays)
    return out


def _float32(value, where: str) -> np.ndarray:
    """A plain number their loop wrote back (the annealed scale) as a float32 scalar; a value
    float32 cannot hold is refused here, before numpy's cast would warn and make it infinite."""
    number = float(value)
    if not math.isfinite(number) or abs(number) > float(np.finfo(np.float32).max):
        raise AuthorsFormatError(f"{where}: {number!r} is not a finite float32")
    return np.asarray(number, np.float32)


def _rename_codebook(tree: dict) -> dict:
    """Top-level `~` (the authors' codebook module) -> `codebook`; deeper `~` are Haiku's own."""
    return {(CODEBOOK if k == AUTHORS_CODEBOOK else k): v for k, v in tree.items()}


def _hard_flag(value: np.ndarray, where: str) -> np.ndarray:
    """Their `hard` is a float32 0.0 or 1.0 -> a bool. Anything else (NaN, 0.5, an array of
    several) is not a flag their code writes; `value != 0` would make NaN True."""
    if value.shape != () or value.dtype.kind not in "biuf" or value.item() not in (0, 1):
        raise AuthorsFormatError(f"{where}: expected 0.0 or 1.0 (a flag), got {describe(value)}"
                                 + (f" holding {value.item()!r}" if value.shape == () and value.dtype.kind in "biuf"
                                    else ""))
    return np.asarray(value.item() == 1, np.bool_)


def _gumbel_state(state, where: str) -> dict:
    """Their state `~` {scale, lambda, hard float32} -> ours `codebook` {..., hard bool}.
    Their loop writes the annealed scale back after every step, so it may be a plain number."""
    if not isinstance(state, dict):
        raise AuthorsFormatError(f"{where}: expected a dict, found {describe(state)}")
    state = _rename_codebook(state)
    if isinstance(state.get(CODEBOOK), dict):
        codebook = {
            k: (_float32(v, f"{where}/{AUTHORS_CODEBOOK}/{printable(k)}")
                if isinstance(v, (int, float, np.number)) and not isinstance(v, bool) else v)
            for k, v in state[CODEBOOK].items()
        }
        if isinstance(codebook.get("hard"), np.ndarray):
            codebook["hard"] = _hard_flag(codebook["hard"], f"{where}/{AUTHORS_CODEBOOK}/hard")
        state = {**state, CODEBOOK: codebook}
    return _modules(state, where)


def _optimizer_leaves(opt_state, where: str) -> list:
    """Their optax state (tuples of ScaleByAdamState / EmptyState) -> this project's stored
    leaves: count, then mu and nu in sorted parameter-name order (as jax flattens dicts),
    after renaming their codebook so the order is this project's."""
    if isinstance(opt_state, AdamStateRecord):
        count = opt_state.count
        if not (isinstance(count, np.ndarray) and count.shape == () and count.dtype.kind in "iu"):
            raise AuthorsFormatError(f"{where}: Adam step count is not an integer array")
        leaves = [count]
        for name, moments in (("mu", opt_state.mu), ("nu", opt_state.nu)):
            if not isinstance(moments, dict):
                raise AuthorsFormatError(f"{where}/{name}: expected a parameter dict")
            leaves += jax.tree_util.tree_leaves(_rename_codebook(_modules(moments, f"{where}/{name}")))
        return leaves
    if isinstance(opt_state, EmptyStateRecord):
        return []
    if isinstance(opt_state, tuple) and type(opt_state) is tuple:
        return [leaf for i, part in enumerate(opt_state) for leaf in _optimizer_leaves(part, f"{where}[{i}]")]
    raise AuthorsFormatError(f"{where}: expected optax Adam states in tuples, found {describe(opt_state)}")


def to_payload(raw: dict, where: str) -> dict:
    """The authors' checkpoint dict -> this project's payload (without format_version, which
    checkpoints.checkpoint adds; checkpoints.schema checks the result)."""
    missing = sorted({"step_num", "train_state", "rng", "config"} - set(raw))
    if missing:
        raise AuthorsFormatError(f"{where}: the authors' checkpoint lacks {missing}")
    ts: TrainStateRecord = raw["train_state"]
    if not isinstance(ts.params, dict):
        raise AuthorsFormatError(f"{where}: params is not a parameter dict")
    config = to_config(raw["config"], where)
    step = raw["step_num"]
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise AuthorsFormatError(f"{where}: step_num must be a non-negative integer, got {describe(step)}")
    rng = raw["rng"]
    if not (isinstance(rng, np.ndarray) and rng.shape == (2,) and rng.dtype == np.uint32):
        raise AuthorsFormatError(f"{where}: rng must be a raw jax key (uint32 [2])")
    tc = ts.params_disc is not None
    if tc != spec_for(config).discriminator:
        raise AuthorsFormatError(
            f"{where}: config says tc={config.tc} but the discriminator is {'present' if tc else 'missing'}"
        )
    return {
        "source": SOURCE,
        "model": config.model_name,
        "dataset": config.dataset,
        "step": step,
        "config": config.to_dict(),
        "params": _rename_codebook(_modules(ts.params, f"{where} params")),
        "state": _gumbel_state(ts.state if ts.state is not None else {}, f"{where} state"),
        "opt_state": _optimizer_leaves(ts.opt_state, f"{where} opt_state"),
        "params_disc": _modules(ts.params_disc, f"{where} params_disc") if tc else None,
        "state_disc": {},
        "opt_state_disc": _optimizer_leaves(ts.opt_state_disc, f"{where} opt_state_disc") if tc else None,
        "rng": rng,
        # Their run.py always stores the seed; a file without one gets the default seed, which
        # training/convert.py then keeps out of the output name.
        "seed_known": _section(raw["config"], "run", "seed", where=where, required=False) is not None,
    }
