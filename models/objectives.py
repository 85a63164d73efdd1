"""What each model minimises, from its forward pass: the per-example loss before any TC penalty
and the batch means it logs. A registry entry names its objective (models/registry.py);
`Model.loss` adds gamma * TC for the entries with a discriminator and takes the batch mean.

`outputs` is the forward pass's (models/model.py): `recon_logits`, `z`, `representation`,
`posterior` (the latent head's output), and `kl` for latents with a prior.
"""
from __future__ import annotations

import jax

from configs import Config
from models import losses


def negative_elbo(outputs: dict, images: jax.Array, config: Config) -> tuple[jax.Array, dict]:
    """The paper's loss (docs/design.md §3): reconstruction summed over pixels + KL, no beta.
    Logs `recon`, `kl` and `elbo` (their sum)."""
    recon = losses.bernoulli_reconstruction(outputs["recon_logits"], images)
    per_example = recon + outputs["kl"]
    return per_example, {"recon": recon.mean(), "kl": outputs["kl"].mean(), "elbo": per_example.mean()}


def qlae_loss(outputs: dict, images: jax.Array, config: Config) -> tuple[jax.Array, dict]:
    """QLAE's loss (docs/design.md §11): binary cross-entropy averaged over pixels
    + quantization_weight * quantization loss + commitment_weight * commitment loss. Logs `bce`,
    `quantization` and `commitment` (unweighted)."""
    continuous, quantized = outputs["posterior"], outputs["representation"]
    bce = losses.mean_pixel_bce(outputs["recon_logits"], images)
    quantization = losses.quantization_loss(continuous, quantized)
    commitment = losses.commitment_loss(continuous, quantized)
    per_example = bce + config.quantization_weight * quantization + config.commitment_weight * commitment
    return per_example, {"bce": bce.mean(), "quantization": quantization.mean(), "commitment": commitment.mean()}
