"""`dsprites_procedural`: a re-creation of dSprites that the code draws itself.

This is NOT DeepMind's dSprites file: it is drawn here from the same factor layout so that a
fresh machine, with no download, has a data set to train and evaluate on. Factors, in storage
(C) order, exactly as `dsprites_full`: colour 1 (nuisance), shape 3 (square, ellipse, heart),
scale 6 (linspace(0.5, 1, 6)), orientation 40 (linspace(0, 2 pi, 40)), position x 32 and
position y 32 (linspace(0, 1, 32)); binary 64 x 64 images, 737,280 of them.

Drawing: each (shape, scale, orientation) sprite is rasterised once at the image centre
(a pixel is on when its centre lies inside the rotated shape), then translated by whole
pixels to every position, so one sprite is drawn 720 times, not 737,280. The array is cached
as packed bits (compressed, about 40 MB) under `$DISENTANGLEMENT_LIB_DATA/dsprites_procedural/`
or, when that is unset, the user cache folder (`$XDG_CACHE_HOME/lddr`, default ~/.cache/lddr).
"""
from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path

import numpy as np

from data.atomic import atomic_write
from data.base import FactorSpace, GroundTruthData

IMAGE_SIZE = 64
SHAPES = ("square", "ellipse", "heart")
_FORMAT = 1  # bump when the drawing changes, so stale caches are not reused


def _inside(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether points (u, v) in the sprite's own frame (unit size) lie inside `shape`."""
    if shape == "square":
        return (np.abs(u) <= 0.5) & (np.abs(v) <= 0.5)
    if shape == "ellipse":
        return (u / 0.5) ** 2 + (v / 0.3) ** 2 <= 1.0
    if shape == "heart":
        # The classic heart curve (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0, scaled to about unit size,
        # point up in image coordinates (v grows downwards).
        x, y = u / 0.45, -v / 0.45 + 0.1
        return (x**2 + y**2 - 1.0) ** 3 - x**2 * y**3 <= 0.0
    raise ValueError(f"unknown shape {shape!r}")


def draw_sprite(shape: str, scale: float, orientation: float, sprite_size: float) -> np.ndarray:
    """uint8 [64, 64] 0/1 image of one sprite centred at pixel (32, 32)."""
    centres = np.arange(IMAGE_SIZE, dtype=np.float64) - IMAGE_SIZE / 2 + 0.5
    y, x = np.meshgrid(centres, centres, indexing="ij")
    cos, sin = np.cos(orientation), np.sin(orientation)
    size = scale * sprite_size
    # Rotate the pixel grid by -orientation: the sprite turns by +orientation.
    u = (cos * x + sin * y) / size
    v = (-sin * x + cos * y) / size
    return _inside(shape, u, v).astype(np.uint8)


class ProceduralDSprites(GroundTruthData):
    """dSprites-layout data set drawn on first use and cached; behind the dlib interface.

    Keyword overrides (tests use small versions): `num_scales`, `num_orientations`,
    `num_positions`, `cache_dir`.
    """

    name = "dsprites_procedural"
    pixel_divisor = 1.0  # images are 0/1, like the DeepMind file

    def __init__(self, num_scales: int = 6, num_orientations: int = 40, num_positions: int = 32,
                 sprite_size: float = 20.0, margin: int = 10, cache_dir: str | Path | None = None,
                 verbose: bool = True):
        self.scales = np.linspace(0.5, 1.0, num_scales)
        self.orientations = np.linspace(0.0, 2 * np.pi, num_orientations)
        # Sprite centres in whole pixels, from `margin` to 64 - `margin` (positions 0..1).
        self.pixel_positions = np.round(np.linspace(margin, IMAGE_SIZE - margin, num_positions)).astype(int)
        self.sprite_size = float(sprite_size)
        self.factor_space = FactorSpace(
            [1, len(SHAPES), num_scales, num_orientations, num_positions, num_positions],
            latent_factor_indices=[1, 2, 3, 4, 5])
        self.images = self._load_or_draw(cache_dir, verbose)

    # -- drawing and caching -----------------------------------------------------------------
    def _cache_key(self) -> str:
        spec = repr((_FORMAT, self.factor_space.factor_sizes, self.sprite_size,
                     self.pixel_positions.tolist()))
        return hashlib.sha256(spec.encode()).hexdigest()[:12]

    def _cache_file(self, cache_dir) -> Path:
        if cache_dir is None:
            if os.environ.get("DISENTANGLEMENT_LIB_DATA"):
                cache_dir = Path(os.environ["DISENTANGLEMENT_LIB_DATA"]) / "dsprites_procedural"
            else:
                cache_dir = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lddr"
        return Path(cache_dir).expanduser() / f"dsprites_procedural_{self._cache_key()}.npz"

    def _load_or_draw(self, cache_dir, verbose: bool) -> np.ndarray:
        path = self._cache_file(cache_dir)
        num_images = int(np.prod(self.factor_space.factor_sizes))
        if path.is_file():
            try:
                with np.load(path) as archive:
                    bits = archive["bits"]
                images = np.unpackbits(bits, axis=-1, count=IMAGE_SIZE)
                if images.shape == (num_images, IMAGE_SIZE, IMAGE_SIZE):
                    return images[..., None]
                problem = f"holds {images.shape[0]} images, expected {num_images}"
            except (OSError, ValueError, KeyError, EOFError) as error:
                problem = f"is unreadable ({type(error).__name__}: {' '.join(str(error).split())})"
            print(f"dsprites_procedural: the cache {path} {problem}; drawing the images again", file=sys.stderr)
        start = time.perf_counter()
        images = self.draw()
        with atomic_write(path, "wb") as f:
            np.savez_compressed(f, bits=np.packbits(images[..., 0], axis=-1))
        if verbose:
            print(f"dsprites_procedural: drew {num_images} images in "
                  f"{time.perf_counter() - start:.1f}s, cached at {path}")
        return images

    def draw(self) -> np.ndarray:
        """uint8 [num_images, 64, 64, 1] in storage (C) order of the factors."""
        sizes = self.factor_space.factor_sizes
        num_positions = sizes[4]
        images = np.empty((int(np.prod(sizes)), IMAGE_SIZE, IMAGE_SIZE, 1), dtype=np.uint8)
        block = num_positions * num_positions
        # Offsets of the 64x64 window in a 128x128 canvas with the sprite at (64, 64): a window
        # starting at 64 - p puts the sprite centre at pixel p.
        offsets = IMAGE_SIZE - self.pixel_positions
        index = 0
        for shape in SHAPES:
            for scale in self.scales:
                for orientation in self.orientations:
                    canvas = np.zeros((2 * IMAGE_SIZE, 2 * IMAGE_SIZE), np.uint8)
                    canvas[IMAGE_SIZE // 2: IMAGE_SIZE // 2 + IMAGE_SIZE,
                           IMAGE_SIZE // 2: IMAGE_SIZE // 2 + IMAGE_SIZE] = draw_sprite(
                               shape, scale, orientation, self.sprite_size)
                    windows = np.lib.stride_tricks.sliding_window_view(canvas, (IMAGE_SIZE, IMAGE_SIZE))
                    # factor order is (pos x, pos y): x moves columns, y moves rows.
                    moved = windows[offsets[None, :], offsets[:, None]]   # [pos_x, pos_y, 64, 64]
                    images[index:index + block, :, :, 0] = moved.reshape(block, IMAGE_SIZE, IMAGE_SIZE)
                    index += block
        return images
