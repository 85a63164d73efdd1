"""Ground-truth data sets behind disentanglement_lib's interface (see `data.base`)."""
from __future__ import annotations

import importlib

from data.base import DataError, FactorSpace, GroundTruthData

# name -> (module, factory). Factories take keyword overrides (used by tests on small files).
_REGISTRY: dict[str, tuple[str, str]] = {
    "dsprites_procedural": ("data.procedural", "ProceduralDSprites"),
    # disentanglement_lib's data sets, read from $DISENTANGLEMENT_LIB_DATA (docs/datasets.md).
    "dsprites_full": ("data.dsprites", "dsprites_full"),
    "dsprites_noshape": ("data.dsprites", "dsprites_noshape"),
    "color_dsprites": ("data.dsprites", "color_dsprites"),
    "noisy_dsprites": ("data.dsprites", "noisy_dsprites"),
    "scream_dsprites": ("data.dsprites", "scream_dsprites"),
    "smallnorb": ("data.norb", "SmallNORB"),
    "cars3d": ("data.cars3d", "Cars3D"),
    "shapes3d": ("data.shapes3d", "Shapes3D"),
    "mpi3d_toy": ("data.mpi3d", "mpi3d_toy"),
    "mpi3d_realistic": ("data.mpi3d", "mpi3d_realistic"),
    "mpi3d_real": ("data.mpi3d", "mpi3d_real"),
}

DATASET_NAMES = tuple(_REGISTRY)


def get_dataset(name: str, **overrides) -> GroundTruthData:
    """Load the data set called `name`; a one-line error for unknown names."""
    if name not in _REGISTRY:
        raise DataError(f"unknown data set {name!r}; expected one of: {', '.join(_REGISTRY)}")
    module, factory = _REGISTRY[name]
    return getattr(importlib.import_module(module), factory)(**overrides)


__all__ = ["DataError", "FactorSpace", "GroundTruthData", "DATASET_NAMES", "get_dataset"]
