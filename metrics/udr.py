"""UDR, the unsupervised disentanglement ranking of Duan et al. (ICLR 2020), as disentanglement_lib computes it.

The idea: disentangled representations of one data set, learnt by models trained with the same
settings but different seeds, agree with each other up to permutation and sign of the latents;
entangled ones are each rotated their own way. UDR compares every pair of models (A, B) on the
same observations. A matrix R[a, b] says how strongly latent a of model A predicts latent b of
model B, and a pair scores high when every row and every column of R is dominated by one entry.
A model's score is the median of the pair scores where it is the second model.

The details that change the numbers, all as in disentanglement_lib's `compute_udr_sklearn`:
- observations: `num_data_points / batch_size` batches of `ground_truth_data.
  sample_observations(batch_size, random_state)`, each passed to every representation function;
  a function returns (codes [batch, D], mean KL per latent [D]); a model's KL is the mean over
  the batches;
- codes standardised per latent (StandardScaler: a constant latent becomes 0), then latents with
  KL <= 0.01 zeroed: that threshold is fixed, NOT `kl_filter_threshold`, which only decides
  which rows and columns of R are kept when `filter_low_kl`;
- a model without a KL (QLAE has no prior; its representation function returns None for the
  KL) keeps every latent: neither the zeroing nor the filter applies to it (not in
  disentanglement_lib, whose models all have a KL);
- R: |Lasso(alpha=0.1).coef_| of B's codes regressed on A's (sklearn's Lasso given the
  RandomState, so every fit draws from it as the reference's does), or |Spearman| of every
  (a, b) pair (NaN for a constant latent);
- pair score: the mean over columns of max(column)^2 / sum(column) and the same over rows,
  averaged; 0/0 and NaN terms count as 0 (`nan_to_num`), not as missing;
- model score: the median over the other models of the pair scores in the model's column.
"""
from __future__ import annotations

import numpy as np

# disentanglement_lib zeroes the codes of latents at or below this KL, whatever kl_filter_threshold says.
ZEROING_KL = 0.01


class UdrError(ValueError):
    """Inputs UDR cannot score; the message is one line."""


