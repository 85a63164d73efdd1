"""Modularity (Ridgeway & Mozer 2018), disentanglement_lib's version (explicitness not computed).

Points: `num_train` then `num_test` points, each drawn with repeated
`ground_truth_data.sample(min(batch_size, remaining), random_state)`. The test points are only
drawn, not represented (they feed explicitness, which the paper does not report), so that
`random_state` is left exactly where disentanglement_lib leaves it. disentanglement_lib's explicitness fits a default
`LogisticRegression` (lbfgs), which draws nothing from any random state, so skipping it changes
nothing else.

Per code: MI with each factor on the train points (histogram-discretised, `num_bins` bins);
modularity = 1 - (sum of squared MI - max squared MI) / (max squared MI * (num_factors - 1)),
0 for a code whose max MI is 0; the score is the mean over codes.
"""
from __future__ import annotations

import numpy as np

from metrics import utils


def compute_modularity(ground_truth_data, representation_function, random_state,
                       num_train: int = 10000, num_test: int = 5000, batch_size: int = 16,
                       num_bins: int = 20, progress: bool = False,
                       chunk_size: int = utils.DEFAULT_CHUNK_SIZE) -> dict:
    bar = utils.progress_bar(progress, num_train + num_test, "Modularity")
    try:
        mus_train, ys_train = utils.generate_batch_factor_code(
            ground_truth_data, representation_function, num_train, random_state, batch_size,
            chunk_size=chunk_size, bar=bar)
        # Drawn for the random_state sequence only (explicitness is not reported).
        utils.skip_batch_factor_code(ground_truth_data, num_test, random_state, batch_size,
                                     bar=bar)
    finally:
        bar.close()
    discretized = utils.histogram_discretize(mus_train, num_bins)
    mi = utils.discrete_mutual_info(discretized, ys_train)
    return {"modularity_score": modularity(mi)}


def modularity(mutual_information: np.ndarray) -> float:
    """Mean over codes of the modularity of a [num_codes, num_factors] MI matrix."""
    squared_mi = np.square(mutual_information)
    max_squared_mi = np.max(squared_mi, axis=1)
    numerator = np.sum(squared_mi, axis=1) - max_squared_mi
    denominator = max_squared_mi * (squared_mi.shape[1] - 1.)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = 1. - numerator / denominator
    score[max_squared_mi == 0.] = 0.
    return float(np.mean(score))
