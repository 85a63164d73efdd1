"""Ground-truth data sets behind disentanglement_lib's interface (see `data.base`)."""
from __future__ import annotations

import importlib

from data.base import DataError, FactorSpace, GroundTruthData

# name -> (module, factory). Factories take keyword overrides (used by tests on small files).
_REGISTRY: dict[str, tuple[str, str]] = {
    "dsprites_procedural": ("data.procedural", "ProceduralDSprites"),
}

DATASET_NAMES = tuple(_REGISTRY)


def get_dataset(name: str, **overrides) -> GroundTruthData:
    """Load the data set called `name`; a one-line error for unknown names."""
    if name not in _REGISTRY:
        raise DataError(f"unknown data set {name!r}; expected one of: {', '.join(_REGISTRY)}")
    module, factory = _REGISTRY[name]
    return getattr(importlib.import_module(module), factory)(**overrides)


__all__ = ["DataError", "FactorSpace", "GroundTruthData", "DATASET_NAMES", "get_dataset"]
