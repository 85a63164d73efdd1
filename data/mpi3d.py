"""MPI3D (Gondal et al. 2019): toy, realistic and real, from disentanglement_lib's npz files,
and the real-world complex shapes (`mpi3d_complex`) that the QLAE line uses.

File: `$DISENTANGLEMENT_LIB_DATA/<name>/<name>.npz`, key `images` uint8 [n, 64, 64, 3].
Factors (C order): object colour, object shape, object size 2, camera height 3,
background colour 3, first DOF (horizontal axis) 40, second DOF (vertical axis) 40, all latent.

Two releases exist and are told apart by their image count:
  460,800 images   = colour 4 x shape 4: the 2019 NeurIPS challenge file that
                     disentanglement_lib's download script fetches for `mpi3d_toy`
                     (the one the paper's code assumes);
  1,036,800 images = colour 6 x shape 6: the final public release (all three variants).
Any other count is refused, unless `factor_sizes` is given (small test files).

`mpi3d_complex` (the authors' `real3d_complicated_shapes_ordered.npz`, published in 2022:
3D-printed coffee cup, tennis ball, croissant and beer cup) has one release: 460,800 images,
colour 4 x shape 4, the same five other factors; any other count is refused.

The npz members are stored uncompressed, so the images are memory-mapped by default
(`mmap=True`): loading is instant and no second copy is made; pages are read on first use.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from data._io import check_array, gigabytes, log, read_npz, timed
from data.base import DataError, FactorSpace, GroundTruthData, data_root, require_file

VARIANTS = ("mpi3d_toy", "mpi3d_realistic", "mpi3d_real", "mpi3d_complex")
COMMON_SIZES = (2, 3, 3, 40, 40)
COMPLEX_RELEASE = "real-world complex shapes release (colour 4 x shape 4)"
# image count -> (colour and shape sizes, which release)
RELEASES = {
    460_800: ((4, 4), "2019 challenge release (colour 4 x shape 4)"),
    1_036_800: ((6, 6), "final public release (colour 6 x shape 6)"),
}


def release_of(num_images: int, path, variant: str = "mpi3d_toy") -> tuple[tuple[int, ...], str]:
    """(factor sizes, release description) for a file of `variant` with `num_images` images."""
    if variant == "mpi3d_complex":
        if num_images != 460_800:
            raise DataError(f"{path}: {num_images} images, expected 460800 (MPI3D-complex: "
                            f"colour 4 x shape 4 x size 2 x height 3 x background 3 x 40 x 40)")
        return (4, 4) + COMMON_SIZES, COMPLEX_RELEASE
    if num_images not in RELEASES:
        raise DataError(
            f"{path}: {num_images} images, expected 460800 (2019 challenge release, colour 4 "
            f"x shape 4) or 1036800 (final release, colour 6 x shape 6)")
    colour_shape, release = RELEASES[num_images]
    return colour_shape + COMMON_SIZES, release


class MPI3D(GroundTruthData):
    """MPI3D: images uint8 [460800 or 1036800 (complex: 460800), 64, 64, 3], 7 latent factors."""

    pixel_divisor = 255.0

    def __init__(self, variant="mpi3d_toy", factor_sizes=None, root=None, mmap=True):
        if variant not in VARIANTS:
            raise DataError(f"unknown MPI3D variant {variant!r}, expected one of {VARIANTS}")
        self.name = variant
        path = require_file((Path(root) if root else data_root()) / variant / f"{variant}.npz",
                            variant)
        with timed(f"loaded {variant} from {path}"):
            images = read_npz(path, ["images"], mmap=mmap)["images"]
            images = check_array(images, path, "images", np.uint8, (None, 64, 64, 3))
        n = images.shape[0]
        if factor_sizes is None:
            factor_sizes, release = release_of(n, path, variant)
            self.release = release
            log(f"{variant}: {path} is the {release}, factor sizes {list(factor_sizes)}")
        else:
            self.release = "file with factor sizes given by the caller"
            if len(factor_sizes) != 7 or int(np.prod(factor_sizes)) != n:
                raise DataError(f"{path}: {n} images, expected 7 factor sizes whose product "
                                f"is {n} (got {list(factor_sizes)})")
        self.images = images
        self.factor_space = FactorSpace(factor_sizes, range(7))
        where = "memory-mapped" if isinstance(images, np.memmap) else "in RAM"
        log(f"{variant}: {n} images, {gigabytes(images)} {where}")


def mpi3d_toy(**kw):
    return MPI3D("mpi3d_toy", **kw)


def mpi3d_realistic(**kw):
    return MPI3D("mpi3d_realistic", **kw)


def mpi3d_real(**kw):
    return MPI3D("mpi3d_real", **kw)


def mpi3d_complex(**kw):
    return MPI3D("mpi3d_complex", **kw)
