"""Networks, latents, losses and the four models of the paper."""
from models.latents import gumbel_noise_scale
from models.model import Model, build_model, set_gumbel_state

__all__ = ["Model", "build_model", "gumbel_noise_scale", "set_gumbel_state"]
