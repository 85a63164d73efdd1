"""Ground-truth data sets behind disentanglement_lib's interface (see `data.base`)."""
from __future__ import annotations

import importlib

from data.base import DataError, FactorSpace, GroundTruthData

# name -> (module, factory, image channels). Factories take keyword overrides (used by tests on
# small files); the channels let a checkpoint be checked against its model without the data.
_REGISTRY: dict[str, tuple[str, str, int]] = {
    "dsprites_procedural": ("data.procedural", "ProceduralDSprites", 1),
    # disentanglement_lib's data sets, read from $DISENTANGLEMENT_LIB_DATA (docs/datasets.md).
    "dsprites_full": ("data.dsprites", "dsprites_full", 1),
    "dsprites_noshape": ("data.dsprites", "dsprites_noshape", 1),
    "color_dsprites": ("data.dsprites", "color_dsprites", 3),
    "noisy_dsprites": ("data.dsprites", "noisy_dsprites", 3),
    "scream_dsprites": ("data.dsprites", "scream_dsprites", 3),
    "smallnorb": ("data.norb", "SmallNORB", 1),
    "cars3d": ("data.cars3d", "Cars3D", 3),
    "shapes3d": ("data.shapes3d", "Shapes3D", 3),
    "mpi3d_toy": ("data.mpi3d", "mpi3d_toy", 3),
    "mpi3d_realistic": ("data.mpi3d", "mpi3d_realistic", 3),
    "mpi3d_real": ("data.mpi3d", "mpi3d_real", 3),
    # The QLAE line's data sets (docs/design.md §11).
    "mpi3d_complex": ("data.mpi3d", "mpi3d_complex", 3),
    "isaac3d": ("data.nvidia3d", "isaac3d", 3),
    "falcor3d": ("data.nvidia3d", "falcor3d", 3),
}

DATASET_NAMES = tuple(_REGISTRY)
IMAGE_SIZE = (64, 64)          # every data set's images (the models' input)


def get_dataset(name: str, **overrides) -> GroundTruthData:
    """Load the data set called `name`; a one-line error for unknown names."""
    if name not in _REGISTRY:
        raise DataError(f"unknown data set {name!r}; expected one of: {', '.join(_REGISTRY)}")
    module, factory, channels = _REGISTRY[name]
    data = getattr(importlib.import_module(module), factory)(**overrides)
    if data.observation_shape[-1] != channels:
        raise DataError(f"{name}: images have {data.observation_shape[-1]} channels, expected {channels}")
    return data


def num_channels(name: str) -> int:
    """Image channels of the data set called `name` (1 or 3), without loading it."""
    if name not in _REGISTRY:
        raise DataError(f"unknown data set {name!r}; expected one of: {', '.join(_REGISTRY)}")
    return _REGISTRY[name][2]


__all__ = ["DataError", "FactorSpace", "GroundTruthData", "DATASET_NAMES", "get_dataset", "num_channels", "IMAGE_SIZE"]
