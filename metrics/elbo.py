"""The negative ELBO on a fixed sample of training images: the naive unsupervised selection rule.

Every user can rank models by their evidence lower bound without labels; it is the baseline
that the straight-through gap must beat as a model-selection rule (docs/study_tc.md). The
training log's ELBO is a running mean over noisy training batches taken while the weights
move; this is the objective recomputed for the final weights on the same images for every
model, so models can be compared.

Per image: recon + KL (no gamma * TC: the penalty is not part of the ELBO), computed exactly as
in training, with the posterior sample the decoder sees in training (Gaussian
reparameterisation, or the relaxed Gumbel-softmax sample at the noise scale the schedule gives
at the checkpoint's step, i.e. `noise_scale_final` for a finished run). `num_batches` batches
of `batch_size` images are drawn i.i.d. uniformly with `jax.random`, seeded by `seed` alone
(batch b: `fold_in(PRNGKey(seed), b)`, as for the straight-through gap), so the estimate never
touches the metrics' numpy RandomState; the sampling noise of batch b comes from the same key.
"""
from __future__ import annotations

from functools import partial

import jax
import numpy as np

from metrics.st_gap import _image_source, batch_keys
from models import losses
from models.ordered_categorical_latent import gumbel_noise_scale, set_gumbel_state


@partial(jax.jit, static_argnums=(0, 1))
def _batch_terms(model, to_observations, params, state, index_key, observation_key, pixels):
    """(recon [batch], kl [batch]) of one batch; the sampling noise from the index key's fold."""
    x = to_observations(observation_key, pixels)
    outputs, _ = model.forward.apply(params, state, jax.random.fold_in(index_key, 1), x)
    return losses.bernoulli_reconstruction(outputs["recon_logits"], x), outputs["kl"]


def training_state(model, state, step: int) -> tuple[dict, float]:
    """(Haiku state, noise scale) of the sample the decoder sees in training at `step`: the
    Gumbel-softmax latent's noise at the scale the schedule gives (soft sample); other latents
    as they are, with noise scale 0."""
    if not model.spec.gumbel:
        return state, 0.0
    config = model.config
    noise_scale = float(gumbel_noise_scale(step, config.steps, config.noise_scale_init, config.noise_scale_final))
    return set_gumbel_state(state, scale=noise_scale, hard=False), noise_scale


def fixed_batches(data, seed, num_batches: int, batch_size: int, pixel_scale=None):
    """The fixed sample of training images: (stored images, to_observations, index keys,
    observation keys, storage indices [num_batches, batch_size]); batch b from
    `fold_in(PRNGKey(seed), b)` alone (the reconstruction score, metrics/reconstruction.py,
    reads the same images)."""
    images, to_observations = _image_source(data, pixel_scale)
    index_keys, observation_keys = batch_keys(seed, num_batches)
    draw = jax.jit(jax.vmap(lambda k: jax.random.randint(k, (batch_size,), 0, images.shape[0])))
    return images, to_observations, index_keys, observation_keys, np.asarray(draw(index_keys))


def over_fixed_batches(batch_terms, model, params, state, data, seed, num_batches: int, batch_size: int,
                       pixel_scale=None) -> list[np.ndarray]:
    """Each output of `batch_terms(model, to_observations, params, state, index_key,
    observation_key, pixels)` (a tuple of [batch] arrays) over the fixed sample, batch by batch:
    one float64 [num_batches, batch_size] array per output."""
    images, to_observations, index_keys, observation_keys, indices = fixed_batches(
        data, seed, num_batches, batch_size, pixel_scale)
    per_batch = [batch_terms(model, to_observations, params, state, index_keys[b], observation_keys[b],
                             images[indices[b]]) for b in range(num_batches)]
    return [np.stack([np.asarray(terms[i], np.float64) for terms in per_batch]) for i in range(len(per_batch[0]))]


def compute_elbo(model, params, state, data, step: int, seed=0, num_batches: int = 100,
                 batch_size: int = 100, pixel_scale=None) -> dict:
    """{'elbo', 'elbo_recon', 'elbo_kl', 'elbo_num_images', 'elbo_noise_scale'}: means over the
    images in nats; `elbo` is the negative ELBO (recon + KL), so lower is better.

    `data` as for `compute_st_gap`; `step`: the checkpoint's step (sets the Gumbel noise scale).
    Not defined for a model without a prior (QLAE: metrics/reconstruction.py is its baseline).
    """
    if not model.spec.has_kl:
        raise ValueError(f"the ELBO is not defined for {model.config.model_name}: its latent has no prior, "
                         "so no KL (its baseline is the reconstruction score)")
    state, noise_scale = training_state(model, state, step)
    recon, kl = over_fixed_batches(_batch_terms, model, params, state, data, seed, num_batches, batch_size,
                                   pixel_scale)
    # A model whose posterior overflows (e.g. a huge log-variance) gets a non-finite ELBO; it is
    # returned as it is (eval.py writes null), never raised: the metrics must not be lost to it.
    mean_recon, mean_kl = float(recon.mean()), float(kl.mean())
    return {"elbo": mean_recon + mean_kl, "elbo_recon": mean_recon, "elbo_kl": mean_kl,
            "elbo_num_images": int(num_batches * batch_size), "elbo_noise_scale": noise_scale}


__all__ = ["compute_elbo", "fixed_batches", "over_fixed_batches", "training_state"]
