"""The train state and the jitted multi-step update.

Everything per step happens on the device: batch indices are drawn with `jax.random` from
the uint8 images kept on the device, the Gumbel noise scale is computed from the step
number, and `steps` updates run inside one `lax.scan` per dispatch. Each step's randomness
is `fold_in(rng, step)`, so results do not depend on how steps are grouped into dispatches
(which is what makes resuming exact).
"""
from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.dlpack
import jax.numpy as jnp
import numpy as np
import optax

from configs import Config
from models import Model, gumbel_noise_scale, losses, set_gumbel_state, spec_for
from models.networks import permute_dims


class TrainState(NamedTuple):
    step: jax.Array          # [] int32, number of updates done
    params: Any
    state: Any               # Haiku state (the categorical codebook's scale / lambda / hard; QLAE: none)
    opt_state: Any
    params_disc: Any         # None for a model without the TC discriminator
    opt_state_disc: Any
    rng: jax.Array           # base key; step t uses fold_in(rng, t)


def paper_optimizer(config: Config) -> optax.GradientTransformation:
    """The authors' Adam for every parameter (docs/design.md §4)."""
    return optax.adam(config.learning_rate, b1=0.9, b2=0.999)


def qlae_optimizer(config: Config) -> optax.GradientTransformation:
    """QLAE's optimiser (docs/design.md §11), two groups of parameters: the weights (every `w`)
    through element-wise gradient clipping at `gradient_clip` and AdamW with `weight_decay`;
    the biases (`b`) and the codebook values through plain Adam; one learning rate."""
    groups = {"weights": optax.chain(optax.clip(config.gradient_clip),
                                     optax.adamw(config.learning_rate, weight_decay=config.weight_decay)),
              "unregularised": optax.adam(config.learning_rate)}
    return optax.multi_transform(groups, weight_labels)


def weight_labels(params: dict) -> dict:
    """The Haiku tree {module: {name: array}} with each leaf's group in `qlae_optimizer`."""
    return {module: {name: "weights" if name == "w" else "unregularised" for name in leaves}
            for module, leaves in params.items()}


# The model optimisers a registry entry may name (ModelSpec.optimizer).
OPTIMIZERS = {"adam": paper_optimizer, "qlae": qlae_optimizer}


def optimizers(config: Config):
    """(model optimiser, discriminator optimiser or None): the entry's (docs/design.md §4, §11)."""
    spec = spec_for(config)
    vae = OPTIMIZERS[spec.optimizer](config)
    disc = optax.adam(config.discriminator_learning_rate, b1=config.discriminator_b1,
                      b2=config.discriminator_b2) if spec.discriminator else None
    return vae, disc


def init_train_state(model: Model, example_images) -> TrainState:
    """Parameters and optimiser states from `config.seed` (initialisation and noise)."""
    init_key, train_key = jax.random.split(jax.random.PRNGKey(model.config.seed))
    params, state, params_disc = model.init(init_key, example_images)
    vae_opt, disc_opt = optimizers(model.config)
    return committed(TrainState(
        step=jnp.zeros([], jnp.int32), params=params, state=state,
        opt_state=vae_opt.init(params), params_disc=params_disc,
        opt_state_disc=disc_opt.init(params_disc) if disc_opt else None, rng=train_key))


def committed(ts: TrainState) -> TrainState:
    """The same values, committed to the default device.

    Arrays made outside a jitted function are uncommitted; `train_steps` returns committed
    ones. jit keys its cache on that, so without this the second dispatch of every run (and of
    every resume) compiled the whole unrolled step a second time.
    """
    return jax.device_put(ts, jax.devices()[0])


def images_on_device(data) -> jax.Array:
    """The data set's uint8 images [num, 64, 64, C] as a device array, made once per data set.

    On the CPU the device is host memory, and a second copy would double the resident memory
    of training (dSprites: 6 GB instead of 3). So the numpy array is shared through DLPack;
    XLA shares only 64-byte-aligned memory and copies otherwise, in which case `data.images`
    becomes a (read-only) numpy view of that copy and the original can be freed.
    """
    cached = getattr(data, "_device_images", None)
    if cached is not None:
        return cached
    images = data.images
    device = None
    if jax.default_backend() == "cpu":
        try:
            device = jax.dlpack.from_dlpack(images)
        except (TypeError, ValueError, RuntimeError, BufferError, jax.errors.JaxRuntimeError):
            pass  # not exportable (e.g. read-only): copied below
        if device is not None and device.unsafe_buffer_pointer() != images.ctypes.data:
            data.images = np.asarray(device)
    if device is None:
        device = jax.device_put(images)
        if jax.default_backend() == "cpu":
            data.images = np.asarray(device)
    data._device_images = device
    return device


