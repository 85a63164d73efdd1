"""smallNORB, read from the NORB binary matrix files as disentanglement_lib does.

Files under `$DISENTANGLEMENT_LIB_DATA/small_norb/`, training then testing:
  `smallnorb-5x46789x9x18x6x2x96x96-training-{dat,cat,info}.mat`
  `smallnorb-5x01235x9x18x6x2x96x96-testing-{dat,cat,info}.mat`
  dat:  uint8 [24300, 2, 96, 96] stereo pairs     cat:  int32 [24300] category 0..4
  info: int32 [24300, 4] instance 0..9, elevation 0..8, azimuth 0,2,..,34, lighting 0..5

Factors, in storage order [category 5, instance 10, elevation 9, azimuth 18, lighting 6];
instance is the non-latent one. The files are not in C order of these factors, so a lookup
table maps each factor tuple to its image. Images: the first of each stereo pair, resized
96 -> 64 exactly as disentanglement_lib does (`resize_to_64`), observation = value / 255.

disentanglement_lib reads the byte matrix as *int8*; PIL turns an int8 array into a 32-bit
integer ("I") image (bytes taken as 0..255), whose Lanczos resize rounds each pass to an
integer but clips nothing: resized values run from below 0 to above 255 on hard edges, and the
observations (value / 255) outside [0, 1] are kept. An 8-bit ("L") resize differs on about a
fifth of the pixels by up to 0.10. The resized values are stored as int16 (48,600 images:
398 MB in RAM, twice uint8, half float32).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from data._io import gigabytes, log, timed
from data.base import DataError, FactorSpace, GroundTruthData, data_root, require_file

NORB_DIR = "small_norb"
CHUNKS = ("smallnorb-5x46789x9x18x6x2x96x96-training",
          "smallnorb-5x01235x9x18x6x2x96x96-testing")
FACTOR_SIZES = (5, 10, 9, 18, 6)      # category, instance, elevation, azimuth, lighting
LATENT_FACTORS = (0, 2, 3, 4)

# Magic number -> element type of the NORB binary matrix format (little-endian).
MAGIC_DTYPES = {
    0x1E3D4C55: np.dtype("u1"),
    0x1E3D4C54: np.dtype("<i4"),
    0x1E3D4C51: np.dtype("<f4"),
    0x1E3D4C53: np.dtype("<f8"),
}


def read_norb_matrix(path) -> np.ndarray:
    """The array in a NORB binary matrix file, memory-mapped (read-only).

    Layout: int32 magic, int32 ndim, then max(3, ndim) int32 dims (unused ones are padding),
    then the data in C order.
    """
    path = require_file(path, "smallnorb")
    file_size = path.stat().st_size
    with open(path, "rb") as f:
        head = np.frombuffer(f.read(8), "<i4")
        if head.size < 2 or int(head[0]) not in MAGIC_DTYPES:
            magic = hex(int(head[0])) if head.size else "none"
            raise DataError(f"{path}: not a NORB binary matrix (magic {magic}, expected one of "
                            f"{', '.join(hex(m) for m in MAGIC_DTYPES)})")
        magic, ndim = int(head[0]), int(head[1])
        if not 1 <= ndim <= 16:
            raise DataError(f"{path}: NORB header says ndim={ndim}, expected 1..16")
        num_dims = max(3, ndim)
        dims = np.frombuffer(f.read(4 * num_dims), "<i4")
    if dims.size != num_dims:
        raise DataError(f"{path}: truncated NORB header, expected {num_dims} dims")
    shape = tuple(int(d) for d in dims[:ndim])
    dtype = MAGIC_DTYPES[magic]
    offset = 8 + 4 * num_dims
    expected = offset + int(np.prod(shape)) * dtype.itemsize
    if file_size != expected:
        raise DataError(f"{path}: {file_size} bytes, expected {expected} for a {dtype} matrix "
                        f"of shape {list(shape)}; the file is truncated or corrupt")
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)


def resize_to_64(images: np.ndarray) -> np.ndarray:
    """Byte images [n, H, W] -> int16 [n, 64, 64]: disentanglement_lib's resize, unclipped.

    Each image goes through PIL as disentanglement_lib's int8 array does: a 32-bit "I" image
    (one PIL call per image), Lanczos resize to 64x64, integer result without clipping.
    """
    out = np.empty((images.shape[0], 64, 64), np.int16)
    for i, image in enumerate(images):
        pil = Image.fromarray(np.ascontiguousarray(image).view(np.int8))
        if pil.mode != "I":
            raise DataError(f"smallnorb: PIL made a {pil.mode!r} image of an int8 array, "
                            f"expected 'I' (disentanglement_lib's 32-bit resize)")
        out[i] = np.asarray(pil.resize((64, 64), Image.LANCZOS))
    return out


def load_chunk(prefix):
    """(images int16 [n, 64, 64], factors int64 [n, 5]) of one training/testing chunk."""
    dat = read_norb_matrix(f"{prefix}-dat.mat")
    cat = read_norb_matrix(f"{prefix}-cat.mat")
    info = read_norb_matrix(f"{prefix}-info.mat")
    if dat.dtype != np.uint8 or dat.ndim != 4 or dat.shape[1:] != (2, 96, 96):
        raise DataError(f"{prefix}-dat.mat: {dat.dtype} {list(dat.shape)}, expected uint8 "
                        f"[n, 2, 96, 96]")
    n = dat.shape[0]
    if cat.dtype != np.int32 or cat.shape != (n,):
        raise DataError(f"{prefix}-cat.mat: {cat.dtype} {list(cat.shape)}, expected int32 [{n}]")
    if info.dtype != np.int32 or info.shape != (n, 4):
        raise DataError(f"{prefix}-info.mat: {info.dtype} {list(info.shape)}, expected int32 "
                        f"[{n}, 4]")
    factors = np.column_stack([cat, info]).astype(np.int64)
    factors[:, 3] //= 2  # azimuth is stored as 0, 2, ..., 34
    return resize_to_64(dat[:, 0]), factors


def lookup_table(factor_sizes, factors, where) -> np.ndarray:
    """int64 [prod(sizes)]: C-order index of a factor tuple -> position in the file.

    Refuses factor tables that leave out or repeat a combination (the state space must be
    covered exactly once, as disentanglement_lib checks).
    """
    sizes = np.asarray(factor_sizes, np.int64)
    if factors.shape[1] != sizes.size or np.any(factors < 0) or np.any(factors >= sizes):
        raise DataError(f"{where}: factor values outside the sizes {list(sizes)}")
    c_order = factors @ (np.prod(sizes) // np.cumprod(sizes))
    if factors.shape[0] != np.prod(sizes) or np.unique(c_order).size != factors.shape[0]:
        raise DataError(f"{where}: the factors do not cover each of the {int(np.prod(sizes))} "
                        f"combinations of sizes {list(sizes)} exactly once "
                        f"({factors.shape[0]} images)")
    table = np.empty(factors.shape[0], np.int64)
    table[c_order] = np.arange(factors.shape[0])
    return table


class SmallNORB(GroundTruthData):
    """smallNORB: images int16 [48600, 64, 64, 1] (resized, unclipped), latent factors [5, 9, 18, 6].

    `factor_sizes` (all five, storage order) may be overridden for small test files.
    """

    pixel_divisor = 255.0

    def __init__(self, factor_sizes=FACTOR_SIZES, root=None):
        self.name = "smallnorb"
        folder = (Path(root) if root else data_root()) / NORB_DIR
        if not folder.is_dir():
            raise DataError(f"smallnorb: expected the folder {folder} with the six "
                            f"smallnorb-*.mat files; run `python scripts/download.py smallnorb`")
        with timed("loaded smallnorb"):
            chunks = [load_chunk(folder / prefix) for prefix in CHUNKS]
            images = np.concatenate([c[0] for c in chunks])
            self.factors = np.concatenate([c[1] for c in chunks])
            self.table = lookup_table(factor_sizes, self.factors, folder)
        self.images = images[..., None]
        self.pixel_range = (int(images.min()), int(images.max())) if images.size else (0, 255)
        self.factor_space = FactorSpace(factor_sizes, LATENT_FACTORS)
        log(f"smallnorb: {images.shape[0]} images, {gigabytes(images)} in RAM")

    def _index_of(self, all_factors):
        return self.table[self.factor_space.index_of(all_factors)]
