"""QLAE's quantized latent (Hsu et al., "Disentanglement via Latent Quantization", NeurIPS 2023;
docs/design.md §11) on the paper's encoder and decoder.

A linear head `enc_continuous` maps the encoder's features to a continuous code z [batch, N];
each latent n has its own learnable codebook of V scalar values (Haiku parameter
`quantizer/values` [N, V], initialised to linspace(-0.5, 0.5, V) for every latent), and z_n is
replaced by the value of its own codebook nearest to it, q_n = argmin_v |z_n - v|. The decoder
receives q with straight-through gradients, z + stop_gradient(q - z); the metrics read q. The
loss (models/objectives.py) pulls the codebook toward z and z toward the codebook. There is no
prior, so no KL: `kl` and `kl_per_latent` are None (no ELBO, no UDR KL filter).

The functions are the latent interface of models/registry.py (`Latent`), called inside a Haiku
transform.
"""
from __future__ import annotations

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from configs import Config

# How tables name this kind of latent (analysis/tables.py).
LABEL = "quantized"
# Discrete codes, but no Gumbel noise and no hard/soft switch: the straight-through gap of
# docs/design.md §10 is not defined for it (the registry entry lists the scores that are).
DISCRETE = True
# The read-out (the quantized values) takes finitely many values: InfoMEC's discrete estimator.
DISCRETE_READ_OUT = True
# What a traversal sets each latent to (analysis/model_figures.py).
TRAVERSAL = "each latent's own codebook values"

# Where the codebook lives in the parameter tree.
MODULE, PARAMETER = "quantizer", "values"


class Quantizer(hk.Module):
    """z [batch, N] -> (straight-through z + stop_gradient(q - z), q), each [batch, N], where q_n
    is the value of latent n's codebook nearest to z_n (the first of equally near ones)."""

    def __init__(self, num_latents: int, num_values: int, name: str = MODULE):
        super().__init__(name=name)
        self.num_latents = num_latents
        self.num_values = num_values

    def codebook(self) -> jax.Array:
        """[N, V] values, trainable; every latent starts from linspace(-0.5, 0.5, V)."""
        def init(shape, dtype):
            return jnp.broadcast_to(jnp.linspace(-0.5, 0.5, self.num_values), shape).astype(dtype)

        return hk.get_parameter(PARAMETER, [self.num_latents, self.num_values], init=init)

    def __call__(self, z: jax.Array) -> tuple[jax.Array, jax.Array]:
        values = self.codebook()
        index = jnp.argmin(jnp.abs(z[..., None] - values), axis=-1)            # [batch, N]
        quantized = values[jnp.arange(self.num_latents), index]                 # [batch, N]
        return z + jax.lax.stop_gradient(quantized - z), quantized


# -- the latent interface -------------------------------------------------------------------
def posterior(features: jax.Array, config: Config) -> jax.Array:
    """features [batch, hidden] -> the continuous code z [batch, N] (QLAE's `pre_z`)."""
    return hk.Linear(config.num_latents, name="enc_continuous")(features)


def sample(posterior: jax.Array, config: Config) -> tuple[jax.Array, jax.Array]:
    """(decoder input, representation), each [batch, N]: the straight-through quantized code and
    the quantized values. Deterministic: nothing is drawn."""
    return _quantizer(config)(posterior)


def read_out(posterior: jax.Array, config: Config) -> jax.Array:
    """The metrics' representation [batch, N]: each latent's nearest codebook value."""
    return _quantizer(config)(posterior)[1]


# No prior: no KL to it (the objective has none; UDR scores without its KL filter).
kl = None
kl_per_latent = None


def traversal(params: dict, config: Config, steps: int) -> tuple[np.ndarray, list[str]]:
    """Decoder inputs [N, steps] per latent: `steps` of latent n's own codebook values, in
    increasing order and evenly spaced over its V values (each used once where steps == V),
    and the column labels (the values' ranks, 0 = smallest)."""
    values = np.sort(np.asarray(params[MODULE][PARAMETER]), axis=1)            # [N, V]
    ranks = np.round(np.linspace(0, values.shape[1] - 1, steps)).astype(int)
    return values[:, ranks], [f"v{r}" for r in ranks]


def _quantizer(config: Config) -> Quantizer:
    # One instance per transform call, so the parameter is always `quantizer/values`.
    return Quantizer(config.num_latents, config.num_values_per_latent)
