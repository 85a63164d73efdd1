"""The straight-through gap (Friede et al. 2023, docs/design.md §10): unsupervised model selection.

With the Gumbel noise scale set to 0, the full training loss (recon + KL [+ gamma * TC]) is
computed twice on each of `num_batches` batches of `batch_size` training images: once with the
soft sample z = sum_k softmax(logits / lambda)_k c_k, once with the straight-through one-hot of
its argmax. st_gap = |mean(hard losses) - mean(soft losses)|; among candidate models the paper
prefers the smaller gap. Defined for the Gumbel-softmax (D-VAE / FactorDVAE) models only: not for
the Gaussian ones nor QLAE, which has neither Gumbel noise nor a soft sample.

Images are drawn i.i.d. uniformly from the data set's stored images with `jax.random`, seeded
by `seed` alone, so the gap never touches (or depends on) the metrics' `numpy` RandomState.
Batch b uses `fold_in(PRNGKey(seed), b)`, split into (index key, observation key): the index key
draws the `batch_size` storage indices, the observation key is handed to the data set's
`to_observations` (colour / noise / background variants), exactly as in training. Hence the
batches do not depend on how they are grouped into calls.

Speed: `batches_per_call` batches go through one jitted call (their losses `vmap`ped); the
soft and hard losses are computed in the same call, so XLA computes the encoder once for both.
One batch per call is fastest on the CPU (the activations of one batch stay in the cache;
timings in docs/performance.md).
"""
from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from data.base import device_scale
from metrics.utils import NotFinite
from models.ordered_categorical_latent import set_gumbel_state


def batch_keys(seed, num_batches: int):
    """[(index_key, observation_key)] of each batch: split(fold_in(PRNGKey(seed), b))."""
    base = seed if isinstance(seed, jax.Array) and seed.shape == (2,) else jax.random.PRNGKey(int(seed))
    keys = jax.vmap(lambda b: jax.random.split(jax.random.fold_in(base, b)))(jnp.arange(num_batches))
    return keys[:, 0], keys[:, 1]


def _image_source(data, pixel_scale):
    """(uint8-or-float images on the host, to_observations(key, pixels) -> float32)."""
    if hasattr(data, "images") and hasattr(data, "to_observations"):
        return np.asarray(data.images), data.to_observations
    images = np.asarray(data)
    if images.ndim != 4:
        raise ValueError(f"images must be [num, 64, 64, C], got shape {images.shape}")
    if np.issubdtype(images.dtype, np.integer):
        if pixel_scale is None:
            raise ValueError("an integer image array needs pixel_scale (1.0 for 0/1 images, 1/255 for 0..255)")
        divisor = round(1.0 / float(pixel_scale), 6)
        low, high = int(images.min()), int(images.max())
        return images, lambda key, pixels: device_scale(pixels, divisor, low, high)
    return images, lambda key, pixels: pixels.astype(jnp.float32)


@partial(jax.jit, static_argnums=(0, 1))
def _batch_losses(model, to_observations, params, soft_state, hard_state, params_disc, keys, pixels):
    """(soft losses [b], hard losses [b]) of b batches: keys [b, 2], pixels [b, batch, 64, 64, C]."""
    # The Gumbel noise is multiplied by scale 0, so this key changes nothing; fixed for clarity.
    model_key = jax.random.PRNGKey(0)

    def one_batch(observation_key, batch_pixels):
        x = to_observations(observation_key, batch_pixels)
        soft = model.loss(params, soft_state, params_disc, model_key, x)[0]
        hard = model.loss(params, hard_state, params_disc, model_key, x)[0]
        return soft, hard

    return jax.vmap(one_batch)(keys, pixels)


def compute_st_gap(model, params, state, params_disc, data, seed=0, num_batches: int = 1000,
                   batch_size: int = 64, batches_per_call: int = 1, pixel_scale=None,
                   progress: bool = False) -> dict:
    """{'st_gap', 'st_loss_hard', 'st_loss_soft', 'st_num_batches', 'st_batch_size'}.

    `data`: a ground-truth data set with `images` (stored uint8 pixels) and `to_observations`,
    or an image array [num, 64, 64, C] (float in [0, 1], or integer with `pixel_scale`).
    `seed`: an int or a `jax.random` key; the batches depend on it only.
    `batches_per_call` does not change which images are used, only how many go through one
    jitted call (so it changes the numbers at most in the last float bits).
    """
    if not model.spec.gumbel:
        raise ValueError("the straight-through gap is defined for discrete models only, with the Gumbel-softmax "
                         f"latent (this is a {model.config.model_name})")
    images, to_observations = _image_source(data, pixel_scale)
    num_images = images.shape[0]
    index_keys, observation_keys = batch_keys(seed, num_batches)
    draw = jax.jit(jax.vmap(lambda k: jax.random.randint(k, (batch_size,), 0, num_images)))
    indices = np.asarray(draw(index_keys))                            # [num_batches, batch_size]

    soft_state = set_gumbel_state(state, scale=0.0, hard=False)
    hard_state = set_gumbel_state(state, scale=0.0, hard=True)

    soft_losses = np.zeros(num_batches, np.float64)
    hard_losses = np.zeros(num_batches, np.float64)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=num_batches, desc="ST gap", unit="batch", leave=False)
    try:
        per_call = max(1, min(batches_per_call, num_batches))
        for start in range(0, num_batches, per_call):
            stop = min(start + per_call, num_batches)
            idx = indices[start:stop]
            keys = observation_keys[start:stop]
            if stop - start < per_call:  # pad the last call to the compiled shape
                pad = per_call - (stop - start)
                idx = np.concatenate([idx, np.repeat(idx[-1:], pad, axis=0)])
                keys = jnp.concatenate([keys, jnp.repeat(keys[-1:], pad, axis=0)])
            soft, hard = _batch_losses(model, to_observations, params, soft_state, hard_state,
                                       params_disc, keys, images[idx])
            soft_losses[start:stop] = np.asarray(soft, np.float64)[:stop - start]
            hard_losses[start:stop] = np.asarray(hard, np.float64)[:stop - start]
            if bar is not None:
                bar.update(stop - start)
    finally:
        if bar is not None:
            bar.close()
    mean_soft, mean_hard = float(soft_losses.mean()), float(hard_losses.mean())
    if not (math.isfinite(mean_soft) and math.isfinite(mean_hard)):
        raise NotFinite("st_gap", f"a non-finite loss (soft {mean_soft}, hard {mean_hard})")
    return {"st_gap": abs(mean_hard - mean_soft), "st_loss_hard": mean_hard, "st_loss_soft": mean_soft,
            "st_num_batches": int(num_batches), "st_batch_size": int(batch_size)}


__all__ = ["compute_st_gap", "batch_keys"]
