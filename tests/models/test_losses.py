"""Losses (models/losses.py) against hand computations."""
import math

import jax.numpy as jnp
import numpy as np

from models import losses


def test_categorical_kl_by_hand():
    logits = np.array([[[0.0, 1.0, 2.0], [3.0, 3.0, 3.0]]])        # [1, N=2, K=3]
    q = np.exp(logits[0, 0]) / np.exp(logits[0, 0]).sum()
    expected = sum(qk * (math.log(qk) + math.log(3)) for qk in q)   # second latent is uniform: 0
    np.testing.assert_allclose(losses.categorical_kl(jnp.asarray(logits)), [expected], rtol=1e-6)


def test_gaussian_kl_by_hand():
    mean = np.array([[0.5, -1.0]])
    logvar = np.array([[0.0, math.log(4.0)]])
    expected = 0.5 * ((0.25 + 1 - 0 - 1) + (1.0 + 4.0 - math.log(4.0) - 1))
    np.testing.assert_allclose(losses.gaussian_kl(jnp.asarray(mean), jnp.asarray(logvar)), [expected], rtol=1e-6)


def test_bernoulli_reconstruction_by_hand():
    logits = np.zeros((1, 64, 64, 1))
    logits[0, 0, 0, 0] = 2.0
    images = np.zeros((1, 64, 64, 1))
    images[0, 0, 0, 0] = 1.0
    expected = (64 * 64 - 1) * math.log(2) + math.log(1 + math.exp(-2.0))
    np.testing.assert_allclose(losses.bernoulli_reconstruction(jnp.asarray(logits), jnp.asarray(images)),
                               [expected], rtol=1e-5)


def test_tc_and_discriminator_loss_by_hand():
    logits = jnp.array([[2.0, 0.5], [0.0, 1.0]])
    np.testing.assert_allclose(losses.total_correlation(logits), [1.5, -1.0])
    joint, permuted = jnp.array([[1.0, 0.0]]), jnp.array([[0.0, 2.0]])
    ce_joint = -math.log(math.e / (math.e + 1))
    ce_perm = -math.log(math.exp(2) / (1 + math.exp(2)))
    np.testing.assert_allclose(losses.discriminator_loss(joint, permuted), 0.5 * (ce_joint + ce_perm), rtol=1e-6)
