"""The reconstruction loss on a fixed sample of training images: QLAE's unsupervised baseline.

QLAE (docs/design.md §11) has no prior, so neither the ELBO (metrics/elbo.py) nor the
straight-through gap is defined for it; the naive rule a user has for it is its reconstruction
loss. It is computed on exactly the images the ELBO uses (`metrics.elbo.fixed_batches`: batch b
from `fold_in(PRNGKey(seed), b)` alone, never the metrics' numpy RandomState), through the
forward pass of training (the decoder sees the training sample: QLAE's straight-through
quantized code; a Gumbel-softmax latent's soft sample at its step's noise scale, as for the
ELBO), and reported in two units: as QLAE's loss takes it (binary cross-entropy averaged over
pixels), and summed over pixels per image (nats, the unit of `elbo_recon`).
"""
from __future__ import annotations

from functools import partial

import jax

from metrics.elbo import over_fixed_batches, training_state
from models import losses


@partial(jax.jit, static_argnums=(0, 1))
def _batch_recon(model, to_observations, params, state, index_key, observation_key, pixels):
    """(mean over pixels [batch], sum over pixels [batch]) of one batch's cross-entropy; any
    sampling noise from the index key's fold, as in metrics/elbo.py."""
    x = to_observations(observation_key, pixels)
    outputs, _ = model.forward.apply(params, state, jax.random.fold_in(index_key, 1), x)
    logits = outputs["recon_logits"]
    return losses.mean_pixel_bce(logits, x), losses.bernoulli_reconstruction(logits, x)


def compute_reconstruction(model, params, state, data, step: int, seed=0, num_batches: int = 100,
                           batch_size: int = 100, pixel_scale=None) -> dict:
    """{'recon_loss', 'recon_loss_per_image', 'recon_num_images', 'recon_noise_scale'}: means
    over the images; `recon_loss` is the cross-entropy per pixel (QLAE's training term),
    `recon_loss_per_image` the same summed over each image's pixels (nats); lower is better.

    Arguments as for `metrics.elbo.compute_elbo` (the same images for the same seed and sizes).
    """
    state, noise_scale = training_state(model, state, step)
    per_pixel, per_image = over_fixed_batches(_batch_recon, model, params, state, data, seed, num_batches,
                                              batch_size, pixel_scale)
    # Non-finite values are returned as they are (eval.py writes null), never raised.
    return {"recon_loss": float(per_pixel.mean()), "recon_loss_per_image": float(per_image.mean()),
            "recon_num_images": int(num_batches * batch_size), "recon_noise_scale": noise_scale}


__all__ = ["compute_reconstruction"]
