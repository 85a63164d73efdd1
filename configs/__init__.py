"""One frozen, typed configuration, built from defaults, an optional TOML file and the CLI.

Defaults are the paper's protocol (docs/design.md §5); a model with settings of its own (QLAE,
§11) has them next (MODEL_DEFAULTS). A file under `configs/` overrides them and the command line
overrides the file: `python run.py --config configs/factor_dvae.toml --gamma 40`.
"""
from __future__ import annotations

import argparse
import dataclasses
import tomllib
from pathlib import Path

from data import DATASET_NAMES

CONFIG_DIR = Path(__file__).resolve().parent


class ConfigError(ValueError):
    """A configuration file or value is wrong; the message says which key and why."""


# The models' names and the flags that select each (`run.py --model NAME` is the same as these
# flags): the authors' --gaussian and --tc, and --quantized for QLAE (docs/design.md §11). What
# each model is lives in models/registry.py, which takes its flags from here.
MODEL_FLAGS = {
    "vae": {"gaussian": True, "tc": False, "quantized": False},
    "dvae": {"gaussian": False, "tc": False, "quantized": False},
    "factor_vae": {"gaussian": True, "tc": True, "quantized": False},
    "factor_dvae": {"gaussian": False, "tc": True, "quantized": False},
    "qlae": {"gaussian": False, "tc": False, "quantized": True},
}
FLAG_NAMES = tuple(next(iter(MODEL_FLAGS.values())))
# The defaults that differ for a model: its own settings, used wherever its config is built from
# given values (defaults < these < a --config file < flags; `from_dict`). The fields only QLAE
# reads (QLAE_FIELDS) have QLAE's values as their plain defaults.
MODEL_DEFAULTS = {
    "qlae": {"learning_rate": 1e-3},    # QLAE's optim.learning_rate (the paper's models: 1e-4)
}
QLAE_FIELDS = ("num_values_per_latent", "quantization_weight", "commitment_weight", "weight_decay", "gradient_clip")


def model_named_by(flags: dict) -> str:
    """The model that the flag values `flags` ({"gaussian": bool, "tc": bool, "quantized": bool};
    a flag left out is off) select; a ConfigError for a combination that is no model."""
    wanted = {flag: bool(flags.get(flag, False)) for flag in FLAG_NAMES}
    for name, selecting in MODEL_FLAGS.items():
        if selecting == wanted:
            return name
    on = " ".join(f"--{flag}" for flag, value in wanted.items() if value)
    raise ConfigError(f"{on} select no model: --quantized (QLAE) takes neither --gaussian nor --tc")


@dataclasses.dataclass(frozen=True)
class Config:
    # Data and model.
    dataset: str = "dsprites_procedural"
    gaussian: bool = False          # Gaussian VAE latent instead of the ordered categorical one
    num_latents: int = 10           # N
    num_categories: int = 64        # K (CLI --K)
    hidden_size: int = 256
    # The categorical latent: cosine-annealed Gumbel noise scale, fixed temperature.
    noise_scale_init: float = 0.5   # CLI --init
    noise_scale_final: float = 2.0  # CLI --final
    temperature: float = 1.0
    # Total-correlation penalty (FactorVAE / FactorDVAE).
    tc: bool = False
    gamma: float = 0.0
    discriminator_second_batch: bool = False  # FactorVAE paper: fresh batch for the discriminator
    # QLAE (docs/design.md §11): a learned scalar codebook per latent instead of the paper's
    # latent; the other fields below are read by QLAE only and default to its settings.
    quantized: bool = False
    num_values_per_latent: int = 10  # values in each latent's codebook
    quantization_weight: float = 0.01  # pulls the codebook values toward the encoder's outputs
    commitment_weight: float = 0.01  # pulls the encoder's outputs toward their codebook values
    weight_decay: float = 0.1       # AdamW's, on the weights only (QLAE's lambdas.l2)
    gradient_clip: float = 1.0      # element-wise, on the weights' gradients only (QLAE's optim.clip)
    # Optimisation.
    learning_rate: float = 1e-4
    discriminator_learning_rate: float = 1e-4
    discriminator_b1: float = 0.5
    discriminator_b2: float = 0.9
    batch_size: int = 64
    steps: int = 300_000
    seed: int = 42
    # Bookkeeping.
    log_every: int = 1_000
    eval_every: int = 10_000        # training MIG; 0 turns it off
    save_every: int = 50_000
    save_path: str = "./"
    steps_per_dispatch: int = 10    # training steps fused into one jitted lax.scan
    # Speed (docs/performance.md).
    conv_impl: str = "auto"         # auto | xla | fast: convolution kernels (models/layers.py)
    seeds: str = ""                 # "1,2,3,4": train these seeds at once (vmap); empty = just `seed`

    @property
    def model_name(self) -> str:
        """`vae`, `dvae`, `factor_vae` or `factor_dvae`, as in the paper's result files, or `qlae`."""
        return model_named_by({flag: getattr(self, flag) for flag in FLAG_NAMES})

    @property
    def run_name(self) -> str:
        """The authors' checkpoint stem plus the seed, so seeds no longer overwrite each other
        (QLAE's stem: `{dataset}_qlae`)."""
        stem = self.dataset + ("_gauss" if self.gaussian else "") + ("_qlae" if self.quantized else "")
        if self.tc:
            stem += f"_factor{float(self.gamma)}"
        return f"{stem}_seed{self.seed}"

    @property
    def seed_list(self) -> list[int]:
        """The seeds to train: `seeds` parsed, or just `seed`."""
        return [int(s) for s in self.seeds.split(",")] if self.seeds else [self.seed]

    def checkpoint_path(self) -> Path:
        return Path(self.save_path) / f"{self.run_name}.pkl"

    def replace(self, **changes) -> "Config":
        return validate(dataclasses.replace(self, **changes))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# Every field's role, in one place: what may change between two runs that are "the same".
