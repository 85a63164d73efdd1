"""Any model of models/registry.py as Haiku transforms: the shared encoder trunk and decoder
(models/networks.py) around the entry's latent, plus its TC discriminator if it has one.

`build_model(config, num_channels)` returns the transformed functions and the objective:
- `forward` (params, state, rng, images [batch, 64, 64, C]) -> (outputs, state), where outputs
  holds `z` [batch, N] (the sample fed to the decoder), `representation` [batch, N] (the
  metric read-out), `posterior` (the latent head's output), `recon_logits` [batch, 64, 64, C]
  and, for latents with a prior, `kl` [batch];
- `encode` (params, state, images) -> representation [batch, N], deterministic, encoder only;
- `discriminator` (params_disc, z [batch, N]) -> logits [batch, 2] (TC models only);
- `posterior_kl` (params, state, images) -> KL of each latent's posterior to its prior
  [batch, N] (UDR's filter, metrics/udr.py); None for a latent without a prior (QLAE).
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
from models.networks import Decoder, Encoder, discriminator
from models.registry import ModelSpec, spec_for

# Config fields that never enter a jitted computation (the seed only picks the initial keys).
BOOKKEEPING_FIELDS = configs.fields_with(configs.BOOKKEEPING)


class Model(NamedTuple):
    config: Config
    num_channels: int
    forward: hk.TransformedWithState
    encode: hk.TransformedWithState
    discriminator: hk.Transformed | None
    posterior_kl: hk.TransformedWithState | None

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

    @property
    def spec(self) -> ModelSpec:
        """The registry entry of this model."""
        return spec_for(self.config)

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

        Per example: the entry's objective (models/objectives.py: recon + KL with no beta
        weighting, docs/design.md §3; QLAE's, §11) [+ gamma * TC].
        """
        outputs, state = self.forward.apply(params, state, rng, images)
        per_example, terms = self.spec.objective(outputs, images, self.config)
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
    spec = spec_for(config)
    latent = spec.latent

    def posterior(images):
        return latent.posterior(Encoder(config.hidden_size, config.conv_impl)(images), config)

    def forward(images):
        q = posterior(images)
        z, representation = latent.sample(q, config)
        outputs = {"z": z, "representation": representation, "posterior": q}
        if spec.has_kl:
            outputs["kl"] = latent.kl(q)
        outputs["recon_logits"] = Decoder(num_channels, config.hidden_size, config.conv_impl)(z)
        return outputs

    def encode(images):
        return latent.read_out(posterior(images), config)

    def posterior_kl(images):
        return latent.kl_per_latent(posterior(images))

    return (hk.transform_with_state(forward),
            hk.without_apply_rng(hk.transform_with_state(encode)),
            hk.without_apply_rng(hk.transform(discriminator)) if spec.discriminator else None,
            hk.without_apply_rng(hk.transform_with_state(posterior_kl)) if spec.has_kl else None)
