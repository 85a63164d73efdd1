"""data/base.py: stored pixels become observations as the reference computes them: float64 `x / 255`, cast."""
import jax
import numpy as np

from data.base import device_scale, pixel_table, scale_pixels

BYTES = np.arange(256, dtype=np.uint8)
REFERENCE = (BYTES / 255.).astype(np.float32)   # disentanglement_lib's float64 division


def test_host_scaling_is_the_reference_division():
    np.testing.assert_array_equal(scale_pixels(BYTES), REFERENCE)
    # The multiplication the loaders used before is one ulp off for 126 byte values.
    assert np.sum(BYTES.astype(np.float32) * np.float32(1 / 255) != REFERENCE) == 126


def test_device_scaling_is_the_reference_division():
    images = np.stack([BYTES.reshape(16, 16)] * 3, -1)[None]
    jitted = np.asarray(jax.jit(device_scale)(images))
    np.testing.assert_array_equal(jitted, np.stack([REFERENCE.reshape(16, 16)] * 3, -1)[None])


def test_signed_range_table():
    values = np.arange(-90, 350)
    np.testing.assert_array_equal(pixel_table(-90, 349), (values / 255.).astype(np.float32))
    np.testing.assert_array_equal(
        np.asarray(jax.jit(lambda p: device_scale(p, 255.0, -90, 349))(values.astype(np.int16))),
        (values / 255.).astype(np.float32))