IDENTITY = "identity"        # what a checkpoint is (model, data, latent, sizes): never changed on resume
SCHEDULE = "schedule"        # the optimisation from here on: changed on resume only when asked, and recorded
IMPLEMENTATION = "implementation"  # how a step is computed (same maths, other float bits): free on resume
BOOKKEEPING = "bookkeeping"  # never enters a jitted computation: seeds, logging, saving, dispatch size
ROLES = {
    "dataset": IDENTITY, "gaussian": IDENTITY, "num_latents": IDENTITY, "num_categories": IDENTITY,
    "hidden_size": IDENTITY, "tc": IDENTITY, "gamma": IDENTITY, "quantized": IDENTITY,
    "num_values_per_latent": IDENTITY,
    "quantization_weight": SCHEDULE, "commitment_weight": SCHEDULE, "weight_decay": SCHEDULE, "gradient_clip": SCHEDULE,
    "noise_scale_init": SCHEDULE, "noise_scale_final": SCHEDULE, "temperature": SCHEDULE,
    "discriminator_second_batch": SCHEDULE, "learning_rate": SCHEDULE, "discriminator_learning_rate": SCHEDULE,
    "discriminator_b1": SCHEDULE, "discriminator_b2": SCHEDULE, "batch_size": SCHEDULE, "steps": SCHEDULE,
    "conv_impl": IMPLEMENTATION,
    "seed": BOOKKEEPING, "seeds": BOOKKEEPING, "log_every": BOOKKEEPING, "eval_every": BOOKKEEPING,
    "save_every": BOOKKEEPING, "save_path": BOOKKEEPING, "steps_per_dispatch": BOOKKEEPING,
}
_FIELD_NAMES = [f.name for f in dataclasses.fields(Config)]
if set(ROLES) != set(_FIELD_NAMES) or set(ROLES.values()) != {IDENTITY, SCHEDULE, IMPLEMENTATION, BOOKKEEPING}:
    # A new field must say how it behaves on resume and whether it enters the computation.
    raise ImportError(f"configs.ROLES and Config's fields differ: {sorted(set(ROLES) ^ set(_FIELD_NAMES))}")


def fields_with(role: str) -> tuple[str, ...]:
    """The names of Config's fields with `role` (IDENTITY, SCHEDULE, IMPLEMENTATION, BOOKKEEPING),
    in the order of the dataclass."""
    return tuple(name for name in _FIELD_NAMES if ROLES[name] == role)


