"""What a checkpoint payload must hold, checked as a whole before any work starts.

`checkpoints.checkpoint.load_checkpoint` runs `check_payload` on every file it reads (this
project's or, after mapping, the authors'), so every entry point refuses a malformed file in
one line before loading data, compiling or evaluating. Shapes against the model the config
builds are checked where the model is built (`training.loop.restore_parameters`,
`restore_train_state`), which every entry point also does before any work.
"""
from __future__ import annotations

import numpy as np

import configs
from configs import describe
from configs.text import printable
from models.registry import spec_for

FORMAT_VERSION = 1
REQUIRED = ("format_version", "model", "dataset", "step", "config", "params", "state", "opt_state",
            "params_disc", "state_disc", "opt_state_disc", "rng")
# Written by some paths only: resumes with a schedule change, the authors' files and conversions.
OPTIONAL = ("config_history", "source", "converted_from")
# Only in a payload mapped from the authors' own format (checkpoints/authors_format.py): whether
# their config held a seed. Never in a file of this project's format, so `training.convert`
# can tell their files from ours whatever a file says in "source".
AUTHORS_ONLY = ("seed_known",)
MAX_STEP = 2**31 - 1           # the training step is an int32 on the device
NUMERIC_KINDS = "biuf"


class PayloadError(ValueError):
    """One problem with a payload, naming its key."""


def _integer(value, key: str, lowest: int = 0, highest: int = MAX_STEP) -> int:
    if type(value) is not int or not lowest <= value <= highest:
        raise PayloadError(f"{key}: expected an integer in [{lowest}, {highest}], got {describe(value)}")
    return value


def _string(value, key: str) -> str:
    if type(value) is not str:
        raise PayloadError(f"{key}: expected a string, got {describe(value)}")
    return value


def all_finite(array: np.ndarray) -> bool:
    """No NaN or infinity. One pass: a sum of squares is finite only if every value is (NaN and
    infinities propagate); when it overflows, min and max (which propagate NaN and reach +-inf)
    decide exactly."""
    if array.dtype.kind != "f" or not array.size:
        return True
    flat = array.ravel(order="K")      # a view for C- and Fortran-ordered arrays
    with np.errstate(over="ignore", invalid="ignore"):
        if array.dtype.itemsize >= 4 and np.isfinite(np.dot(flat, flat)):
            return True
    return bool(np.isfinite(flat.min()) and np.isfinite(flat.max()))


class FiniteValues:
    """`all_finite` of every array, computed by the checkpoint reader as it builds each one
    (pass an instance as `read_pickle`'s on_array): the bytes are then still in the cache, where
    a separate pass over a large checkpoint reads them from memory again. Arrays it never saw
    (e.g. made by the authors' format mapping) are checked when asked."""

    def __init__(self):
        self.seen: dict[int, tuple[np.ndarray, bool]] = {}     # id -> (the array, finite)

    def __call__(self, array: np.ndarray):
        self.seen[id(array)] = (array, all_finite(array))

    def of(self, array: np.ndarray) -> bool:
        entry = self.seen.get(id(array))
        return entry[1] if entry is not None and entry[0] is array else all_finite(array)


