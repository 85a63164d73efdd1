"""The paper's ordered categorical latent of D-VAE and FactorDVAE (docs/design.md §1 "Heads", §2).

Each of N latents is categorical over K categories whose fixed 1-D values
c_k = linspace(-1, 1, K) (the `codebook`, Haiku parameter `embed` [N, K, 1]) give the
categories an order. Training decodes the relaxed Gumbel-softmax sample with a noise scale s
that rises on a cosine schedule; the metrics read out the noise-free expectation. The
module-level functions are the latent interface of models/registry.py (`Latent`), called
inside a Haiku transform; the head keeps the authors' module name `enc_attn_key`.
"""
from __future__ import annotations

import math

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from configs import Config
from models import losses

# How tables name this kind of latent (analysis/tables.py).
LABEL = "discrete"
# Categorical codes with a hard/soft switch: the straight-through gap applies (docs/design.md §10).
DISCRETE = True
# What a traversal sets each latent to (analysis/model_figures.py).
TRAVERSAL = "codebook values c_k"
# The read-out (an expectation over the categories) takes a continuum of values; the argmax
# read-out below is the discrete one (InfoMEC reads both).
DISCRETE_READ_OUT = False


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


def set_gumbel_state(state: dict, scale=None, hard=None) -> dict:
    """A copy of the Haiku state with the codebook's noise scale and/or `hard` flag replaced
    (the state of a model without this latent is returned as it is)."""
    if "codebook" not in state:
        return state
    codebook = dict(state["codebook"])
    if scale is not None:
        codebook["scale"] = jnp.asarray(scale, jnp.float32)
    if hard is not None:
        codebook["hard"] = jnp.asarray(hard, jnp.bool_)
    return {**state, "codebook": codebook}


# -- the latent interface -------------------------------------------------------------------
def posterior(features: jax.Array, config: Config) -> jax.Array:
    """features [batch, hidden] -> logits [batch, N, K]."""
    N, K = config.num_latents, config.num_categories
    return hk.Linear(N * K, name="enc_attn_key")(features).reshape(-1, N, K)


def sample(posterior: jax.Array, config: Config) -> tuple[jax.Array, jax.Array]:
    """(z, representation), each [batch, N]: the relaxed Gumbel-softmax sample (noise from one
    `hk.next_rng_key()`, scale and `hard` from the state) and the noise-free expectation."""
    return _codebook(config)(posterior, sample=True)


def read_out(posterior: jax.Array, config: Config) -> jax.Array:
    """The metrics' deterministic representation [batch, N]: sum_k softmax(logits)_k c_k."""
    return _codebook(config)(posterior, sample=False)[1]


def argmax_read_out(posterior: jax.Array, config: Config) -> jax.Array:
    """Each latent's most likely category's value c_k [batch, N]: a discrete code, how the
    learned-codebook line (QLAE, InfoMEC) reads a categorical latent."""
    codebook = _codebook(config).codebook()                                   # [N, K]
    return codebook[jnp.arange(config.num_latents), jnp.argmax(posterior, axis=-1)]


def kl(posterior: jax.Array) -> jax.Array:
    """KL to the uniform prior over K summed over the latents: [batch]."""
    return losses.categorical_kl(posterior)


def kl_per_latent(posterior: jax.Array) -> jax.Array:
    """KL to the uniform prior over K of each latent: [batch, N]."""
    return losses.categorical_kl_per_latent(posterior)


def traversal(params: dict, config: Config, steps: int) -> tuple[np.ndarray, list[str]]:
    """Decoder inputs [N, steps] per latent, the codebook values c_k of `steps` categories k
    evenly spaced over the K ordered ones, and their column labels."""
    codebook = np.asarray(params["codebook"]["embed"])[..., 0]          # [N, K]
    ks = np.round(np.linspace(0, codebook.shape[1] - 1, steps)).astype(int)
    return codebook[:, ks], [f"k={k}" for k in ks]


def _codebook(config: Config) -> OrderedCategoricalLatent:
    # One instance per transform call: a second would be named `codebook_1`, outside the
    # authors' parameter tree.
    return OrderedCategoricalLatent(config.num_latents, config.num_categories, config.temperature)
