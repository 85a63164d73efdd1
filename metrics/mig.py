"""Mutual Information Gap (Chen et al. 2018), disentanglement_lib's discrete version.

Points: `num_train` (factor, observation) pairs drawn with repeated
`ground_truth_data.sample(min(batch_size, remaining), random_state)`. Each code is discretised
into `num_bins` equal-width histogram bins; MI(code, factor) and H(factor) in nats by
`sklearn.metrics.mutual_info_score`; MIG = mean over factors of
(largest MI - second largest MI) / H(factor).
"""
from __future__ import annotations

import numpy as np

from metrics import utils


def compute_mig(ground_truth_data, representation_function, random_state,
                num_train: int = 10000, batch_size: int = 16, num_bins: int = 20,
                progress: bool = False, chunk_size: int = utils.DEFAULT_CHUNK_SIZE) -> dict:
    bar = utils.progress_bar(progress, num_train, "MIG")
    try:
        mus, ys = utils.generate_batch_factor_code(
            ground_truth_data, representation_function, num_train, random_state, batch_size,
            chunk_size=chunk_size, bar=bar)
    finally:
        bar.close()
    return mig_from_codes(mus, ys, num_bins)


def mig_from_codes(mus: np.ndarray, ys: np.ndarray, num_bins: int = 20) -> dict:
    """MIG of codes mus [num_codes, n] against factors ys [num_factors, n]."""
    discretized = utils.histogram_discretize(mus, num_bins)
    m = utils.discrete_mutual_info(discretized, ys)
    entropy = utils.discrete_entropy(ys)
    sorted_m = np.sort(m, axis=0)[::-1]
    return {"discrete_mig": float(np.mean(np.divide(sorted_m[0, :] - sorted_m[1, :], entropy)))}
