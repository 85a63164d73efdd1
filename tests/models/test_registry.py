"""The model registry (models/registry.py): every entry builds the authors' parameter tree and
traces two training steps; `run.py --model NAME` is the authors' flags; and the registry is the
one list of models that configs, sweeps, the tables and the figures use."""
import itertools
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

import configs
import run
from analysis import curves, results, tables
from configs import Config, ConfigError
from models import build_model, gaussian_latent, ordered_categorical_latent, quantized_latent
from models.registry import REGISTRY, Latent, get, spec_for, with_flags
from sweeps import grid
from training.step import init_train_state, train_step_on

ENCODER = ["enc_conv0", "enc_conv1", "enc_conv2", "enc_conv3", "enc_mlp"]
DECODER = ["dec_mlp/~/linear_0", "dec_mlp/~/linear_1", "dec_deconv0", "dec_deconv1", "dec_deconv2", "dec_deconv3"]
GAUSSIAN_HEAD = ["enc_means", "enc_logvar"]
CATEGORICAL_HEAD = ["enc_attn_key", "codebook"]
QUANTIZED_HEAD = ["enc_continuous", "quantizer"]
# Written out by hand from docs/design.md §1-§2: each model's Haiku modules in the order they are
# created (the order decides which initialiser gets which random key), and its state.
MODULES = {
    "vae": ENCODER + GAUSSIAN_HEAD + DECODER,
    "dvae": ENCODER + CATEGORICAL_HEAD + DECODER,
    "factor_vae": ENCODER + GAUSSIAN_HEAD + DECODER,
    "factor_dvae": ENCODER + CATEGORICAL_HEAD + DECODER,
    "qlae": ENCODER + QUANTIZED_HEAD + DECODER,
}
STATE = {"vae": {}, "dvae": {"codebook": ["scale", "lambda", "hard"]}, "factor_vae": {},
         "factor_dvae": {"codebook": ["scale", "lambda", "hard"]}, "qlae": {}}
DISCRIMINATOR = {"vae": [], "dvae": [], "factor_vae": [f"discriminator/~/linear_{i}" for i in range(7)],
                 "factor_dvae": [f"discriminator/~/linear_{i}" for i in range(7)], "qlae": []}
# What each model logs per step besides `loss` and `noise_scale` (0 without Gumbel noise).
TERMS = {"vae": {"recon", "kl", "elbo"}, "dvae": {"recon", "kl", "elbo"}, "factor_vae": {"recon", "kl", "elbo", "tc",
         "disc_loss"}, "factor_dvae": {"recon", "kl", "elbo", "tc", "disc_loss"},
         "qlae": {"bce", "quantization", "commitment"}}


def config_of(name, **fields):
    """The entry's Config as `--model NAME` builds it (its own defaults included)."""
    return configs.from_dict({**REGISTRY[name].config_fields(gamma=5.0), **fields})


def model_of(name, **fields):
    return build_model(config_of(name, **fields), 1)


def test_every_model_is_hand_listed():
    assert list(REGISTRY) == list(MODULES) == ["vae", "dvae", "factor_vae", "factor_dvae", "qlae"]


@pytest.mark.parametrize("name", list(MODULES))
def test_entry_builds_the_authors_parameter_tree(name):
    model = model_of(name)
    created = []

    def init(key, images):  # records the creation order, which eval_shape's sorted output loses
        params, state, params_disc = model.init(key, images)
        created.append((list(params), {k: list(v) for k, v in state.items()}, list(params_disc or {})))
        return params, state, params_disc

    jax.eval_shape(init, jax.random.PRNGKey(0), jnp.zeros((2, 64, 64, 1)))
    assert created == [(MODULES[name], STATE[name], DISCRIMINATOR[name])]
    assert model.spec is REGISTRY[name] and (model.discriminator is not None) == REGISTRY[name].discriminator


@pytest.mark.parametrize("name", list(MODULES))
def test_entry_traces_two_training_steps(name):
    model = model_of(name, batch_size=2)
    images = jnp.zeros((2, 64, 64, 1))

    def two_steps():  # the whole training path, shapes only (compiling all four would take minutes)
        ts = init_train_state(model, images)
        return jax.lax.scan(lambda t, _: train_step_on(model, t, lambda key: images), ts, None, length=2)

    ts, terms = jax.eval_shape(two_steps)
    assert set(terms) == {"loss", "noise_scale"} | TERMS[name] and all(t.shape == (2,) for t in terms.values())
    assert (ts.params_disc is None) == (not model.spec.discriminator)
    assert ts.params["dec_mlp/~/linear_0"]["w"].shape == (10, 256)


@pytest.mark.parametrize("latent", [gaussian_latent, ordered_categorical_latent, quantized_latent])
def test_latent_modules_have_the_interface(latent):
    assert isinstance(latent, Latent)


