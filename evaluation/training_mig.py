"""Training-time MIG (20 bins, 10,000 points), with the same implementation as eval.py."""
from __future__ import annotations

import numpy as np

from metrics.mig import compute_mig
from models.representation import make_representation_function


def training_mig(model, train_state, data) -> dict:
    """{'mig': value} for the current parameters; a fresh RandomState(seed) each time so that
    values at different steps are measured on the same points."""

    represent = make_representation_function(model, train_state.params, train_state.state)
    scores = compute_mig(data, represent, np.random.RandomState(model.config.seed),
                         num_train=10_000, batch_size=16, num_bins=20)
    return {"mig": float(scores["discrete_mig"])}
