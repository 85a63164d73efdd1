"""dSprites and its colour / noise / Scream variants, as disentanglement_lib defines them.

File: `$DISENTANGLEMENT_LIB_DATA/dsprites/dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`
with `imgs` uint8 [737280, 64, 64] of 0/1 and a pickled `metadata` dict whose
`latents_sizes` = [1, 3, 6, 40, 32, 32] (colour, shape, scale, orientation, x, y) gives the
C-order layout of `imgs`. The Scream variant also reads `scream/scream.jpg`.

Observations (float32, [n, 64, 64, C]), with disentanglement_lib's `random_state` calls:
  1. `sample_factors`: one `randint(size_i, size=n)` per latent factor, in order.
  2. `sample_observations_from_factors`: one `randint` per non-latent factor (colour, and
     shape for `dsprites_noshape`), then the image is looked up, then
       color_dsprites:  `uniform(0.5, 1, [n, 1, 1, 3])`           -> image * colour
       noisy_dsprites:  `uniform(0, 1, [n, 64, 64, 3])`           -> min(image + noise, 1)
       scream_dsprites: for each sample i in order:
                          `randint(0, H - 64)` (row offset), `randint(0, W - 64)` (column
                          offset), `uniform(0, 1, size=3)` (colour shift)
                        -> background = (patch + shift) / 2, sprite pixels set to
                           1 - background.
Values are computed in float64 as disentanglement_lib does and returned as float32.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from data._io import check_array, gigabytes, log, one_line, read_npz, timed
from data.base import DataError, FactorSpace, GroundTruthData, data_root, require_file

DSPRITES_FILE = "dsprites/dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
SCREAM_FILE = "scream/scream.jpg"
# The Scream is shrunk to fit in this box (aspect ratio kept), as disentanglement_lib does.
SCREAM_BOX = (350, 274)

# Indices into latents_sizes = [colour, shape, scale, orientation, x, y].
FULL_LATENTS = (1, 2, 3, 4, 5)
NOSHAPE_LATENTS = (2, 3, 4, 5)


def _root(root) -> Path:
    return Path(root) if root else data_root()


def load_dsprites_file(root=None):
    """(imgs uint8 [n, 64, 64], latents_sizes list[int]) from the dSprites npz, checked."""
    path = require_file(_root(root) / DSPRITES_FILE, "dSprites")
    arrays = read_npz(path, ["imgs", "metadata"], allow_pickle=True)
    try:
        sizes = [int(s) for s in arrays["metadata"][()]["latents_sizes"]]
    except (KeyError, TypeError, IndexError, ValueError):
        raise DataError(f"{path}: 'metadata' is not a dict with 'latents_sizes', expected "
                        f"e.g. {{'latents_sizes': [1, 3, 6, 40, 32, 32], ...}}") from None
    if len(sizes) != 6:
        raise DataError(f"{path}: latents_sizes {sizes} has {len(sizes)} entries, expected 6 "
                        f"(colour, shape, scale, orientation, x, y)")
    imgs = check_array(arrays["imgs"], path, "imgs", np.uint8, (int(np.prod(sizes)), 64, 64))
    return imgs, sizes


class DSprites(GroundTruthData):
    """dSprites: black/white sprites, images [n, 64, 64, 1] uint8 of 0/1 (pixel_divisor 1)."""

    pixel_divisor = 1.0
    channels = 1

    def __init__(self, latent_factor_indices=FULL_LATENTS, name="dsprites_full", root=None):
        self.name = name
        with timed(f"loaded {name}"):
            imgs, sizes = load_dsprites_file(root)
        # A view with a channel axis; no copy (3 GB for the full file).
        self.images = imgs[..., None]
        self.factor_space = FactorSpace(sizes, latent_factor_indices)
        log(f"{name}: {imgs.shape[0]} images, latents_sizes {sizes}, {gigabytes(imgs)} in RAM")

    @property
    def observation_shape(self):
        return [64, 64, self.channels]

    def _binary_observations(self, pixels):
        """uint8 [n, 64, 64, 1] of 0/1 -> float64 [n, 64, 64, 3] (the repeated channel)."""
        return np.repeat(pixels.astype(np.float64), 3, axis=3)


class ColorDSprites(DSprites):
    """Each observation is the sprite times one RGB colour drawn from U(0.5, 1)^3."""

    channels = 3

    def _observations_from_pixels(self, pixels, random_state):
        observations = self._binary_observations(pixels)
        colors = random_state.uniform(0.5, 1, [observations.shape[0], 1, 1, 3])
        return (observations * colors).astype(np.float32)

    def to_observations(self, key, pixels):
        import jax
        import jax.numpy as jnp
        colors = jax.random.uniform(key, (pixels.shape[0], 1, 1, 3), jnp.float32, 0.5, 1.0)
        return pixels.astype(jnp.float32) * colors


class NoisyDSprites(DSprites):
    """The sprite plus U(0, 1) noise on every pixel and channel, clipped at 1."""

    channels = 3

    def _observations_from_pixels(self, pixels, random_state):
        observations = self._binary_observations(pixels)
        noise = random_state.uniform(0, 1, [observations.shape[0], 64, 64, 3])
        return np.minimum(observations + noise, 1.0).astype(np.float32)

    def to_observations(self, key, pixels):
        import jax
        import jax.numpy as jnp
        noise = jax.random.uniform(key, (pixels.shape[0], 64, 64, 3), jnp.float32)
        return jnp.minimum(pixels.astype(jnp.float32) + noise, 1.0)


def load_scream(root=None) -> np.ndarray:
    """float64 [H, W, 3] in [0, 1]: scream.jpg shrunk (PIL thumbnail) to fit 350x274.

    For the Wikimedia file (portrait) that is about 219 wide x 274 high, so H=274.
    """
    path = require_file(_root(root) / SCREAM_FILE, "scream_dsprites")
    try:
        with Image.open(path) as image:
            image = _thumbnail_like_pillow6(image, SCREAM_BOX)
            scream = np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: not a readable image ({one_line(err)}); expected the "
                        f"Scream JPEG") from None
    if scream.shape[0] <= 64 or scream.shape[1] <= 64:
        raise DataError(f"{path}: image is {scream.shape[1]}x{scream.shape[0]} after shrinking "
                        f"to fit {SCREAM_BOX}, expected both sides > 64")
    return scream


def _thumbnail_like_pillow6(image, box):
    """`Image.thumbnail(box)` as Pillow <= 6 did it (disentanglement_lib's era, 2019).

    Pillow >= 7 changed thumbnail (size rounding, `reducing_gap`), which would shift the
    Scream pixels slightly. The old recipe: shrink the size with int truncation keeping the
    aspect ratio, let the JPEG decoder downscale by a power of two (`draft`) to at least that
    size, then resize with BICUBIC.
    """
    x, y = image.size
    if x > box[0]:
        y = int(max(y * box[0] / x, 1))
        x = int(box[0])
    if y > box[1]:
        x = int(max(x * box[1] / y, 1))
        y = int(box[1])
    if (x, y) == image.size:
        return image
    image.draft(None, (x, y))
    return image.resize((x, y), Image.Resampling.BICUBIC)


class ScreamDSprites(DSprites):
    """The sprite inverts a colour-shifted random 64x64 patch of The Scream."""

    channels = 3

    def __init__(self, latent_factor_indices=FULL_LATENTS, name="scream_dsprites", root=None):
        super().__init__(latent_factor_indices, name, root)
        self.scream = load_scream(root)

    def _observations_from_pixels(self, pixels, random_state):
        observations = self._binary_observations(pixels)
        rows, cols = self.scream.shape[0] - 64, self.scream.shape[1] - 64
        # The draws interleave per sample (row, column, shift), so this loops over the batch.
        for i in range(observations.shape[0]):
            x_crop = random_state.randint(0, rows)
            y_crop = random_state.randint(0, cols)
            background = (self.scream[x_crop:x_crop + 64, y_crop:y_crop + 64]
                          + random_state.uniform(0, 1, size=3)) / 2.0
            mask = observations[i] == 1
            background[mask] = 1 - background[mask]
            observations[i] = background
        return observations.astype(np.float32)

    def to_observations(self, key, pixels):
        import jax
        import jax.numpy as jnp
        n = pixels.shape[0]
        scream = jnp.asarray(self.scream, jnp.float32)
        k_row, k_col, k_shift = jax.random.split(key, 3)
        row = jax.random.randint(k_row, (n,), 0, self.scream.shape[0] - 64)
        col = jax.random.randint(k_col, (n,), 0, self.scream.shape[1] - 64)
        shift = jax.random.uniform(k_shift, (n, 1, 1, 3), jnp.float32)
        patches = jax.vmap(
            lambda r, c: jax.lax.dynamic_slice(scream, (r, c, 0), (64, 64, 3)))(row, col)
        background = (patches + shift) / 2.0
        return jnp.where(pixels == 1, 1.0 - background, background)


# Registry factories: disentanglement_lib's names and latent factor choices.
def dsprites_full(**kw):
    return DSprites(FULL_LATENTS, "dsprites_full", **kw)


def dsprites_noshape(**kw):
    return DSprites(NOSHAPE_LATENTS, "dsprites_noshape", **kw)


def color_dsprites(**kw):
    return ColorDSprites(FULL_LATENTS, "color_dsprites", **kw)


def noisy_dsprites(**kw):
    return NoisyDSprites(FULL_LATENTS, "noisy_dsprites", **kw)


def scream_dsprites(**kw):
    return ScreamDSprites(FULL_LATENTS, "scream_dsprites", **kw)
