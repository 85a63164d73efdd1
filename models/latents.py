"""The two latent spaces: the Gaussian one and the paper's ordered categorical one.

D-VAE (docs/design.md §2): each of N latents is categorical over K categories whose fixed 1-D values
c_k = linspace(-1, 1, K) (the `codebook`, Haiku parameter `embed` [N, K, 1]) give the
categories an order. Training uses the relaxed Gumbel-softmax sample with a noise scale s
that rises on a cosine schedule; metrics read out the noise-free expectation.
"""
from __future__ import annotations

import math

import haiku as hk
import jax
import jax.numpy as jnp


def gumbel_noise_scale(step, total_steps: int, init: float = 0.5, final: float = 2.0):
    """Cosine schedule s(t) = a cos(pi t / T) + b from `init` (t <= 0) to `final` (t >= T)."""
    a, b = (init - final) / 2.0, (init + final) / 2.0
    t = jnp.clip(jnp.asarray(step, jnp.float32), 0.0, float(max(total_steps, 1)))
    return a * jnp.cos(math.pi * t / max(total_steps, 1)) + b


class OrderedCategoricalLatent(hk.Module):
    """logits [batch, N, K] -> (z [batch, N], representation [batch, N]).

    Haiku state (as in the authors' code): `scale` (Gumbel noise scale s), `lambda`
    (temperature) and `hard` (straight-through one-hot in the forward pass).
    """

    def __init__(self, num_latents: int, num_categories: int, temperature: float = 1.0,
                 name: str = "codebook"):
        super().__init__(name=name)
        self.num_latents = num_latents
        self.num_categories = num_categories
        self.temperature = temperature

    def codebook(self) -> jax.Array:
        """[N, K] category values; a parameter for checkpoint compatibility, never trained."""
        values = jnp.linspace(-1.0, 1.0, self.num_categories)

        def init(shape, dtype):
            return jnp.broadcast_to(values[None, :, None], shape).astype(dtype)

        embed = hk.get_parameter("embed", [self.num_latents, self.num_categories, 1], init=init)
        return jax.lax.stop_gradient(embed[..., 0])

    def __call__(self, logits: jax.Array, sample: bool = True):
        codebook = self.codebook()
        scale = hk.get_state("scale", [], init=lambda *_: jnp.float32(0.5))
        temperature = hk.get_state("lambda", [], init=lambda *_: jnp.float32(self.temperature))
        hard = hk.get_state("hard", [], dtype=jnp.bool_, init=lambda shape, dtype: jnp.zeros(shape, dtype))

        representation = jnp.einsum("bnk,nk->bn", jax.nn.softmax(logits), codebook)
        if not sample:
            return representation, representation
        gumbel = jax.random.gumbel(hk.next_rng_key(), logits.shape)
        soft = jax.nn.softmax((logits + scale * gumbel) / temperature)
        one_hot = jax.nn.one_hot(jnp.argmax(soft, axis=-1), self.num_categories, dtype=soft.dtype)
        straight_through = soft + jax.lax.stop_gradient(one_hot - soft)
        weights = jnp.where(hard, straight_through, soft)
        return jnp.einsum("bnk,nk->bn", weights, codebook), representation


def gaussian_sample(mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """Reparameterised z = mean + exp(logvar / 2) * eps, all [batch, N]."""
    return mean + jnp.exp(0.5 * logvar) * jax.random.normal(hk.next_rng_key(), mean.shape)
