"""Latents (models/latents.py): the codebook is an ordered linspace, and the Gumbel noise scale
follows its cosine schedule (docs/design.md §2)."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import Config
from models import build_model, gumbel_noise_scale


def test_codebook_is_ordered_linspace():
    model = build_model(Config(num_categories=5), 1)
    params, _, _ = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 64, 64, 1)))
    embed = np.asarray(params["codebook"]["embed"])
    np.testing.assert_allclose(embed[3, :, 0], [-1.0, -0.5, 0.0, 0.5, 1.0])


def test_noise_scale_schedule():
    T = 1000
    assert float(gumbel_noise_scale(0, T)) == pytest.approx(0.5)
    assert float(gumbel_noise_scale(T // 2, T)) == pytest.approx(1.25)
    assert float(gumbel_noise_scale(T, T)) == pytest.approx(2.0)
    assert float(gumbel_noise_scale(-5, T)) == pytest.approx(0.5)
    assert float(gumbel_noise_scale(2 * T, T)) == pytest.approx(2.0)
    quarter = 1.25 - 0.75 * math.cos(math.pi / 4)
    assert float(gumbel_noise_scale(T // 4, T)) == pytest.approx(quarter, rel=1e-5)
    assert float(gumbel_noise_scale(100, T, init=1.0, final=0.0)) < 1.0   # falling works too