def check_array(value, key: str, finite: FiniteValues) -> np.ndarray:
    """A numeric array with finite values (NaN or infinity in a parameter is a broken run)."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in NUMERIC_KINDS:
        raise PayloadError(f"{key}: expected a numeric array, got {describe(value)}")
    if not finite.of(value):
        raise PayloadError(f"{key}: {describe(value)} with NaN or infinite values")
    return value


def _parameter_tree(value, key: str, finite: FiniteValues):
    """Haiku's {module: {name: array}}: a dict of modules, each a dict of finite numeric
    arrays, string keys; what every model here (and the authors') has, and the shape the
    restore compares with the model's. Checked level by level, so nothing later iterates a
    module that is an array (its elements) or a number."""
    if type(value) is not dict:
        raise PayloadError(f"{key}: expected a dict of modules, got {describe(value)}")
    for module, arrays in value.items():
        if type(arrays) is not dict:
            raise PayloadError(
                f"{key}/{printable(module)}: expected a module (a dict of arrays), got {describe(arrays)}")
        for name, array in arrays.items():
            check_array(array, f"{key}/{printable(module)}/{printable(name)}", finite)


# The codebook's Gumbel state (models/latents.py), each value a number the model computes with:
# the temperature divides the logits, the scale multiplies the noise. Out of these ranges the
# soft sample is NaN (a temperature of 0) or meaningless, and the straight-through gap and the
# ELBO with it. The ranges are the config's for the same quantities (configs.validate).
GUMBEL_RANGES = {
    "lambda": (configs.MIN_TEMPERATURE, configs.MAX_TEMPERATURE, "the Gumbel-softmax temperature"),
    "scale": (0.0, configs.MAX_NOISE_SCALE, "the Gumbel noise scale"),
}


def _gumbel_state(state: dict, key: str = "state/codebook"):
    """The codebook's `lambda` and `scale` in range, where present as numbers (their shape and
    dtype are the model's to check)."""
    codebook = state.get("codebook")
    if not isinstance(codebook, dict):
        return
    for name, (lowest, highest, what) in GUMBEL_RANGES.items():
        value = codebook.get(name)
        if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iuf":
            number = value.item()
            if not lowest <= number <= highest:     # NaN fails too
                raise PayloadError(f"{key}/{name}: {number!r} is outside [{lowest:g}, {highest:g}] ({what})")


def _leaves(value, key: str, finite: FiniteValues):
    """An optimiser state stored as its flat list of arrays."""
    if type(value) is not list:
        raise PayloadError(f"{key}: expected a list of arrays, got {describe(value)}")
    for i, item in enumerate(value):
        check_array(item, f"{key}[{i}]", finite)


def _history(value, key: str = "config_history"):
    if type(value) is not list:
        raise PayloadError(f"{key}: expected a list, got {describe(value)}")
    for i, entry in enumerate(value):
        if type(entry) is not dict or set(entry) != {"step", "changed"} or type(entry["changed"]) is not dict:
            raise PayloadError(f"{key}[{i}]: expected {{'step', 'changed'}}, got {describe(entry)}")
        _integer(entry["step"], f"{key}[{i}].step")
        for field, change in entry["changed"].items():
            if field not in configs.FIELD_TYPES or type(change) not in (list, tuple) or len(change) != 2 \
                    or not all(type(v) in (bool, int, float, str) for v in change):
                raise PayloadError(
                    f"{key}[{i}].changed.{printable(field)}: expected [old, new], got {describe(change)}")


def check_payload(payload, finite: FiniteValues | None = None, authors: bool = False) -> dict:
    """`payload` if it is a complete, well-typed checkpoint payload; otherwise PayloadError.
    `finite`: what the reader already found out about the arrays' values, if anything;
    `authors`: the payload was mapped from the authors' format (AUTHORS_ONLY keys allowed)."""
    finite = finite or FiniteValues()
    if type(payload) is not dict:
        raise PayloadError(f"not an lddr checkpoint (the file holds {describe(payload)})")
    if "format_version" not in payload:
        raise PayloadError("not an lddr checkpoint (no format_version)")
    version = payload["format_version"]
    if type(version) is not int or version != FORMAT_VERSION:
        raise PayloadError(f"format_version is {describe(version)}; this code reads {FORMAT_VERSION}")
    missing = [key for key in REQUIRED if key not in payload]
    if missing:
        raise PayloadError(f"checkpoint lacks {missing}")
    unknown = [key for key in payload if key not in REQUIRED + OPTIONAL + (AUTHORS_ONLY if authors else ())]
    if unknown:
        raise PayloadError(f"checkpoint has unexpected keys: {configs.shown_keys(unknown)}")
    if type(payload["config"]) is not dict:
        raise PayloadError(f"config: expected a dict, got {describe(payload['config'])}")
    try:
        config = configs.from_dict(payload["config"], where="config")
    except configs.ConfigError as error:
        raise PayloadError(str(error)) from None
    if (_string(payload["model"], "model") != config.model_name
            or _string(payload["dataset"], "dataset") != config.dataset):
        raise PayloadError(
            f"model/dataset {describe(payload['model'])}/{describe(payload['dataset'])} "
            f"disagree with the config's {config.model_name}/{config.dataset}"
        )
    step = _integer(payload["step"], "step")
    if step > config.steps:     # a run stops at its steps: such a file was not written by a run
        raise PayloadError(f"step: {step} is past the {config.steps} steps of its config")
    rng = payload["rng"]
    if not (isinstance(rng, np.ndarray) and rng.dtype == np.uint32 and rng.shape == (2,)):
        raise PayloadError(f"rng: expected a raw jax key (uint32 [2]), got {describe(rng)}")
    _parameter_tree(payload["params"], "params", finite)
    _parameter_tree(payload["state"], "state", finite)
    _gumbel_state(payload["state"])
    _leaves(payload["opt_state"], "opt_state", finite)
    if type(payload["state_disc"]) is not dict or payload["state_disc"]:
        raise PayloadError(f"state_disc: expected an empty dict, got {describe(payload['state_disc'])}")
    for key, check in (("params_disc", _parameter_tree), ("opt_state_disc", _leaves)):
        if spec_for(config).discriminator:
            check(payload[key], key, finite)
        elif payload[key] is not None:
            raise PayloadError(f"{key}: a model without --tc has none, got {describe(payload[key])}")
    if "config_history" in payload:
        _history(payload["config_history"])
    for key in ("source", "converted_from"):
        if key in payload:
            _string(payload[key], key)
    if "seed_known" in payload and type(payload["seed_known"]) is not bool:
        raise PayloadError(f"seed_known: expected a bool, got {describe(payload['seed_known'])}")
    return payload
