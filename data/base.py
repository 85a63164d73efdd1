"""The ground-truth data interface of disentanglement_lib, plus what training needs.

Metrics only call the duck-typed interface (`num_factors`, `factors_num_values`,
`observation_shape`, `sample_factors`, `sample_observations_from_factors`, `sample`,
`sample_observations`). The sequence of `random_state` calls made here is part of the
protocol: metric numbers depend on it, so it follows disentanglement_lib exactly.

Training additionally needs the stored images as a uint8 array (kept on the device) and
a per-batch map from stored pixels to observations (`to_observations`), which is where
colour, noise or background sampling happens for the dSprites variants.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def scale_pixels(pixels, divisor: float = 255.0) -> np.ndarray:
    """float32 `pixels / divisor`, equal to the reference's float64 `x / 255` cast to float32.

    For integers |x| < 2**24 one float32 division is that number: both are the correctly
    rounded quotient (a float64 rounding before the float32 one cannot change it, since
    53 >= 2 * 24 + 2). Multiplying by float32(1 / 255) instead is one ulp off for 126 of the
    256 byte values.
    """
    return np.asarray(pixels).astype(np.float32) / np.float32(divisor)


def pixel_table(low: int, high: int, divisor: float = 255.0) -> np.ndarray:
    """float32 [high - low + 1]: `scale_pixels` of every stored value low..high."""
    return scale_pixels(np.arange(low, high + 1), divisor)


def device_scale(pixels, divisor: float = 255.0, low: int = 0, high: int = 255):
    """jax: integer pixels (values low..high) -> float32 `pixels / divisor`, as `scale_pixels`.

    A table lookup, not a division: XLA rewrites division by a constant into multiplication by
    its reciprocal, which is the one-ulp-off computation `scale_pixels` avoids.
    """
    import jax.numpy as jnp
    table = jnp.asarray(pixel_table(low, high, divisor))
    return table[pixels.astype(jnp.int32) - low]


class DataError(ValueError):
    """A data set could not be loaded; the message is one line that says what and where."""


def data_root() -> Path:
    """The folder of `$DISENTANGLEMENT_LIB_DATA`; a clear error if it is unset or missing."""
    root = os.environ.get("DISENTANGLEMENT_LIB_DATA")
    if not root:
        raise DataError(
            "DISENTANGLEMENT_LIB_DATA is not set: point it at the folder that holds the "
            "disentanglement_lib data sets (e.g. export DISENTANGLEMENT_LIB_DATA=~/dlib_data)")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DataError(f"DISENTANGLEMENT_LIB_DATA={root} is not a folder")
    return path


def require_file(path: Path, what: str) -> Path:
    """`path` if it exists, else a one-line error naming the path and the variable that sets it."""
    if not Path(path).is_file():
        raise DataError(
            f"{what}: expected the file {path} (under $DISENTANGLEMENT_LIB_DATA); "
            f"run `python scripts/download.py` or set DISENTANGLEMENT_LIB_DATA")
    return Path(path)


class FactorSpace:
    """Factors split into latent ones (seen by metrics) and nuisance ones (drawn at random).

    `factor_sizes` lists every factor that indexes the stored images, in storage order;
    `latent_factor_indices` picks the ones that are ground-truth factors.
    """

    def __init__(self, factor_sizes, latent_factor_indices):
        self.factor_sizes = [int(s) for s in factor_sizes]
        self.latent_factor_indices = list(latent_factor_indices)
        self.observation_factor_indices = [
            i for i in range(len(self.factor_sizes)) if i not in self.latent_factor_indices]
        # C-order strides: index = dot(all_factors, bases).
        sizes = np.asarray(self.factor_sizes, dtype=np.int64)
        self.bases = np.prod(sizes) // np.cumprod(sizes)

    @property
    def num_latent_factors(self) -> int:
        return len(self.latent_factor_indices)

    def sample_latent_factors(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
        """[num, num_latent] int64; one `randint` per latent factor, in order."""
        factors = np.zeros((num, len(self.latent_factor_indices)), dtype=np.int64)
        for pos, i in enumerate(self.latent_factor_indices):
            factors[:, pos] = random_state.randint(self.factor_sizes[i], size=num)
        return factors

    def sample_all_factors(self, latent_factors: np.ndarray,
                           random_state: np.random.RandomState) -> np.ndarray:
        """[num, num_all] int64: the latent factors plus freshly drawn nuisance factors."""
        latent_factors = np.asarray(latent_factors)
        num = latent_factors.shape[0]
        all_factors = np.zeros((num, len(self.factor_sizes)), dtype=np.int64)
        all_factors[:, self.latent_factor_indices] = latent_factors
        for i in self.observation_factor_indices:
            all_factors[:, i] = random_state.randint(self.factor_sizes[i], size=num)
        return all_factors

    def index_of(self, all_factors: np.ndarray) -> np.ndarray:
        """[num] int64 storage index of each full factor vector (C order)."""
        return np.asarray(all_factors, dtype=np.int64) @ self.bases


class GroundTruthData:
    """Base class: a finite set of images indexed by discrete factors.

    Subclasses set `name`, `factor_space`, `images` (uint8 [num_images, 64, 64, C]; smallNORB
    int16; Isaac3D and Falcor3D optionally float32 observations) and `pixel_divisor` (1 for 0/1
    images and float32 observations, 255 for 0..255 images: observation = stored value /
    pixel_divisor; `pixel_range` gives the stored integers' bounds), and may override
    `_index_of` (file order that is not C order) and the two observation hooks.
    """

    name: str = "ground_truth_data"
    factor_space: FactorSpace
    images: np.ndarray
    pixel_divisor: float = 255.0
    pixel_range: tuple[int, int] = (0, 255)

    # -- disentanglement_lib interface -------------------------------------------------
    @property
    def num_factors(self) -> int:
        return self.factor_space.num_latent_factors

    @property
    def factors_num_values(self) -> list[int]:
        return [self.factor_space.factor_sizes[i] for i in self.factor_space.latent_factor_indices]

    @property
    def observation_shape(self) -> list[int]:
        return list(self.images.shape[1:])

    def sample_factors(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
        return self.factor_space.sample_latent_factors(num, random_state)

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        """float32 [num, 64, 64, C] in [0, 1] for latent factors [num, num_factors]."""
        all_factors = self.factor_space.sample_all_factors(factors, random_state)
        pixels = self.images[self._index_of(all_factors)]
        return self._observations_from_pixels(pixels, random_state)

    def sample(self, num: int, random_state: np.random.RandomState):
        factors = self.sample_factors(num, random_state)
        return factors, self.sample_observations_from_factors(factors, random_state)

    def sample_observations(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
        return self.sample(num, random_state)[1]

    # -- hooks -----------------------------------------------------------------------------
    def _index_of(self, all_factors: np.ndarray) -> np.ndarray:
        return self.factor_space.index_of(all_factors)

    def _observations_from_pixels(self, pixels: np.ndarray,
                                  random_state: np.random.RandomState) -> np.ndarray:
        """Host-side: uint8 [num, 64, 64, C] -> float32 observations (may draw from random_state)."""
        del random_state
        return scale_pixels(pixels, self.pixel_divisor)

    def to_observations(self, key, pixels):
        """Device-side (jax, inside the jitted training step): uint8 [batch, 64, 64, C] -> float32.

        Overridden by data sets whose observations are randomised per sample (colour, noise,
        background); `key` is a `jax.random` key used only by those.
        """
        del key
        return device_scale(pixels, self.pixel_divisor, *self.pixel_range)

    def describe(self) -> str:
        return (f"{self.name}: {self.images.shape[0]} images of {self.observation_shape}, "
                f"factors {self.factors_num_values}")
