"""The four models (`vae`, `dvae`, `factor_vae`, `factor_dvae`) as Haiku transforms.

`build_model(config, num_channels)` returns the transformed functions and the objective:
- `forward` (params, state, rng, images [batch, 64, 64, C]) -> (outputs, state), where outputs
  holds `z` [batch, N] (the sample fed to the decoder), `representation` [batch, N] (the
  metric read-out), `recon_logits` [batch, 64, 64, C] and `kl` [batch];
- `encode` (params, state, images) -> representation [batch, N], deterministic, encoder only;
- `discriminator` (params_disc, z [batch, N]) -> logits [batch, 2] (TC models only);
- `posterior_kl` (params, state, images) -> KL of each latent's posterior to its prior
  [batch, N] (UDR's filter, metrics/udr.py).
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import haiku as hk
import jax
import jax.numpy as jnp

import configs
from configs import Config
from models import losses
from models.latents import OrderedCategoricalLatent, gaussian_sample
from models.networks import Decoder, Encoder, discriminator

# Config fields that never enter a jitted computation (the seed only picks the initial keys).
BOOKKEEPING_FIELDS = configs.fields_with(configs.BOOKKEEPING)


class Model(NamedTuple):
    config: Config
    num_channels: int
    forward: hk.TransformedWithState
    encode: hk.TransformedWithState
    discriminator: hk.Transformed | None
    posterior_kl: hk.TransformedWithState

    # Models are static arguments of jitted functions: two models that compute the same thing
    # (configs differing only in bookkeeping) must compare equal, or every run recompiles.
    def _computation(self):
        fields = {k: v for k, v in self.config.to_dict().items() if k not in BOOKKEEPING_FIELDS}
        return (tuple(sorted(fields.items())), self.num_channels, self.forward, self.encode, self.discriminator,
                self.posterior_kl)

    def __eq__(self, other):
        return isinstance(other, Model) and self._computation() == other._computation()

    def __hash__(self):
        return hash(self._computation())

    def init(self, rng: jax.Array, images: jax.Array):
        """(params, state, params_disc) for an example batch."""
        # Three keys (the third is unused), so a seed keeps giving the same parameters.
        init_key, disc_key, _ = jax.random.split(rng, 3)
        params, state = self.forward.init(init_key, images)
        params_disc = None
        if self.discriminator is not None:
            z = jnp.zeros((images.shape[0], self.config.num_latents), jnp.float32)
            params_disc = self.discriminator.init(disc_key, z)
        return params, state, params_disc

    def loss(self, params, state, params_disc, rng, images):
        """Batch-mean training loss and (per-batch-mean terms, new state, z).

        Per example: recon + KL [+ gamma * TC]; no beta weighting (docs/design.md §3).
        """
        outputs, state = self.forward.apply(params, state, rng, images)
        recon = losses.bernoulli_reconstruction(outputs["recon_logits"], images)
        per_example = recon + outputs["kl"]
        terms = {"recon": recon.mean(), "kl": outputs["kl"].mean(), "elbo": per_example.mean()}
        if self.discriminator is not None:
            tc = losses.total_correlation(self.discriminator.apply(params_disc, outputs["z"]))
            per_example = per_example + self.config.gamma * tc
            terms["tc"] = tc.mean()
        terms["loss"] = per_example.mean()
        return terms["loss"], (terms, state, outputs["z"])


def build_model(config: Config, num_channels: int) -> Model:
    """The Model for `config`. The Haiku transforms are shared by all configs with the same
    architecture, so runs that differ only in bookkeeping reuse compiled functions."""
    architecture = {k: v for k, v in config.to_dict().items() if k not in BOOKKEEPING_FIELDS}
    forward, encode, disc, posterior_kl = _transforms(tuple(sorted(architecture.items())), num_channels)
    return Model(config=config, num_channels=num_channels, forward=forward, encode=encode, discriminator=disc,
                 posterior_kl=posterior_kl)


@functools.lru_cache(maxsize=32)
def _transforms(architecture: tuple, num_channels: int):
    config = Config(**dict(architecture))
    N, K = config.num_latents, config.num_categories

    def latent(features, sample: bool):
        if config.gaussian:
            mean = hk.Linear(N, name="enc_means")(features)
            logvar = hk.Linear(N, name="enc_logvar")(features)
            z = gaussian_sample(mean, logvar) if sample else mean
            return z, mean, losses.gaussian_kl(mean, logvar)
        logits = hk.Linear(N * K, name="enc_attn_key")(features).reshape(-1, N, K)
        z, representation = OrderedCategoricalLatent(N, K, config.temperature)(logits, sample=sample)
        return z, representation, losses.categorical_kl(logits)

    def forward(images):
        z, representation, kl = latent(Encoder(config.hidden_size, config.conv_impl)(images), sample=True)
        recon_logits = Decoder(num_channels, config.hidden_size, config.conv_impl)(z)
        return {"z": z, "representation": representation, "recon_logits": recon_logits, "kl": kl}

    def encode(images):
        return latent(Encoder(config.hidden_size, config.conv_impl)(images), sample=False)[1]

    def posterior_kl(images):
        features = Encoder(config.hidden_size, config.conv_impl)(images)
        if config.gaussian:
            mean = hk.Linear(N, name="enc_means")(features)
            return losses.gaussian_kl_per_latent(mean, hk.Linear(N, name="enc_logvar")(features))
        return losses.categorical_kl_per_latent(hk.Linear(N * K, name="enc_attn_key")(features).reshape(-1, N, K))

    return (hk.transform_with_state(forward),
            hk.without_apply_rng(hk.transform_with_state(encode)),
            hk.without_apply_rng(hk.transform(discriminator)) if config.tc else None,
            hk.without_apply_rng(hk.transform_with_state(posterior_kl)))


def set_gumbel_state(state: dict, scale=None, hard=None) -> dict:
    """A copy of the Haiku state with the codebook's noise scale and/or `hard` flag replaced."""
    if "codebook" not in state:
        return state
    codebook = dict(state["codebook"])
    if scale is not None:
        codebook["scale"] = jnp.asarray(scale, jnp.float32)
    if hard is not None:
        codebook["hard"] = jnp.asarray(hard, jnp.bool_)
    return {**state, "codebook": codebook}