def describe(value) -> str:
    """A bounded description of a value for error messages (type and size, never its repr)."""
    if value is None or isinstance(value, (bool, float)):
        return repr(value)
    if isinstance(value, int):
        return str(value) if abs(value) < 10**15 else f"an int of {value.bit_length()} bits"
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 and value.isprintable() else f"a string of {len(value)} characters"
    if hasattr(value, "dtype") and hasattr(value, "shape"):
        return f"a {value.dtype} array of shape {tuple(value.shape)}"
    if hasattr(value, "describe"):
        return value.describe()
    if isinstance(value, (bytes, memoryview)):
        return f"{len(value)} bytes"
    if isinstance(value, (list, tuple, dict)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def shown_keys(keys, limit: int = 5) -> str:
    """Up to `limit` keys for an error message, each cut to 40 characters."""
    shown = [repr(k[:40]) if isinstance(k, str) else describe(k) for k in list(keys)[:limit]]
    more = len(keys) - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


FIELD_TYPES = {f.name: f.type for f in dataclasses.fields(Config)}
_CASTS = {"str": str, "bool": bool, "int": int, "float": float}


def from_dict(values: dict, where: str = "config") -> Config:
    """A Config from a plain dict; unknown keys and wrong types are refused with their name. A
    field left out takes the default of the model the dict selects (MODEL_DEFAULTS), else Config's."""
    unknown = [k for k in values if k not in FIELD_TYPES]
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {shown_keys(unknown)}; valid keys: {sorted(FIELD_TYPES)}")
    values = {**model_defaults(values), **values}
    typed = {}
    for key, value in values.items():
        kind = _CASTS[FIELD_TYPES[key]]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(f"{where}: {key} must be {FIELD_TYPES[key]}, got {describe(value)}")
        typed[key] = value
    return validate(Config(**typed))


def model_defaults(values: dict) -> dict:
    """MODEL_DEFAULTS of the model that the flags in `values` select ({} where they select none:
    `validate` says why)."""
    flags = {flag: values.get(flag, False) for flag in FLAG_NAMES}
    if not all(isinstance(value, bool) for value in flags.values()):
        return {}   # a wrong type: from_dict names it
    try:
        return dict(MODEL_DEFAULTS.get(model_named_by(flags), {}))
    except ConfigError:
        return {}


def load_file(path: str | Path) -> dict:
    """The key/value table of a TOML file; a bare name is looked up in `configs/`."""
    path = Path(path)
    if not path.is_file() and (CONFIG_DIR / path).is_file():
        path = CONFIG_DIR / path
    if not path.is_file():
        raise ConfigError(f"config file {path} not found (expected a .toml file, e.g. configs/paper.toml)")
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None


def _flag(field: str) -> str:
    """How a user names the field: its flag (the authors' `--K`, `--init`, `--final` where they exist)."""
    flag = {v: k for k, v in _FLAG_TO_FIELD.items()}.get(field, field)
    return f"--{flag}" + (f" ({field})" if flag != field else "")


# Lower bounds no run can go below: (fields, smallest allowed value, why).
_AT_LEAST = (
    (("num_categories",), 2, "one category makes every latent a constant"),
    (("num_values_per_latent",), 2, "one value makes every latent a constant"),
    (("quantization_weight", "commitment_weight", "weight_decay"), 0.0, ""),
    (("num_latents", "hidden_size", "batch_size", "steps", "steps_per_dispatch"), 1, ""),
    (("log_every", "eval_every", "save_every", "seed"), 0, ""),
    (("gamma",), 0.0, "a negative weight would reward total correlation"),
)
# Upper bounds: the largest value the code runs. Checked here, so they hold for flags, TOML
# files, sweeps and the configs stored in checkpoints alike, before anything is allocated for
# them (a file's batch_size of 2^40 asked XLA for petabytes before its parameters were checked).
# The sizes together are bounded by the model's largest layer (MAX_LATENT_UNITS below); a run
# at several bounds at once needs a large accelerator, and on a smaller one ends in one line.
MAX_STEPS = 10**9              # the step is an int32 on the device (< 2^31); 10^9 steps of the paper's
#                                model take years; the schedule's float32 step stays exact to 64 steps
MAX_TEMPERATURE = 1e3          # the Gumbel-softmax temperature (the Haiku state `lambda`), and
MIN_TEMPERATURE = 1e-3         # its inverse: logits / temperature stays finite in float32 for any
#                                logit up to 1e35, and beyond these the softmax is flat or one-hot anyway
MAX_NOISE_SCALE = 1e3          # 500x the paper's final scale: the noise then drowns every logit
MAX_LATENT_UNITS = 65_536      # num_latents x num_categories: the encoder's last layer is
#                                hidden_size x this (at most 2^28 weights, 1 GiB, 3 GiB with Adam's moments)
MAX_SEEDS = 64                 # seeds trained at once: each is a whole model and batch in the same dispatch
MAX_TEXT = 4_096               # characters of a string value (a path: Linux's PATH_MAX)
_AT_MOST = (
    (("num_latents",), 1_024, "the paper uses 10; MIG and DCI compare every latent with every factor"),
    (("num_categories",), 4_096, "the paper uses 64; the codebook's values are 2/K apart"),
    (("hidden_size",), 4_096, "16x the paper's 256; the decoder's first layers are hidden x 1024"),
    (("batch_size",), 65_536, "1,024x the paper's 64: its images alone are 1 to 3 GiB in float32"),
    (("steps", "log_every", "eval_every", "save_every"), MAX_STEPS, ""),
    (("steps_per_dispatch",), 1_000, "on the CPU the dispatch's steps are unrolled into one program: "
                                      "1,000 already compile for minutes"),
    (("seed",), 2**32 - 1, "a jax key holds 32 bits of the seed"),
    (("noise_scale_init", "noise_scale_final"), MAX_NOISE_SCALE, ""),
    (("temperature",), MAX_TEMPERATURE, ""),
    (("gamma",), 1e6, "the paper's largest is 100; the loss must stay finite in float32"),
    (("learning_rate", "discriminator_learning_rate"), 1.0, "Adam's steps are about this size; the weights "
                                                            "start at ~0.05"),
)
# Must be > 0 (and finite): the Gumbel noise schedule's endpoints, the temperature, learning rates.
_POSITIVE = ("noise_scale_init", "noise_scale_final", "temperature", "learning_rate", "discriminator_learning_rate",
             "gradient_clip")
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Config)}