def sample_representations(ground_truth_data, representation_functions, random_state,
                           batch_size: int, num_data_points: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """([codes [num_data_points, D] per model], [mean KL per latent [D], or None for a model
    without a KL, per model]), drawn batch by batch from `random_state` (one
    `sample_observations` call per batch, shared by all models)."""
    if batch_size < 1 or num_data_points < 1 or num_data_points % batch_size:
        raise UdrError(f"num_data_points ({num_data_points}) must be a positive multiple of batch_size ({batch_size})")
    codes = [[] for _ in representation_functions]
    kls = [[] for _ in representation_functions]
    for _ in range(num_data_points // batch_size):
        observations = ground_truth_data.sample_observations(batch_size, random_state)
        for i, function in enumerate(representation_functions):
            batch_codes, batch_kl = function(observations)
            codes[i].append(np.asarray(batch_codes, np.float64))
            kls[i].append(None if batch_kl is None else np.asarray(batch_kl, np.float64))
    return [np.concatenate(c) for c in codes], [None if k[0] is None else np.mean(k, axis=0) for k in kls]


def standardise(codes: np.ndarray, kl: np.ndarray | None) -> np.ndarray:
    """Zero-mean, unit-variance codes (sklearn's StandardScaler: population std, constant latents
    become 0), with the latents whose KL is at most ZEROING_KL set to 0 (none without a KL)."""
    from sklearn.preprocessing import StandardScaler
    return StandardScaler().fit_transform(codes) * (kl > ZEROING_KL if kl is not None else 1.0)


def lasso_matrix(codes_a: np.ndarray, codes_b: np.ndarray, random_state) -> np.ndarray:
    """R [D_a, D_b] = |coefficient of latent a when Lasso(alpha=0.1) predicts latent b|."""
    from sklearn.linear_model import Lasso
    model = Lasso(alpha=0.1, random_state=random_state).fit(codes_a, codes_b)
    return np.abs(model.coef_).T


def spearman_matrix(codes_a: np.ndarray, codes_b: np.ndarray) -> np.ndarray:
    """R [D_a, D_b] = |Spearman correlation of latent a with latent b|; NaN where a latent is constant."""
    from scipy.stats import rankdata
    ranks_a, ranks_b = rankdata(codes_a, axis=0), rankdata(codes_b, axis=0)
    centred_a, centred_b = ranks_a - ranks_a.mean(axis=0), ranks_b - ranks_b.mean(axis=0)
    norms = np.sqrt(np.outer((centred_a ** 2).sum(axis=0), (centred_b ** 2).sum(axis=0)))
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = centred_a.T @ centred_b / norms
    correlation[norms == 0] = np.nan
    return np.abs(np.clip(correlation, -1.0, 1.0))


def relative_strength(matrix: np.ndarray) -> float:
    """The pair score of R: mean over columns and over rows of max^2 / sum, averaged; NaN and
    0/0 terms count as 0."""
    if matrix.size == 0:
        raise UdrError("no latent of one of the two models passes the KL filter: the pair cannot be scored")
    with np.errstate(invalid="ignore", divide="ignore"):
        columns = np.nan_to_num(matrix.max(axis=0) ** 2 / matrix.sum(axis=0))
        rows = np.nan_to_num(matrix.max(axis=1) ** 2 / matrix.sum(axis=1))
    return float((np.nanmean(columns) + np.nanmean(rows)) / 2)


def compute_udr_sklearn(ground_truth_data, representation_functions, random_state, batch_size: int = 10,
                        num_data_points: int = 1000, correlation_matrix: str = "lasso", filter_low_kl: bool = True,
                        include_raw_correlations: bool = True, kl_filter_threshold: float = 0.01) -> dict:
    """{'pairwise_disentanglement_scores' [M][M][1], 'model_scores' [M], and with
    `include_raw_correlations` 'raw_correlations' [M][M][D][D]}, as disentanglement_lib returns them.

    `representation_functions`: M functions, observations -> (codes [batch, D], mean KL per
    latent [D], or None for a model without a KL), for models trained with the same settings
    (different seeds). Defaults are disentanglement_lib's UDR config (batch 10, 1,000 points,
    Lasso)."""
    if correlation_matrix not in ("lasso", "spearman"):
        raise UdrError(f"correlation_matrix must be 'lasso' or 'spearman', got {correlation_matrix!r}")
    if len(representation_functions) < 2:
        raise UdrError(f"UDR compares models with each other: give at least 2, got {len(representation_functions)}")
    codes, kls = sample_representations(ground_truth_data, representation_functions, random_state,
                                        batch_size, num_data_points)
    return udr_from_representations(codes, kls, random_state, correlation_matrix, filter_low_kl,
                                    include_raw_correlations, kl_filter_threshold)


def udr_from_representations(codes: list[np.ndarray], kls: list[np.ndarray], random_state,
                             correlation_matrix: str = "lasso", filter_low_kl: bool = True,
                             include_raw_correlations: bool = True, kl_filter_threshold: float = 0.01) -> dict:
    """UDR's scores (as `compute_udr_sklearn`) from each model's codes [num_data_points, D] and
    mean KL per latent [D] (None: no KL, no filter) on the same observations, `random_state` being where the sampling
    left it (the Lasso fits draw from it). Recorded codes (scripts/udr.py --record) are scored
    this way after their checkpoints are gone."""
    if correlation_matrix not in ("lasso", "spearman"):
        raise UdrError(f"correlation_matrix must be 'lasso' or 'spearman', got {correlation_matrix!r}")
    if len(codes) < 2 or len(codes) != len(kls):
        raise UdrError(f"UDR compares models with each other: give at least 2 (codes, KL) pairs, got {len(codes)}")
    widths = {c.shape[1] for c in codes}
    if len(widths) != 1:
        raise UdrError(f"every model must have the same number of latents, got {sorted(widths)}")
    codes = [standardise(c, kl) for c, kl in zip(codes, kls)]
    keep = [kl > kl_filter_threshold if kl is not None else np.ones(c.shape[1], bool) for c, kl in zip(codes, kls)]
    num_models, num_latents = len(codes), widths.pop()
    raw = np.zeros((num_models, num_models, num_latents, num_latents))
    pairwise = np.zeros((num_models, num_models, 1))
    for i in range(num_models):
        for j in range(num_models):
            if i == j:
                continue
            matrix = (lasso_matrix(codes[i], codes[j], random_state) if correlation_matrix == "lasso"
                      else spearman_matrix(codes[i], codes[j]))
            raw[i, j] = matrix
            if filter_low_kl:
                matrix = matrix[keep[i]][:, keep[j]]
            pairwise[i, j] = relative_strength(matrix)
    scores = {"pairwise_disentanglement_scores": pairwise.tolist(),
              "model_scores": [float(np.median(np.delete(pairwise[:, i, 0], i))) for i in range(num_models)]}
    if include_raw_correlations:
        scores = {"raw_correlations": raw.tolist(), **scores}
    return scores


__all__ = ["UdrError", "compute_udr_sklearn", "relative_strength", "sample_representations",
           "udr_from_representations"]
