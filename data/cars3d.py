"""Cars3D (Reed et al. 2015), read from the `.mat` meshes as disentanglement_lib does.

Files: `$DISENTANGLEMENT_LIB_DATA/cars/*.mat`, 183 of them, one per car model, each with
`im` uint8 [128, 128, 3, 24, 4] = [height, width, RGB, azimuth, elevation].
Factors (C order of the stored images): elevation 4, azimuth 24, object 183, all latent.
Object i is the i-th file in name order (disentanglement_lib used the directory listing
order, which on most file systems is arbitrary; name order is the reproducible choice).
Each view is shrunk 128 -> 64 with PIL `thumbnail` + Lanczos and kept as uint8.

disentanglement_lib builds a lookup table from the Cartesian product of the factor ranges,
which is the identity; writing each view straight to its C-order slot is the same mapping.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from data._io import gigabytes, log, one_line, timed
from data.base import DataError, FactorSpace, GroundTruthData, data_root

CARS_DIR = "cars"
FACTOR_SIZES = (4, 24, 183)   # elevation, azimuth, object


def load_mesh(path: Path, num_azimuths: int, num_elevations: int) -> np.ndarray:
    """uint8 [elevation, azimuth, 64, 64, 3] of one car model."""
    try:
        contents = scipy.io.loadmat(path)
    except Exception as err:  # scipy raises many types (ValueError, OSError, MatReadError...)
        raise DataError(f"{path}: not a readable .mat file ({type(err).__name__}: "
                        f"{one_line(err)}); it may be truncated, download it again") from None
    if "im" not in contents:
        keys = sorted(k for k in contents if not k.startswith("__"))
        raise DataError(f"{path}: no variable 'im' (found {keys}), expected 'im' uint8 "
                        f"[128, 128, 3, {num_azimuths}, {num_elevations}]")
    im = contents["im"]
    expected = (128, 128, 3, num_azimuths, num_elevations)
    if im.dtype != np.uint8 or im.shape != expected:
        raise DataError(f"{path}: 'im' is {im.dtype} {list(im.shape)}, expected uint8 "
                        f"{list(expected)}")
    views = np.empty((num_elevations, num_azimuths, 64, 64, 3), np.uint8)
    for e in range(num_elevations):
        for a in range(num_azimuths):
            image = Image.fromarray(np.ascontiguousarray(im[:, :, :, a, e]))
            image.thumbnail((64, 64), Image.LANCZOS)
            views[e, a] = np.asarray(image)
    return views


class Cars3D(GroundTruthData):
    """Cars3D: images uint8 [17568, 64, 64, 3], factors [4, 24, 183].

    `factor_sizes` = [elevations, azimuths, objects] may be overridden for small test folders;
    the number of `.mat` files must equal the object count.
    """

    pixel_divisor = 255.0

    def __init__(self, factor_sizes=FACTOR_SIZES, root=None):
        self.name = "cars3d"
        folder = (Path(root) if root else data_root()) / CARS_DIR
        if not folder.is_dir():
            raise DataError(f"cars3d: expected the folder {folder} with {FACTOR_SIZES[2]} .mat "
                            f"files; run `python scripts/download.py cars3d`")
        files = sorted(p for p in folder.iterdir() if p.suffix == ".mat")
        num_elevations, num_azimuths, num_objects = (int(s) for s in factor_sizes)
        if len(files) != num_objects:
            raise DataError(f"{folder}: {len(files)} .mat files, expected {num_objects} "
                            f"(one per car model)")
        with timed("loaded cars3d"):
            images = np.empty((num_elevations, num_azimuths, num_objects, 64, 64, 3), np.uint8)
            for obj, path in enumerate(files):
                images[:, :, obj] = load_mesh(path, num_azimuths, num_elevations)
        self.images = images.reshape(-1, 64, 64, 3)
        self.factor_space = FactorSpace(factor_sizes, range(3))
        log(f"cars3d: {self.images.shape[0]} images, {gigabytes(self.images)} in RAM")
