"""Pure loss functions (docs/design.md §3, §4, §11). Each returns per-example values [batch]."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax


def bernoulli_reconstruction(logits: jax.Array, images: jax.Array) -> jax.Array:
    """Sigmoid cross-entropy summed over pixels and channels: [batch, H, W, C] -> [batch]."""
    return optax.sigmoid_binary_cross_entropy(logits, images).sum(axis=(1, 2, 3))


def mean_pixel_bce(logits: jax.Array, images: jax.Array) -> jax.Array:
    """Sigmoid cross-entropy averaged over pixels and channels, as QLAE's loss takes it:
    [batch, H, W, C] -> [batch]."""
    return optax.sigmoid_binary_cross_entropy(logits, images).mean(axis=(1, 2, 3))


def quantization_loss(continuous: jax.Array, quantized: jax.Array) -> jax.Array:
    """QLAE's quantization loss mean_n (stop_gradient(z_n) - q_n)^2: moves the codebook values
    only. [batch, N] -> [batch]."""
    return jnp.mean(jnp.square(jax.lax.stop_gradient(continuous) - quantized), axis=-1)


def commitment_loss(continuous: jax.Array, quantized: jax.Array) -> jax.Array:
    """QLAE's commitment loss mean_n (z_n - stop_gradient(q_n))^2: moves the encoder only.
    [batch, N] -> [batch]."""
    return jnp.mean(jnp.square(continuous - jax.lax.stop_gradient(quantized)), axis=-1)


def gaussian_kl(mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """KL(N(mean, exp(logvar)) || N(0, 1)) summed over N: [batch, N] -> [batch]."""
    return 0.5 * jnp.sum(mean**2 + jnp.exp(logvar) - logvar - 1.0, axis=-1)


def categorical_kl(logits: jax.Array) -> jax.Array:
    """KL(softmax(logits) || Uniform(K)) summed over the N latents: [batch, N, K] -> [batch]."""
    log_q = jax.nn.log_softmax(logits, axis=-1)
    num_categories = logits.shape[-1]
    return jnp.sum(jnp.exp(log_q) * (log_q + math.log(num_categories)), axis=(-2, -1))


# Per latent, for UDR's KL filter (metrics/udr.py). The training losses above keep their own
# single reduction: summing these per-latent values would reorder the sums and change the
# training numbers in the last bits.
def gaussian_kl_per_latent(mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """KL(N(mean, exp(logvar)) || N(0, 1)) of each latent: [batch, N] -> [batch, N]."""
    return 0.5 * (mean**2 + jnp.exp(logvar) - logvar - 1.0)


def categorical_kl_per_latent(logits: jax.Array) -> jax.Array:
    """KL(softmax(logits) || Uniform(K)) of each latent: [batch, N, K] -> [batch, N]."""
    log_q = jax.nn.log_softmax(logits, axis=-1)
    return jnp.sum(jnp.exp(log_q) * (log_q + math.log(logits.shape[-1])), axis=-1)


def total_correlation(discriminator_logits: jax.Array) -> jax.Array:
    """Density-ratio estimate of TC: logit[0] - logit[1], [batch, 2] -> [batch]."""
    return discriminator_logits[:, 0] - discriminator_logits[:, 1]


def discriminator_loss(logits_joint: jax.Array, logits_permuted: jax.Array) -> jax.Array:
    """0.5 (CE(D(z), 0) + CE(D(z_perm), 1)), each [batch, 2] -> scalar (batch mean)."""
    joint = optax.softmax_cross_entropy_with_integer_labels(logits_joint, jnp.zeros(logits_joint.shape[0], jnp.int32))
    permuted = optax.softmax_cross_entropy_with_integer_labels(
        logits_permuted, jnp.ones(logits_permuted.shape[0], jnp.int32)
    )
    return 0.5 * (joint.mean() + permuted.mean())
