"""The statistics of a study, as pure functions of plain numbers: summaries over seeds, the
difference of two groups' medians with a bootstrap interval and the Mann-Whitney test, Holm's
adjustment for a family of tests, Spearman's correlation with a permutation p-value, and the
mean of Spearman's correlations within groups with a permutation test inside each group."""
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


EXACT_WITHIN_MAX_SUPPORT = 1_000_000  # distinct sums kept while convolving the groups' rho distributions


def _permutation_rhos(rank_x, rank_y) -> np.ndarray:
    """rho of rank_x with every ordering of rank_y (all n! of them, in itertools order)."""
    import itertools
    orderings = np.array(list(itertools.permutations(rank_y)))             # [n!, n]
    centred_x, centred_y = rank_x - rank_x.mean(), orderings - rank_y.mean()
    return centred_y @ centred_x / np.sqrt((centred_x ** 2).sum() * (centred_y ** 2).sum(axis=1))


def within_spearman(groups, num_resamples: int = SPEARMAN_RESAMPLES, seed: int = 0, exact: bool | None = None) -> dict:
    """Spearman's correlation within groups, averaged, with a permutation test that permutes
    only within each group.

    `groups`: a list of (x, y) pairs, one per group (a setting: one model at one gamma), each a
    sequence of n_g numbers. Returns {'rho': the mean over the groups of each group's rho,
    'p': two-sided p of that mean, 'group_rhos': [rho per group, NaN where undefined],
    'groups': how many groups count, 'n': runs in them, 'method': 'exact' or 'monte carlo'}.

    Why within groups: a pooled correlation over settings mixes two things, how a score varies
    between settings (gamma moves both the score and the metric) and how it ranks the runs of
    one setting (the seeds). Permuting only within groups keeps every group's set of scores, so
    the null is "within every setting the score's ranking is unrelated to the metric's",
    whatever the differences between settings.

    A group whose rho is undefined (fewer than 2 runs, x or y constant) is undefined under every
    permutation too, so it is left out of the mean and of the null (rho and p NaN when none is
    left). The null distribution of the mean is exact when every group has at most
    EXACT_SPEARMAN_MAX_N runs: each group's n_g! orderings give its rho distribution, and the
    distribution of the sum is their convolution (so 4 groups of 5 cost 4 x 120 orderings, not
    120^4). `exact=None` falls back to Monte Carlo beyond that (or when the convolution's support
    would exceed EXACT_WITHIN_MAX_SUPPORT distinct sums): `num_resamples` joint permutations,
    every group shuffled independently (seeded), p = (hits + 1) / (resamples + 1), never 0.
    `exact=True`/`False` forces one method (tests)."""
    from scipy.stats import rankdata
    pairs = [(np.asarray(x, float), np.asarray(y, float)) for x, y in groups]
    defined = [x.size >= 2 and not np.all(x == x[0]) and not np.all(y == y[0]) for x, y in pairs]
    ranks = [(rankdata(x), rankdata(y)) for (x, y), ok in zip(pairs, defined) if ok]

    def rho_of(rank_x, rank_y):
        cx, cy = rank_x - rank_x.mean(), rank_y - rank_y.mean()
        return float(cx @ cy / np.sqrt((cx ** 2).sum() * (cy ** 2).sum()))

    group_rhos = [rho_of(rankdata(x), rankdata(y)) if ok else float("nan") for (x, y), ok in zip(pairs, defined)]
    out = {"group_rhos": group_rhos, "groups": len(ranks), "n": int(sum(rx.size for rx, _ in ranks))}
    if not ranks:
        return {**out, "rho": float("nan"), "p": float("nan"), "method": "none"}
    # The sum (the mean times the number of groups), rounded like the null distribution below so
    # that float noise neither shows as a sign (-1e-17) nor moves the observed value off its atom.
    observed = round(float(sum(rho_of(rx, ry) for rx, ry in ranks)), 9) + 0.0
    out["rho"] = observed / len(ranks)
    small = all(rx.size <= EXACT_SPEARMAN_MAX_N for rx, _ in ranks)
    if exact is not False and small:
        # Convolve: (values, probabilities) of the running sum, merged on values equal to 1e-9.
        # Distinct rho of groups of at most 8 runs differ by far more than that (without ties
        # rho lives on a grid of step 6 / (n^3 - n) >= 0.012), so rounding only merges equals.
        values, probs = np.zeros(1), np.ones(1)
        for rx, ry in ranks:
            group_values, counts = np.unique(np.round(_permutation_rhos(rx, ry), 10), return_counts=True)
            sums = np.add.outer(values, group_values).ravel()
            weights = np.multiply.outer(probs, counts / counts.sum()).ravel()
            values, inverse = np.unique(np.round(sums, 9), return_inverse=True)
            probs = np.bincount(inverse.ravel(), weights=weights)
            if values.size > EXACT_WITHIN_MAX_SUPPORT and exact is None:
                break
        else:
            p = float(probs[np.abs(values) >= abs(observed) - 1e-9].sum())
            return {**out, "p": min(1.0, p), "method": "exact"}
    if exact is True:
        raise ValueError("exact within-group p needs every group to have at most "
                         f"{EXACT_SPEARMAN_MAX_N} runs")
    rng = np.random.default_rng(seed)
    sums = np.zeros(num_resamples)
    for rx, ry in ranks:
        shuffled = rng.permuted(np.broadcast_to(ry, (num_resamples, ry.size)), axis=1)   # [R, n_g]
        cx, cy = rx - rx.mean(), shuffled - ry.mean()
        sums += cy @ cx / np.sqrt((cx ** 2).sum() * (cy ** 2).sum(axis=1))
    hits = int(np.sum(np.abs(sums) >= abs(observed) - 1e-9))
    return {**out, "p": (hits + 1) / (num_resamples + 1), "method": "monte carlo"}
