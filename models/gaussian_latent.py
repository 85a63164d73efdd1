"""The Gaussian latent of VAE and FactorVAE (docs/design.md §1 "Heads", §3).

Two linear heads on the encoder's features give the posterior N(mean, exp(logvar)) of each of
the N latents; training decodes the reparameterised sample, the metrics read the mean. The
functions are the latent interface of models/registry.py (`Latent`), called inside a Haiku
transform; the heads keep the authors' module names `enc_means` and `enc_logvar`.
"""
from __future__ import annotations

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from configs import Config
from models import losses

# How tables name this kind of latent (analysis/tables.py).
LABEL = "Gaussian"
# Continuous codes: the straight-through gap is not defined (docs/design.md §10).
DISCRETE = False
# What a traversal sets each latent to (analysis/model_figures.py).
TRAVERSAL = "standard-normal quantiles"
# The read-out (posterior mean) takes a continuum of values: InfoMEC's continuous estimator.
DISCRETE_READ_OUT = False

Posterior = tuple[jax.Array, jax.Array]


def posterior(features: jax.Array, config: Config) -> Posterior:
    """features [batch, hidden] -> (mean, logvar), each [batch, N]."""
    mean = hk.Linear(config.num_latents, name="enc_means")(features)
    logvar = hk.Linear(config.num_latents, name="enc_logvar")(features)
    return mean, logvar


def sample(posterior: Posterior, config: Config) -> tuple[jax.Array, jax.Array]:
    """(z, representation), each [batch, N]: the reparameterised z = mean + exp(logvar / 2) eps,
    with eps from one `hk.next_rng_key()`, and the mean."""
    mean, logvar = posterior
    return mean + jnp.exp(0.5 * logvar) * jax.random.normal(hk.next_rng_key(), mean.shape), mean


def read_out(posterior: Posterior, config: Config) -> jax.Array:
    """The metrics' deterministic representation [batch, N]: the posterior mean."""
    return posterior[0]


def kl(posterior: Posterior) -> jax.Array:
    """KL to N(0, 1) summed over the latents: [batch]."""
    return losses.gaussian_kl(*posterior)


def kl_per_latent(posterior: Posterior) -> jax.Array:
    """KL to N(0, 1) of each latent: [batch, N]."""
    return losses.gaussian_kl_per_latent(*posterior)


def traversal(params: dict, config: Config, steps: int) -> tuple[np.ndarray, list[str]]:
    """Decoder inputs [N, steps] per latent, evenly spaced quantiles of the N(0, 1) prior from
    5 % to 95 %, and their column labels."""
    from scipy.stats import norm  # scipy is slow to import and only the figures need it
    quantiles = np.linspace(0.05, 0.95, steps)
    return np.tile(norm.ppf(quantiles), (config.num_latents, 1)), [f"q={q:.2f}" for q in quantiles]
