"""The models of the paper, one registry entry each: what the rest of the code asks instead of
branching on the `gaussian` / `tc` flags.

A model is its latent (a module of models/ with the `Latent` interface below), whether the
FactorVAE total-correlation discriminator is added (docs/design.md §4), and how the study
shows it. Which authors' flags select it is configs.MODEL_FLAGS, the one table of names and
flags (configs cannot import models); the entries below take their flags from it.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Protocol, runtime_checkable

import jax
import numpy as np

import configs
from configs import Config
from models import gaussian_latent, ordered_categorical_latent


@runtime_checkable
class Latent(Protocol):
    """What a latent module provides; the functions that create Haiku modules run inside a
    transform, each once per call, creating the same modules in the same order every time.

    `posterior(features [batch, hidden], config)` -> the posterior's parameters (the encoder head);
    `sample(posterior, config)` -> (z [batch, N], representation [batch, N]), z fed to the decoder;
    `read_out(posterior, config)` -> representation [batch, N], deterministic (the metrics');
    `kl(posterior)` -> KL to the prior [batch]; `kl_per_latent(posterior)` -> [batch, N];
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
    def kl(self, posterior: Any) -> jax.Array: ...
    def kl_per_latent(self, posterior: Any) -> jax.Array: ...
    def traversal(self, params: dict, config: Config, steps: int) -> tuple[np.ndarray, list[str]]: ...


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str                   # in result files, checkpoints and `run.py --model`
    display_name: str           # in tables and figures
    latent: Latent              # builds the latent head, sample, read-out and KL
    discriminator: bool         # the TC discriminator and the gamma * TC penalty
    scores: tuple[str, ...]     # the unsupervised selection scores defined for it
    colour: str                 # matplotlib colour of its runs in figures

    @property
    def flags(self) -> dict[str, bool]:
        """The Config fields that select this model, e.g. {"gaussian": False, "tc": True}."""
        return dict(configs.MODEL_FLAGS[self.name])

    @property
    def authors_flags(self) -> str:
        """The same on the authors' command line, e.g. "--tc --gamma G"; empty for the default D-VAE."""
        words = [f"--{flag}" for flag, on in self.flags.items() if on]
        return " ".join(words + (["--gamma G"] if self.discriminator else []))

    @property
    def discrete(self) -> bool:
        """Whether the representation is discrete, so that the straight-through gap applies."""
        return self.latent.DISCRETE

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