# -- configs: the flags and the command line ------------------------------------------------
def test_flags_table_agrees_with_the_entries():
    assert list(configs.MODEL_FLAGS) == list(REGISTRY)
    assert configs.FLAG_NAMES == ("gaussian", "tc", "quantized")
    for values in itertools.product([False, True], repeat=3):  # every flag combination: one model or refused
        flags = dict(zip(configs.FLAG_NAMES, values))
        models = [name for name, selecting in configs.MODEL_FLAGS.items() if selecting == flags]
        if models:
            assert len(models) == 1 and configs.from_dict(flags).model_name == models[0]
        else:
            assert flags["quantized"] and (flags["gaussian"] or flags["tc"])
            with pytest.raises(ConfigError, match="select no model"):
                configs.from_dict(flags)
    for name, spec in REGISTRY.items():
        assert spec.flags == {"gaussian": spec.latent is gaussian_latent, "tc": spec.discriminator,
                              "quantized": spec.latent is quantized_latent}
        # The gap only for the Gumbel-softmax latent; the ELBO only with a KL; QLAE: its reconstruction.
        assert ("st_gap" in spec.scores) == spec.gumbel == (spec.latent is ordered_categorical_latent)
        assert ("elbo" in spec.scores) == spec.has_kl == (spec.latent is not quantized_latent)
        assert ("reconstruction" in spec.scores) == (not spec.has_kl)
        assert spec.discrete == (spec.latent is not gaussian_latent)
        config = config_of(name)
        assert config.model_name == name and spec_for(config) is spec and with_flags(**spec.flags) is spec
        assert get(name) is spec
    with pytest.raises(KeyError, match="expected one of vae, dvae"):
        get("beta_vae")


def parse(argv):
    return run.config_from_args(run.parse_args(argv))


@pytest.mark.parametrize("name", list(REGISTRY))
def test_model_flag_is_the_authors_flags(name):
    spec = REGISTRY[name]
    gamma = ["--gamma", "30"] if spec.discriminator else []
    authors = spec.authors_flags.replace("G", "30").split()
    by_name = parse(["--dataset", "cars3d", "--model", name] + gamma)
    assert by_name == parse(["--dataset", "cars3d"] + authors)
    assert by_name == Config(dataset="cars3d", **spec.config_fields(gamma=30.0),
                             **configs.MODEL_DEFAULTS.get(name, {}))
    # Given together, flags that agree are accepted.
    assert parse(["--model", name, *(f"--{'' if on else 'no-'}{flag}" for flag, on in spec.flags.items())]
                 + gamma) == config_of(name, gamma=30.0 if spec.discriminator else 0.0)


@pytest.mark.parametrize("name, flag", itertools.product(REGISTRY, ["gaussian", "tc", "quantized"]))
def test_contradicting_flags_are_refused_in_one_line(name, flag, capsys):
    opposite = f"--{'no-' if REGISTRY[name].flags[flag] else ''}{flag}"
    assert run.main(["--model", name, opposite, "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: --model {name} contradicts {opposite}")


def test_unknown_model_is_refused_in_one_line(capsys):
    assert run.main(["--model", "beta_vae", "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown model 'beta_vae'" in err[0] and "factor_dvae" in err[0]
    with pytest.raises(ConfigError, match="contradicts --tc"):
        parse(["--model", "dvae", "--tc"])


# -- the lists of models elsewhere ----------------------------------------------------------
def test_analysis_lists_come_from_the_registry():
    assert list(results.MODEL_NAMES) == list(results.COLOURS) == list(tables.MODEL_ORDER) == list(REGISTRY)
    assert results.MODEL_NAMES["dvae"] == "D-VAE" and results.COLOURS["vae"] == REGISTRY["vae"].colour
    assert results.DISCRETE == ("dvae", "factor_dvae", "qlae") == tuple(n for n, s in REGISTRY.items() if s.discrete)
    assert results.GUMBEL == ("dvae", "factor_dvae") == tuple(n for n, s in REGISTRY.items() if "st_gap" in s.scores)
    assert sorted(m for models in tables.GROUPS.values() for m in models) == sorted(REGISTRY)
    assert tables.GROUPS == {"base": ("vae", "dvae", "qlae"), "tc": ("factor_vae", "factor_dvae")}
    assert sorted(m for _, models in tables.LATENTS for m in models) == sorted(REGISTRY)
    assert tables.LATENTS == (("Gaussian", ("vae", "factor_vae")), ("discrete", ("dvae", "factor_dvae")),
                              ("quantized", ("qlae",)))
    assert tables.PAIRS == (("vae", "dvae"), ("vae", "qlae"), ("dvae", "qlae"), ("factor_vae", "factor_dvae"))
    for name, spec in REGISTRY.items():  # the training curves name each run's model from its file name
        config = config_of(name, gamma=30.0 if spec.discriminator else 0.0, seed=3)
        assert curves.parse_run_name(Path(config.run_name + ".log.jsonl"))["model"] == name


def test_sweeps_take_the_models_from_the_registry(tmp_path):
    sweep = grid.parse_sweep({"datasets": ["dsprites_procedural"], "models": list(REGISTRY), "gammas": [10],
                              "seeds": [1]})
    runs = grid.expand(sweep, tmp_path)
    assert [r.config.model_name for r in runs] == list(REGISTRY)
    assert [r.config.gamma for r in runs] == [10.0 if s.discriminator else 0.0 for s in REGISTRY.values()]
    with pytest.raises(grid.SweepError, match="unknown model"):
        grid.parse_sweep({"datasets": ["dsprites_procedural"], "models": ["beta_vae"], "seeds": [1]})
    with pytest.raises(grid.SweepError, match="may not set"):
        grid.parse_sweep({"datasets": ["dsprites_procedural"], "models": ["vae"], "seeds": [1],
                          "base": {"gaussian": True}})