def _sample_batch(data, images, key, batch_size):
    """Uniform i.i.d. images: [batch, 64, 64, C] float32 from the uint8 array on the device."""
    index_key, observation_key = jax.random.split(key)
    index = jax.random.randint(index_key, (batch_size,), 0, images.shape[0])
    return data.to_observations(observation_key, images[index])


def train_step(model: Model, data, images, ts: TrainState):
    """One update on batches drawn on the device from `images` (see `train_step_on`)."""
    return train_step_on(model, ts, lambda key: _sample_batch(data, images, key, model.config.batch_size))


def train_step_on(model: Model, ts: TrainState, draw_batch):
    """One VAE update then (with TC) one discriminator update on the same batch's z.

    `draw_batch(key)` -> [batch, 64, 64, C] float32: called with the step's batch key, and
    with a second key when the discriminator trains on a second batch. (benchmarks/
    train_speed.py's baseline passes a batch drawn on the host instead.)
    """
    config = model.config
    vae_opt, disc_opt = optimizers(config)
    batch_key, model_key, perm_key, second_key = jax.random.split(jax.random.fold_in(ts.rng, ts.step), 4)
    x = draw_batch(batch_key)

    noise_scale = gumbel_noise_scale(ts.step, config.steps, config.noise_scale_init, config.noise_scale_final)
    state = set_gumbel_state(ts.state, scale=noise_scale)
    grads, (terms, state, z) = jax.grad(model.loss, has_aux=True)(
        ts.params, state, ts.params_disc, model_key, x)
    updates, opt_state = vae_opt.update(grads, ts.opt_state, ts.params)
    params = optax.apply_updates(ts.params, updates)

    params_disc, opt_state_disc = ts.params_disc, ts.opt_state_disc
    if model.spec.discriminator:
        z = jax.lax.stop_gradient(z)
        z_other = z
        if config.discriminator_second_batch:
            other_batch_key, other_model_key = jax.random.split(second_key)
            x_other = draw_batch(other_batch_key)
            outputs, _ = model.forward.apply(ts.params, state, other_model_key, x_other)
            z_other = jax.lax.stop_gradient(outputs["z"])

        def disc_loss(p):
            # One discriminator call on [z; z_perm] (batch 2B) instead of two of B: larger
            # matmuls, ~5 % faster FactorDVAE steps on the CPU (docs/performance.md).
            both = model.discriminator.apply(p, jnp.concatenate([z, permute_dims(perm_key, z_other)]))
            return losses.discriminator_loss(both[:z.shape[0]], both[z.shape[0]:])

        terms["disc_loss"], disc_grads = jax.value_and_grad(disc_loss)(ts.params_disc)
        disc_updates, opt_state_disc = disc_opt.update(disc_grads, ts.opt_state_disc, ts.params_disc)
        params_disc = optax.apply_updates(ts.params_disc, disc_updates)

    # The categorical latent's Gumbel noise scale; a model without Gumbel noise logs 0.
    terms["noise_scale"] = noise_scale if model.spec.gumbel else jnp.float32(0.0)
    new_ts = TrainState(ts.step + 1, params, state, opt_state, params_disc, opt_state_disc, ts.rng)
    return new_ts, terms


@partial(jax.jit, static_argnums=(0, 1, 4), donate_argnums=(3,))
def train_steps(model: Model, data, images, ts: TrainState, steps: int):
    """`steps` updates in one dispatch; returns the new state and the per-step terms [steps].

    On the CPU the scan is fully unrolled: XLA:CPU runs convolutions inside a while loop several
    times slower than the same ops unrolled (docs/performance.md).
    """
    unroll = steps if jax.default_backend() == "cpu" else 1
    return jax.lax.scan(lambda carry, _: train_step(model, data, images, carry), ts, None,
                        length=steps, unroll=unroll)
