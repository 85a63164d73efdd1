"""Checkpoints in the authors' format, built the way their run.py builds them (docs/design.md §6).

Nothing here comes from this project's model code: the Haiku function creates the layers by
their names with plain hk.Conv2D / hk.Linear / hk.Conv2DTranspose, the codebook `embed` and
the Gumbel state at the top level (so Haiku names them `~`), `hard` as a float32, the
config as a frozen python-box Box with their sections, optax's own Adam states, a
NamedTuple `TrainState` whose `__module__` is `__main__` (as a class defined in their
script), jax arrays throughout, and `pickle.dump` of their dict to `{dataset}{_gauss}{_factor<gamma>}.pkl`.
"""
from __future__ import annotations

import math
import pickle
import sys
from pathlib import Path
from typing import NamedTuple

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import optax
from box import Box


class TrainState(NamedTuple):
    params: object
    params_disc: object
    state: object
    opt_state: object
    opt_state_disc: object


TrainState.__module__ = "__main__"   # what a class defined in their run.py pickles as


def authors_config(dataset="dsprites_procedural", gaussian=False, tc=False, gamma=0.0, seed=3, K=64,
                   init=0.5, final=2.0, batch_size=8, num_train_steps=8, num_channels=1,
                   factor_sizes=(3, 2, 4, 4, 4), save_path="./") -> Box:
    """Their config: shared defaults updated by the flags; `discrete` and `model.K` deleted for
    Gaussian models, `discriminator` deleted without --tc; then a frozen Box."""
    config = {
        "run": {"batch_size": batch_size, "num_train_steps": num_train_steps, "log_every": 4,
                "eval_every": 0, "save_every": 4, "discrete": not gaussian, "seed": seed,
                "save_path": save_path},
        "model": {"N": 10, "hidden": 256, "K": K},
        "loss": {"lr": 1e-4, "tc": tc},
        "dataset": {"dataset_name": dataset, "decode_res": (64, 64), "num_channels": num_channels,
                    "factor_sizes": list(factor_sizes)},
        "discrete": {"scale": {"init": init, "final": final}},
        "discriminator": {"num_layers": 6, "optimizer": {"lr": 1e-4, "b1": 0.5, "b2": 0.9}, "gamma": gamma},
    }
    if gaussian:
        del config["discrete"]
        del config["model"]["K"]
    if not tc:
        del config["discriminator"]
    return Box(config, frozen_box=True)


def _encode(images, config):
    x = images
    for i, (channels, kernel) in enumerate([(32, 4), (32, 4), (64, 2), (64, 2)]):
        x = jax.nn.relu(hk.Conv2D(channels, kernel, 2, name=f"enc_conv{i}")(x))
    return jax.nn.relu(hk.Linear(config.model.hidden, name="enc_mlp")(x.reshape(x.shape[0], -1)))


def _codebook(config):
    N, K = config.model.N, config.model.K
    return hk.get_parameter("embed", [N, K, 1], init=hk.initializers.Constant(jnp.linspace(-1.0, 1.0, K)[:, None]))


def _forward(images, config):
    x = _encode(images, config)
    N = config.model.N
    if config.run.discrete:
        logits = hk.Linear(N * config.model.K, name="enc_attn_key")(x).reshape(-1, N, config.model.K)
        embed = _codebook(config)
        scale = hk.get_state("scale", [], init=hk.initializers.Constant(config.discrete.scale.init))
        hk.get_state("lambda", [], init=hk.initializers.Constant(1.0))
        hk.get_state("hard", [], jnp.float32, init=hk.initializers.Constant(False))
        y = jax.nn.softmax(logits + scale * jax.random.gumbel(hk.next_rng_key(), logits.shape))
        z = jnp.einsum("bnk,nkd->bnd", y, jax.lax.stop_gradient(embed)).reshape(-1, N)
    else:
        mean = hk.Linear(N, name="enc_means")(x)
        hk.Linear(N, name="enc_logvar")(x)
        z = mean
    z = hk.nets.MLP([config.model.hidden, 1024], activate_final=True, name="dec_mlp")(z).reshape(-1, 4, 4, 64)
    for i, channels in enumerate([64, 32, 32]):
        z = jax.nn.relu(hk.Conv2DTranspose(channels, 4, 2, name=f"dec_deconv{i}")(z))
    return hk.Conv2DTranspose(config.dataset.num_channels, 4, 2, name="dec_deconv3")(z), z


def _representation(images, config):
    """Their read-out: the noise-free expectation over the codebook, or the Gaussian mean."""
    x = _encode(images, config)
    N = config.model.N
    if not config.run.discrete:
        return hk.Linear(N, name="enc_means")(x)
    logits = hk.Linear(N * config.model.K, name="enc_attn_key")(x).reshape(-1, N, config.model.K)
    return jnp.einsum("bnk,nkd->bnd", jax.nn.softmax(logits), _codebook(config)).reshape(-1, N)


def authors_representation(params: dict, config: Box, images) -> np.ndarray:
    """The authors' read-out of `images` with their parameter names (`~/embed`)."""
    represent = hk.without_apply_rng(hk.transform(_representation))
    return np.asarray(represent.apply(params, jnp.asarray(images, jnp.float32), config))


def read_with_pickle(path):
    """The file read by plain pickle, as the authors' own eval.py reads it (tests only: our file)."""
    main = sys.modules["__main__"]
    had, before = hasattr(main, "TrainState"), getattr(main, "TrainState", None)
    main.TrainState = TrainState
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    finally:
        if had:
            main.TrainState = before
        else:
            del main.TrainState


def _discriminator(z):
    return hk.nets.MLP([1000] * 6 + [2], activation=jax.nn.leaky_relu, name="discriminator")(z)


