"""FactorVAE score (Kim & Mnih 2018), disentanglement_lib's version.

Reference call sequence on `random_state` (disentanglement_lib `factor_vae.py`):
  1. global variances: `observations = ground_truth_data.sample_observations(
     num_variance_estimate, random_state)` (one call), represented (64 per call there),
     `np.var(reps, axis=0, ddof=1)`; codes whose std < `prune_threshold` are inactive.
     If no code is active: return zeros, nothing more is drawn.
  2. `num_train` training points, then `num_eval` evaluation points; per point:
       factor_index = random_state.randint(num_factors)
       factors = ground_truth_data.sample_factors(batch_size, random_state)
       factors[:, factor_index] = factors[0, factor_index]
       observations = ground_truth_data.sample_observations_from_factors(factors, random_state)
     vote (factor_index, argmin over active codes of local var (ddof=1) / global var).
  3. classifier = per code, the factor with most training votes (argmax, first on ties);
     accuracy = votes that agree with it / all votes.

We draw the points in exactly that order and represent them `chunk_size` images at a time.
As in disentanglement_lib the vote's column is the argmin's position among the active codes.
`num_active_dims` is the number of active codes (disentanglement_lib reports `len` of the
boolean mask, i.e. the number of all codes: a bug we do not copy).
"""
from __future__ import annotations

import numpy as np

from metrics import utils


def compute_factor_vae(ground_truth_data, representation_function, random_state,
                       batch_size: int = 64, num_train: int = 10000, num_eval: int = 5000,
                       num_variance_estimate: int = 10000, prune_threshold: float = 0.05,
                       progress: bool = False,
                       chunk_size: int = utils.DEFAULT_CHUNK_SIZE) -> dict:
    observations = ground_truth_data.sample_observations(num_variance_estimate, random_state)
    reps = utils.obtain_representation(observations, representation_function, chunk_size)
    del observations
    global_variances = np.var(reps, axis=0, ddof=1)
    active_dims = np.sqrt(global_variances) >= prune_threshold
    if not active_dims.any():
        return {"train_accuracy": 0., "eval_accuracy": 0., "num_active_dims": 0}

    bar = utils.progress_bar(progress, num_train + num_eval, "FactorVAE")
    try:
        train_votes = generate_votes(ground_truth_data, representation_function, batch_size,
                                     num_train, random_state, global_variances, active_dims,
                                     chunk_size, bar)
        eval_votes = generate_votes(ground_truth_data, representation_function, batch_size,
                                    num_eval, random_state, global_variances, active_dims,
                                    chunk_size, bar)
    finally:
        bar.close()
    classifier = np.argmax(train_votes, axis=0)
    other_index = np.arange(train_votes.shape[1])
    train_accuracy = np.sum(train_votes[classifier, other_index]) * 1. / np.sum(train_votes)
    eval_accuracy = np.sum(eval_votes[classifier, other_index]) * 1. / np.sum(eval_votes)
    return {"train_accuracy": float(train_accuracy), "eval_accuracy": float(eval_accuracy),
            "num_active_dims": int(active_dims.sum())}


def generate_votes(ground_truth_data, representation_function, batch_size, num_points,
                   random_state, global_variances, active_dims,
                   chunk_size=utils.DEFAULT_CHUNK_SIZE, bar=None) -> np.ndarray:
    """[num_factors, num_codes] int64 votes of `num_points` points (reference order)."""
    num_factors = ground_truth_data.num_factors
    points_per_chunk = max(1, chunk_size // batch_size)

    def produce():
        idx_buf, obs_buf = [], []
        for p in range(num_points):
            factor_index = random_state.randint(num_factors)
            factors = ground_truth_data.sample_factors(batch_size, random_state)
            factors[:, factor_index] = factors[0, factor_index]
            obs_buf.append(np.asarray(
                ground_truth_data.sample_observations_from_factors(factors, random_state)))
            idx_buf.append(factor_index)
            if len(idx_buf) == points_per_chunk or p == num_points - 1:
                yield idx_buf, utils.stack(obs_buf)
                idx_buf, obs_buf = [], []

    votes = np.zeros((num_factors, global_variances.shape[0]), dtype=np.int64)
    active_global = global_variances[active_dims]
    for idx, chunk in utils.pipelined(produce()):
        reps = utils.represent(representation_function, chunk)
        del chunk
        for k, factor_index in enumerate(idx):
            local = np.var(reps[k * batch_size:(k + 1) * batch_size], axis=0, ddof=1)
            votes[factor_index, np.argmin(local[active_dims] / active_global)] += 1
        if bar is not None:
            bar.update(len(idx))
    return votes
