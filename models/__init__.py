"""Networks, latents, losses, the registry of the paper's four models and their Haiku transforms."""
from models.model import Model, build_model
from models.ordered_categorical_latent import gumbel_noise_scale, set_gumbel_state
from models.registry import REGISTRY, ModelSpec, spec_for

__all__ = ["REGISTRY", "Model", "ModelSpec", "build_model", "gumbel_noise_scale", "set_gumbel_state", "spec_for"]