def check_text(value: str, what: str) -> str:
    """A string a run can use as a path or a name: bounded, no NUL (no file name holds one),
    no lone surrogate (it cannot be encoded for the file system). The value is never shown."""
    if len(value) > MAX_TEXT:
        raise ConfigError(f"{what} must be at most {MAX_TEXT} characters, got {len(value)}")
    if "\0" in value:
        raise ConfigError(f"{what} holds a NUL character (no path or name can)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(f"{what} holds a lone surrogate (not encodable as a file name)") from None
    return value


def _seed_list(text: str) -> list[int]:
    """`seeds` parsed and checked: at most MAX_SEEDS distinct seeds in the seed's range."""
    parts = text.split(",", MAX_SEEDS)       # no more parts are made than can be accepted
    if len(parts) > MAX_SEEDS:
        raise ConfigError(f"--seeds lists more than {MAX_SEEDS} seeds (each is a whole model in the same dispatch)")
    try:
        seeds = [int(s) for s in parts]
    except ValueError:
        raise ConfigError(f"--seeds must be comma-separated integers, got {describe(text)}") from None
    for seed in seeds:
        if not 0 <= seed <= 2**32 - 1:
            raise ConfigError(f"--seeds: each seed must be in [0, {2**32 - 1}], got {describe(seed)}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds has duplicates: {describe(text)}")
    return seeds


def validate(config: Config) -> Config:
    """`config` if every value can make a run; otherwise one ConfigError line naming the flag.

    Called for flags, config files, sweeps and the configs stored in checkpoints (every path
    builds its Config through `from_dict` or `Config.replace`), before any data is loaded."""
    import math
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{_flag(field.name)} must be a finite number, got {value}")
        if isinstance(value, str):
            check_text(value, _flag(field.name))
    for fields, lowest, why in _AT_LEAST:
        for key in fields:
            if getattr(config, key) < lowest:
                raise ConfigError(f"{_flag(key)} must be at least {lowest}, got {describe(getattr(config, key))}"
                                  + (f" ({why})" if why else ""))
    for key in _POSITIVE:
        if getattr(config, key) <= 0:
            raise ConfigError(f"{_flag(key)} must be positive, got {getattr(config, key)}")
    for fields, highest, why in _AT_MOST:
        for key in fields:
            if getattr(config, key) > highest:
                raise ConfigError(f"{_flag(key)} must be at most {highest:,}, got {describe(getattr(config, key))}"
                                  + (f" ({why})" if why else ""))
    if config.temperature < MIN_TEMPERATURE:
        raise ConfigError(f"--temperature must be at least {MIN_TEMPERATURE}, got {config.temperature}")
    if not config.gaussian and config.num_latents * config.num_categories > MAX_LATENT_UNITS:
        raise ConfigError(f"--num_latents x --K must be at most {MAX_LATENT_UNITS:,} (the encoder's last layer is "
                          f"hidden_size x that), got {config.num_latents} x {config.num_categories}")
    for key in ("discriminator_b1", "discriminator_b2"):
        if not 0.0 <= getattr(config, key) < 1.0:
            raise ConfigError(f"{_flag(key)} must be in [0, 1) (an Adam decay rate), got {getattr(config, key)}")
    if config.conv_impl not in ("auto", "xla", "fast"):
        raise ConfigError(f"--conv_impl must be auto, xla or fast, got {describe(config.conv_impl)}")
    if config.dataset not in DATASET_NAMES:
        raise ConfigError(f"--dataset: unknown data set {describe(config.dataset)}; expected one of: "
                          f"{', '.join(DATASET_NAMES)}")
    if config.seeds:
        _seed_list(config.seeds)
    if config.gamma != 0.0 and not config.tc:
        raise ConfigError(f"--gamma {config.gamma} has no effect without --tc")
    model_named_by({flag: getattr(config, flag) for flag in FLAG_NAMES})   # flags that select no model: refused
    if not config.quantized:
        for key in QLAE_FIELDS:
            if getattr(config, key) != _DEFAULTS[key]:
                raise ConfigError(f"{_flag(key)} {getattr(config, key)} has no effect without --quantized (QLAE)")
    return config


# -- command line ---------------------------------------------------------------------------
# The authors' flags keep their names (`--K`, `--init`, `--final`); each maps to a field.
_FLAG_TO_FIELD = {"K": "num_categories", "init": "noise_scale_init", "final": "noise_scale_final"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Every Config field as a flag whose default is None, so only given flags override; and
    `--model NAME`, the same as the flags that select that model (MODEL_FLAGS)."""
    parser.add_argument("--config", help="TOML file (a path, or a name under configs/)")
    parser.add_argument("--model", help=f"{', '.join(MODEL_FLAGS)}: the same as the authors' "
                                        "--gaussian / --tc, or --quantized for QLAE (which may be given too, "
                                        "if they agree); a model's own defaults apply (QLAE: --learning_rate 1e-3)")
    field_to_flag = {v: k for k, v in _FLAG_TO_FIELD.items()}
    for name, kind in FIELD_TYPES.items():
        flag = "--" + field_to_flag.get(name, name)
        if kind == "bool":
            parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=None)
        else:
            parser.add_argument(flag, dest=name, type=_CASTS[kind], default=None)


def given_fields(args: argparse.Namespace) -> dict:
    """The fields set on the command line: every given flag, and those that `--model` selects.
    A `--model` that contradicts a given --gaussian / --tc is a ConfigError."""
    given = {name: getattr(args, name) for name in FIELD_TYPES if getattr(args, name, None) is not None}
    model = getattr(args, "model", None)
    if model is None:
        return given
    if model not in MODEL_FLAGS:
        raise ConfigError(f"--model: unknown model {describe(model)}; expected one of: {', '.join(MODEL_FLAGS)}")
    for flag, value in MODEL_FLAGS[model].items():
        if given.get(flag, value) != value:
            raise ConfigError(f"--model {model} contradicts --{'' if given[flag] else 'no-'}{flag}: "
                              f"{model} is {'--' if value else '--no-'}{flag}")
    return {**given, **MODEL_FLAGS[model]}


def from_args(args: argparse.Namespace) -> Config:
    """Defaults < the selected model's defaults < --config file < flags (`from_dict`)."""
    values = load_file(args.config) if getattr(args, "config", None) else {}
    where = args.config if getattr(args, "config", None) else "command line"
    return from_dict({**values, **given_fields(args)}, where=where)
