"""Shapes3D (Burgess & Kim 2018): disentanglement_lib's npz or the public `3dshapes.h5`.

Files under `$DISENTANGLEMENT_LIB_DATA/3dshapes/`, the first one that loads is used:
  `look-at-object-room_floor-hueXwall-hueXobj-hueXobj-sizeXobj-shapeXview-azi.npz`
      (what disentanglement_lib expects; never published) keys `images`, `labels`, in
      either layout: disentanglement_lib's, with the six factor axes leading
      (images [10, 10, 10, 8, 4, 15, 64, 64, 3], labels [10, 10, 10, 8, 4, 15, 6]; it
      reshapes them to [480000, ...]), or flat (images [480000, 64, 64, 3], labels [480000, 6])
  `3dshapes.h5` (the public release) datasets `images` uint8 [480000, 64, 64, 3],
      `labels` float64 [480000, 6]
An npz that is refused (wrong keys, dtype or shape, unreadable) falls back to the h5 if there
is one, saying why; without an h5 its error is raised.
Factors (C order): floor hue 10, wall hue 10, object hue 10, scale 8, shape 4,
orientation 15, all latent. Images stay uint8 (5.9 GB; as float32 they would need 24 GB).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from data._io import check_array, gigabytes, log, one_line, read_npz, timed
from data.base import DataError, FactorSpace, GroundTruthData, data_root

SHAPES3D_DIR = "3dshapes"
NPZ_FILE = "look-at-object-room_floor-hueXwall-hueXobj-hueXobj-sizeXobj-shapeXview-azi.npz"
H5_FILE = "3dshapes.h5"
FACTOR_SIZES = (10, 10, 10, 8, 4, 15)
H5_CHUNK = 10_000   # images per h5 read: ~120 MB of transient memory


def read_h5(path: Path, num_images: int):
    """(images uint8 [n, 64, 64, 3], labels [n, 6]) read chunk by chunk into one array."""
    import h5py
    try:
        with h5py.File(path, "r") as f:
            for key in ("images", "labels"):
                if key not in f:
                    raise DataError(f"{path}: missing dataset {key!r}, expected 'images' and "
                                    f"'labels' (found {sorted(f.keys())})")
            source = f["images"]
            shape = (num_images, 64, 64, 3)
            if source.dtype != np.uint8 or source.shape != shape:
                raise DataError(f"{path}: 'images' is {source.dtype} {list(source.shape)}, "
                                f"expected uint8 {list(shape)}")
            images = np.empty(shape, np.uint8)
            for start in range(0, num_images, H5_CHUNK):
                window = np.s_[start:min(start + H5_CHUNK, num_images)]
                source.read_direct(images, source_sel=window, dest_sel=window)
            labels = f["labels"][()]
    except OSError as err:
        raise DataError(f"{path}: not a readable HDF5 file ({one_line(err)}); it may be truncated, "
                        f"download it again") from None
    return images, labels


def check_label_order(labels: np.ndarray, factor_sizes, path) -> None:
    """Refuse files whose images are not in C order of the factors (as the index assumes).

    Each label column is ranked (its distinct values, sorted); the ranks must count up in
    C order exactly like the image index.
    """
    sizes = np.asarray(factor_sizes, np.int64)
    ranks = np.empty(labels.shape, np.int64)
    for j in range(labels.shape[1]):
        values, ranks[:, j] = np.unique(labels[:, j], return_inverse=True)
        if values.size != sizes[j]:
            raise DataError(f"{path}: label column {j} has {values.size} distinct values, "
                            f"expected {sizes[j]} (factor sizes {list(sizes)})")
    if not np.array_equal(ranks @ (np.prod(sizes) // np.cumprod(sizes)),
                          np.arange(labels.shape[0])):
        raise DataError(f"{path}: images are not stored in C order of the factors "
                        f"{list(sizes)}; pass check_labels=False to load anyway")


def read_npz_layouts(path: Path, factor_sizes):
    """(images uint8 [n, 64, 64, 3], labels [n, 6]) of an npz in either accepted layout."""
    arrays = read_npz(path, ["images", "labels"])
    images, labels = arrays["images"], np.asarray(arrays["labels"])
    num_images, sizes = int(np.prod(factor_sizes)), list(factor_sizes)
    check_array(images, path, "images", np.uint8)
    if list(images.shape) == sizes + [64, 64, 3]:          # disentanglement_lib's layout
        images = images.reshape(num_images, 64, 64, 3)
    elif list(images.shape) != [num_images, 64, 64, 3]:
        raise DataError(f"{path}: 'images' has shape {list(images.shape)}, expected "
                        f"{sizes + [64, 64, 3]} or {[num_images, 64, 64, 3]}")
    if list(labels.shape) == sizes + [6]:
        labels = labels.reshape(num_images, 6)
    return images, labels


class Shapes3D(GroundTruthData):
    """Shapes3D: images uint8 [480000, 64, 64, 3], factors [10, 10, 10, 8, 4, 15]."""

    pixel_divisor = 255.0

    def __init__(self, factor_sizes=FACTOR_SIZES, root=None, check_labels=True):
        self.name = "shapes3d"
        folder = (Path(root) if root else data_root()) / SHAPES3D_DIR
        num_images = int(np.prod(factor_sizes))
        npz, h5 = folder / NPZ_FILE, folder / H5_FILE
        if not npz.is_file() and not h5.is_file():
            raise DataError(f"shapes3d: expected {h5} (public release) or {npz}; run "
                            f"`python scripts/download.py shapes3d`")
        loaded = None
        if npz.is_file():
            try:
                loaded = self._load(npz, factor_sizes, check_labels)
            except DataError as error:
                if not h5.is_file():
                    raise
                log(f"shapes3d: not using {npz} ({error}); reading {h5} instead")
        images = loaded if loaded is not None else self._load(h5, factor_sizes, check_labels)
        self.images = images
        self.factor_space = FactorSpace(factor_sizes, range(6))
        log(f"shapes3d: {num_images} images, {gigabytes(images)} in RAM")

    @staticmethod
    def _load(path, factor_sizes, check_labels):
        """images uint8 [n, 64, 64, 3] of one file, its labels checked; DataError if refused."""
        num_images = int(np.prod(factor_sizes))
        with timed(f"loaded shapes3d from {path}"):
            if path.suffix == ".npz":
                images, labels = read_npz_layouts(path, factor_sizes)
            else:
                images, labels = read_h5(path, num_images)
        labels = check_array(np.asarray(labels), path, "labels", None, (num_images, 6))
        if check_labels:
            check_label_order(labels, factor_sizes, path)
        return images