def _initial(transformed_init, *args, seed: int):
    """Parameters and state with the names and shapes Haiku gives `transformed_init` (traced
    only: initialising op by op on a busy CPU takes minutes), filled from a seeded RandomState;
    the caller sets what their constant initialisers give (the codebook, the Gumbel state)."""
    shapes = jax.eval_shape(transformed_init, jax.random.PRNGKey(0), *args)
    rs = np.random.RandomState(seed)
    fill = lambda leaf: jnp.asarray(0.05 * rs.standard_normal(leaf.shape), leaf.dtype)
    return jax.tree_util.tree_map(fill, shapes)


def _train_a_little(optimizer, params, opt_state, seed, steps, frozen=()):
    """`steps` Adam updates with random gradients (zero for `frozen` modules, as the
    codebook's stop_gradient gives), so the moments and the count are not the initial ones."""
    rs = np.random.RandomState(seed)

    @jax.jit  # one compile; op by op, Adam compiles each of its ops once per parameter shape
    def update(grads, opt_state, params):
        updates, opt_state = optimizer.update(grads, opt_state)
        return optax.apply_updates(params, updates), opt_state

    for _ in range(steps):
        grads = {m: {n: jnp.asarray(0.0 if m in frozen else 0.01 * rs.standard_normal(v.shape), v.dtype)
                     for n, v in module.items()} for m, module in params.items()}
        params, opt_state = update(grads, opt_state, params)
    return params, opt_state


def cosine_scale(step, init, final, total):
    """Their annealed Gumbel noise scale after `step` updates (independent of models/ordered_categorical_latent.py)."""
    t = min(max(step, 0), total)
    return (init - final) / 2 * math.cos(math.pi * t / total) + (init + final) / 2


def authors_name(config: Box) -> str:
    """`{dataset}{_gauss}{_factor<gamma>}.pkl` (no seed)."""
    gauss = "" if config.run.discrete else "_gauss"
    factor = f"_factor{float(config.discriminator.gamma)}" if config.loss.tc else ""
    return f"{config.dataset.dataset_name}{gauss}{factor}.pkl"


def write_authors_checkpoint(folder, step_num=3, protocol=None, **config_fields) -> Path:
    """An authors'-format checkpoint after `step_num` (random-gradient) updates; `protocol`
    None is pickle's default (4), as their `pickle.dump(status, f)` used."""
    config = authors_config(**config_fields)
    forward = hk.transform_with_state(_forward)
    rng = jax.random.PRNGKey(config.run.seed)
    rng, _ = jax.random.split(rng)   # their initialisation key
    images = jnp.zeros((1, 64, 64, config.dataset.num_channels), jnp.float32)
    params, state = _initial(lambda k, x: forward.init(k, x, config), images, seed=config.run.seed)
    if config.run.discrete:
        K = config.model.K
        params["~"]["embed"] = jnp.broadcast_to(jnp.linspace(-1.0, 1.0, K)[:, None], (config.model.N, K, 1))
        state["~"] = {"scale": jnp.float32(config.discrete.scale.init), "lambda": jnp.float32(1.0),
                      "hard": jnp.float32(False)}
    optimizer = optax.adam(learning_rate=config.loss.lr)
    params, opt_state = _train_a_little(optimizer, params, optimizer.init(params), 7, step_num, frozen=("~",))
    params_disc = opt_state_disc = None
    if config.loss.tc:
        discriminator = hk.without_apply_rng(hk.transform(_discriminator))
        params_disc = _initial(discriminator.init, jnp.zeros((1, config.model.N), jnp.float32), seed=8)
        optimizer_disc = optax.adam(learning_rate=config.discriminator.optimizer.lr,
                                    b1=config.discriminator.optimizer.b1, b2=config.discriminator.optimizer.b2)
        params_disc, opt_state_disc = _train_a_little(optimizer_disc, params_disc, optimizer_disc.init(params_disc),
                                                      9, step_num)
    if config.run.discrete:
        state["~"]["scale"] = jnp.float32(cosine_scale(step_num, config.discrete.scale.init,
                                                       config.discrete.scale.final, config.run.num_train_steps))
    for _ in range(step_num):
        rng, _ = jax.random.split(rng)
    status = {"step_num": step_num, "train_state": TrainState(params, params_disc, state, opt_state, opt_state_disc),
              "rng": rng, "config": config}
    return dump_as_authors(status, Path(folder) / authors_name(config), protocol)


def dump_as_authors(status: dict, path: Path, protocol=None) -> Path:
    """Pickle `status` as their run.py does: the TrainState class is an attribute of __main__
    (pickle checks that it is)."""
    main = sys.modules["__main__"]
    had, before = hasattr(main, "TrainState"), getattr(main, "TrainState", None)
    main.TrainState = TrainState
    try:
        with open(path, "wb") as f:
            pickle.dump(status, f, protocol=protocol)
    finally:
        if had:
            main.TrainState = before
        else:
            del main.TrainState
    return path


FACTOR_VAE = {"gaussian": True, "tc": True, "gamma": 30.0}


def authors_files(folder) -> dict[str, Path]:
    """The authors' D-VAE and FactorVAE (--gaussian --tc --gamma 30) after 3 of 8 steps."""
    return {"dvae": write_authors_checkpoint(folder), "factor_vae": write_authors_checkpoint(folder, **FACTOR_VAE)}


class GlobalsRecorder(pickle.Unpickler):
    """Plain pickle with the real classes (our own test file), recording the globals it names."""
    def __init__(self, f):
        super().__init__(f)
        self.names = set()

    def find_class(self, module, name):
        self.names.add(f"{module}.{name}")
        return TrainState if (module, name) == ("__main__", "TrainState") else super().find_class(module, name)
