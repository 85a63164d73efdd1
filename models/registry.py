"""The models of the paper, and QLAE, one registry entry each: what the rest of the code asks
instead of branching on the `gaussian` / `tc` / `quantized` flags.

A model is its latent (a module of models/ with the `Latent` interface below), whether the
FactorVAE total-correlation discriminator is added (docs/design.md §4), what it minimises
(models/objectives.py) and with which optimiser (training/step.py), and how the study shows
it. Which flags select it is configs.MODEL_FLAGS, the one table of names and flags (configs
cannot import models); the entries below take their flags from it.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Protocol, runtime_checkable

import jax
import numpy as np

import configs
from configs import Config
from models import gaussian_latent, objectives, ordered_categorical_latent, quantized_latent


@runtime_checkable
class Latent(Protocol):
    """What a latent module provides; the functions that create Haiku modules run inside a
    transform, each once per call, creating the same modules in the same order every time.

    `posterior(features [batch, hidden], config)` -> the posterior's parameters (the encoder head);
    `sample(posterior, config)` -> (z [batch, N], representation [batch, N]), z fed to the decoder;
    `read_out(posterior, config)` -> representation [batch, N], deterministic (the metrics');
    `kl(posterior)` -> KL to the prior [batch]; `kl_per_latent(posterior)` -> [batch, N]; both
    None for a latent without a prior (QLAE's);
    `traversal(params, config, steps)` -> (decoder inputs [N, steps], column labels).
    Optional, for latents with categories: `argmax_read_out(posterior, config)` -> the most
    likely category's value per latent [batch, N] (a discrete code; InfoMEC reads it too).
    """

    LABEL: str
    DISCRETE: bool
    TRAVERSAL: str
    DISCRETE_READ_OUT: bool     # the read-out takes finitely many values (InfoMEC's discrete estimator)

    def posterior(self, features: jax.Array, config: Config) -> Any: ...
    def sample(self, posterior: Any, config: Config) -> tuple[jax.Array, jax.Array]: ...
    def read_out(self, posterior: Any, config: Config) -> jax.Array: ...
    # Functions, or None for a latent without a prior (so attributes here, not methods).
    kl: Callable[[Any], jax.Array] | None
    kl_per_latent: Callable[[Any], jax.Array] | None
    def traversal(self, params: dict, config: Config, steps: int) -> tuple[np.ndarray, list[str]]: ...


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str                   # in result files, checkpoints and `run.py --model`
    display_name: str           # in tables and figures
    latent: Latent              # builds the latent head, sample, read-out and KL
    discriminator: bool         # the TC discriminator and the gamma * TC penalty
    scores: tuple[str, ...]     # the unsupervised selection scores defined for it
    colour: str                 # matplotlib colour of its runs in figures
    # (outputs, images, config) -> (per-example loss [batch], logged batch means): models/objectives.py
    objective: Callable[..., tuple[jax.Array, dict]] = objectives.negative_elbo
    optimizer: str = "adam"     # training.step.OPTIMIZERS: "adam" (docs/design.md §4) or "qlae" (§11)

    @property
    def flags(self) -> dict[str, bool]:
        """The Config fields that select this model, e.g. {"gaussian": False, "tc": True}."""
        return dict(configs.MODEL_FLAGS[self.name])

    @property
    def authors_flags(self) -> str:
        """The same on the authors' command line, e.g. "--tc --gamma G"; empty for the default
        D-VAE; "--quantized" for QLAE (a flag of this project's)."""
        words = [f"--{flag}" for flag, on in self.flags.items() if on]
        return " ".join(words + (["--gamma G"] if self.discriminator else []))

    @property
    def discrete(self) -> bool:
        """Whether the latent is discrete (categorical or quantized). Which unsupervised scores
        apply is `scores`: the straight-through gap only for the Gumbel-softmax latent (`gumbel`)."""
        return self.latent.DISCRETE

    @property
    def gumbel(self) -> bool:
        """Whether the latent samples with the scheduled Gumbel noise (docs/design.md §2): the
        latent the straight-through gap is defined for (§10), so its entries list "st_gap"."""
        return "st_gap" in self.scores

    @property
    def has_kl(self) -> bool:
        """Whether the latent has a prior, hence a KL per latent (the ELBO; UDR's KL filter)."""
        return self.latent.kl is not None

    def config_fields(self, gamma: float = 0.0) -> dict:
        """The Config fields of this model: its flags, and the TC weight `gamma` if it has a
        discriminator (a model without one keeps the default gamma 0)."""
        return {**self.flags, **({"gamma": gamma} if self.discriminator else {})}


REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec("vae", "VAE", gaussian_latent, discriminator=False, scores=("elbo", "udr"), colour="tab:blue"),
    ModelSpec("dvae", "D-VAE", ordered_categorical_latent, discriminator=False,
              scores=("st_gap", "elbo", "udr"), colour="tab:orange"),
    ModelSpec("factor_vae", "FactorVAE", gaussian_latent, discriminator=True, scores=("elbo", "udr"),
              colour="tab:green"),
    ModelSpec("factor_dvae", "FactorDVAE", ordered_categorical_latent, discriminator=True,
              scores=("st_gap", "elbo", "udr"), colour="tab:red"),
    ModelSpec("qlae", "QLAE", quantized_latent, discriminator=False, scores=("reconstruction", "udr"),
              colour="tab:purple", objective=objectives.qlae_loss, optimizer="qlae"),
)}
if list(REGISTRY) != list(configs.MODEL_FLAGS):
    # Every name must be selectable by flags, and every flag combination must be a model.
    raise ImportError(f"models.REGISTRY {list(REGISTRY)} and configs.MODEL_FLAGS {list(configs.MODEL_FLAGS)} differ")


def get(name: str) -> ModelSpec:
    """The entry called `name` (KeyError naming the known ones otherwise)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; expected one of {', '.join(REGISTRY)}") from None


def spec_for(config: Config) -> ModelSpec:
    """The entry that `config`'s flags select."""
    return REGISTRY[config.model_name]


def with_flags(**flags: bool) -> ModelSpec:
    """The entry selected by these flag values, e.g. with_flags(gaussian=True, tc=False)."""
    return REGISTRY[configs.model_named_by(flags)]
