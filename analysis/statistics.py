"""The statistics of a study, as pure functions of plain numbers: summaries over seeds, the
difference of two groups' medians with a bootstrap interval and the Mann-Whitney test, Holm's
adjustment for a family of tests, and Spearman's correlation with a permutation p-value."""
from __future__ import annotations

import numpy as np


def summarize(values) -> dict | None:
    """{'n', 'median', 'p25', 'p75'} of the non-missing values, or None when there are none."""
    values = np.asarray([v for v in values if v is not None], dtype=float)
    if values.size == 0:
        return None
    p25, median, p75 = np.percentile(values, [25, 50, 75])
    return {"n": int(values.size), "median": float(median), "p25": float(p25), "p75": float(p75)}


def compare(baseline, candidate, num_resamples: int = 10_000, seed: int = 0) -> dict | None:
    """Candidate vs baseline runs of one metric: the difference of medians (candidate minus
    baseline) with a percentile bootstrap 95 % interval (each group resampled with replacement,
    `num_resamples` times, seeded), and the two-sided Mann-Whitney U test (scipy, `method="exact"`;
    the normal approximation when ties force it, recorded in `method`). None when either group
    is empty."""
    from scipy.stats import mannwhitneyu
    a = np.asarray([v for v in baseline if v is not None], float)
    b = np.asarray([v for v in candidate if v is not None], float)
    if a.size == 0 or b.size == 0:
        return None
    rng = np.random.default_rng(seed)
    resampled = (np.median(rng.choice(b, (num_resamples, b.size)), axis=1)
                 - np.median(rng.choice(a, (num_resamples, a.size)), axis=1))
    low, high = np.percentile(resampled, [2.5, 97.5])
    # scipy's exact distribution assumes no ties; with ties the normal approximation (with its
    # tie correction) is the honest choice, and the table says which one was used.
    method = "asymptotic (ties)" if np.unique(np.concatenate([a, b])).size < a.size + b.size else "exact"
    test = mannwhitneyu(b, a, alternative="two-sided", method="exact" if method == "exact" else "asymptotic")
    return {"n_baseline": int(a.size), "n_candidate": int(b.size),
            "baseline_median": float(np.median(a)), "candidate_median": float(np.median(b)),
            "difference": float(np.median(b) - np.median(a)), "ci_low": float(low), "ci_high": float(high),
            "u_statistic": float(test.statistic), "p_value": float(test.pvalue), "method": method}


def holm(p_values) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (same order): the k-th smallest is
    multiplied by (m - k + 1), then made non-decreasing in that order and capped at 1. It
    controls the chance of any false claim in the family without assuming independence."""
    order = np.argsort(p_values, kind="stable")
    adjusted, running = [0.0] * len(order), 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - k) * float(p_values[i])))
        adjusted[i] = running
    return adjusted


EXACT_SPEARMAN_MAX_N = 8  # 8! = 40,320 orderings: exact and instant
SPEARMAN_RESAMPLES = 100_000  # Monte Carlo permutations beyond that (seed 0)


def spearman(x, y) -> tuple[float, float]:
    """Spearman rank correlation (rho, two-sided p); NaN when undefined (n < 2 or constant).

    The p-value is a permutation p-value: the share of orderings of y's ranks whose |rho|
    reaches the observed one. Up to EXACT_SPEARMAN_MAX_N runs over all n! orderings (exact;
    scipy's t approximation claims p = 0 at |rho| = 1 even for three runs, where the exact p is
    2 / n!); beyond, over SPEARMAN_RESAMPLES seeded random orderings, counting the observed one
    ((hits + 1) / (resamples + 1), never 0)."""
    import itertools

    from scipy.stats import rankdata, spearmanr
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan"), float("nan")
    rho = float(spearmanr(x, y)[0])
    rank_x, rank_y = rankdata(x), rankdata(y)
    exact = x.size <= EXACT_SPEARMAN_MAX_N
    if exact:
        orderings = np.array(list(itertools.permutations(rank_y)))             # [n!, n]
    else:
        rng = np.random.default_rng(0)
        orderings = rng.permuted(np.broadcast_to(rank_y, (SPEARMAN_RESAMPLES, x.size)), axis=1)
    centred_x, centred_y = rank_x - rank_x.mean(), orderings - rank_y.mean()
    rhos = centred_y @ centred_x / np.sqrt((centred_x ** 2).sum() * (centred_y ** 2).sum(axis=1))
    hits = int(np.sum(np.abs(rhos) >= abs(rho) - 1e-12))
    return rho, (hits / len(orderings) if exact else (hits + 1) / (len(orderings) + 1))
