"""Encoder trunk, decoder and TC discriminator (docs/design.md §1, §4).

The module names (`enc_conv0`, ..., `dec_deconv3`) are those of the authors' flat Haiku
parameter tree, so checkpoints are interchangeable. `hk.transparent` keeps the layers at the
top level of that tree instead of nesting them under `encoder/~/...`.
"""
from __future__ import annotations

import haiku as hk
import jax
import jax.numpy as jnp

from models import layers


class Encoder(hk.Module):
    """Images [batch, 64, 64, C] in [0, 1] -> features [batch, hidden_size].

    `conv_impl` ("auto", "xla", "fast") picks the convolution implementation of
    `models.layers`; the parameters are hk.Conv2D's either way.
    """

    def __init__(self, hidden_size: int = 256, conv_impl: str = "auto", name: str | None = None):
        super().__init__(name=name)
        self.hidden_size = hidden_size
        self.conv_impl = conv_impl

    @hk.transparent
    def __call__(self, images: jax.Array) -> jax.Array:
        h = images
        for i, (channels, kernel) in enumerate([(32, 4), (32, 4), (64, 2), (64, 2)]):
            h = jax.nn.relu(layers.Conv2D(channels, kernel, stride=2, padding="SAME", impl=self.conv_impl,
                                            name=f"enc_conv{i}")(h))
        h = h.reshape(h.shape[0], -1)                                  # [batch, 4*4*64]
        return jax.nn.relu(hk.Linear(self.hidden_size, name="enc_mlp")(h))


class Decoder(hk.Module):
    """Latent z [batch, N] -> Bernoulli logits [batch, 64, 64, C]."""

    def __init__(self, channels: int, hidden_size: int = 256, conv_impl: str = "auto", name: str | None = None):
        super().__init__(name=name)
        self.channels = channels
        self.hidden_size = hidden_size
        self.conv_impl = conv_impl

    @hk.transparent
    def __call__(self, z: jax.Array) -> jax.Array:
        h = hk.nets.MLP([self.hidden_size, 1024], activate_final=True, name="dec_mlp")(z)
        h = h.reshape(-1, 4, 4, 64)
        for i, channels in enumerate([64, 32, 32]):
            h = jax.nn.relu(layers.Conv2DTranspose(channels, 4, stride=2, padding="SAME", impl=self.conv_impl,
                                                   name=f"dec_deconv{i}")(h))
        return layers.Conv2DTranspose(self.channels, 4, stride=2, padding="SAME", impl=self.conv_impl,
                                      name="dec_deconv3")(h)


def discriminator(z: jax.Array) -> jax.Array:
    """TC discriminator: z [batch, N] -> logits [batch, 2] (class 0: q(z), class 1: prod q(z_n))."""
    return hk.nets.MLP([1000] * 6 + [2], activation=jax.nn.leaky_relu, name="discriminator")(z)


def permute_dims(key: jax.Array, z: jax.Array) -> jax.Array:
    """Shuffle each latent dimension independently across the batch: samples of prod_n q(z_n)."""
    order = jnp.argsort(jax.random.uniform(key, z.shape), axis=0)     # one permutation per column
    return jnp.take_along_axis(z, order, axis=0)
