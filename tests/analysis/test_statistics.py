"""Statistics (analysis/statistics.py) against hand-derived numbers and independent references:
Spearman's exact and Monte Carlo p-values, Spearman within groups, Mann-Whitney, differences of
medians with bootstrap intervals, Holm."""
import itertools

import numpy as np
import pytest
from scipy.stats import mannwhitneyu, rankdata, spearmanr

from analysis import statistics, tables


def test_spearman_p_value_is_exact_for_few_runs():
    # Five runs in exactly reversed order: rho = -1, reached by 2 of the 5! = 120 orderings.
    rho, p = statistics.spearman([1, 2, 3, 4, 5], [0.9, 0.8, 0.7, 0.6, 0.5])
    assert rho == pytest.approx(-1.0) and p == pytest.approx(2 / 120)
    # Three runs: rho = 1 - sum(d^2) / 4 takes the values 1, 0.5, 0.5, -0.5, -0.5, -1 over the six
    # orderings, so rho = 0.5 is as extreme as every ordering (p = 1), and rho = 1 has p = 2 / 6.
    rho, p = statistics.spearman([1, 2, 3], [1, 3, 2])
    assert rho == pytest.approx(0.5) and p == pytest.approx(1.0)
    assert statistics.spearman([1, 2, 3], [5, 6, 7]) == pytest.approx((1.0, 2 / 6))


def test_spearman_exact_p_matches_scipy_permutation_test():
    from scipy.stats import permutation_test
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=7), rng.normal(size=7)
    y[:2] = y[2]                                                  # ties too
    rho, p = statistics.spearman(x, y)
    reference = permutation_test((y,), lambda yy: spearmanr(x, yy)[0], permutation_type="pairings",
                                 alternative="two-sided", n_resamples=np.inf)
    assert rho == pytest.approx(reference.statistic) and p == pytest.approx(reference.pvalue)


# -- VAE vs D-VAE statistics -----------------------------------------------------------------
def test_compare_against_hand_derived_numbers():
    # Disjoint groups of 5: U = 25 for the candidate and the exact two-sided p = 2 / C(10, 5).
    stats = statistics.compare([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert stats["difference"] == 5.0 and stats["u_statistic"] == 25.0
    assert stats["p_value"] == pytest.approx(2 / 252)
    # Every bootstrap median lies inside each group's range: the interval within [1, 9].
    assert 1.0 <= stats["ci_low"] <= 5.0 <= stats["ci_high"] <= 9.0
    # Constant groups: every resample gives the same difference.
    same = statistics.compare([1.0, 1.0, 1.0], [3.0, 3.0, 3.0])
    assert (same["ci_low"], same["difference"], same["ci_high"]) == (2.0, 2.0, 2.0)
    assert statistics.compare([None], [1.0]) is None


def test_holm_against_hand_derived_numbers():
    # Sorted: 0.005 x4 = 0.02, 0.01 x3 = 0.03, 0.03 x2 = 0.06, 0.04 x1 = 0.04 -> raised to 0.06,
    # since an adjusted p may not fall below that of a smaller raw p.
    assert statistics.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # Capped at 1; ties keep their order and their (equal) adjusted values.
    assert statistics.holm([0.4, 0.4, 0.9]) == pytest.approx([1.0, 1.0, 1.0])
    assert statistics.holm([0.02, 0.02]) == pytest.approx([0.04, 0.04])
    assert statistics.holm([]) == []
    # Undefined p-values (a constant metric) stay undefined and do not enlarge the family.
    rows = tables.with_holm([{"p_value": 0.01}, {"p_value": float("nan")}, {"p_value": 0.04}])
    assert rows[0]["p_holm"] == pytest.approx(0.02) and rows[2]["p_holm"] == pytest.approx(0.04)
    assert np.isnan(rows[1]["p_holm"])


def test_bootstrap_interval_matches_an_independent_resampler():
    a, b = [0.1, 0.3, 0.2, 0.5, 0.4], [0.15, 0.05, 0.35, 0.25, 0.45]
    stats = statistics.compare(a, b, num_resamples=4000, seed=3)
    # Independent: resample with Python's random module, many times; the interval agrees to
    # within the resampling noise of the percentiles.
    import random
    rnd = random.Random(11)
    diffs = sorted(float(np.median([rnd.choice(b) for _ in b]) - np.median([rnd.choice(a) for _ in a]))
                   for _ in range(20000))
    assert stats["ci_low"] == pytest.approx(diffs[int(0.025 * len(diffs))], abs=0.051)
    assert stats["ci_high"] == pytest.approx(diffs[int(0.975 * len(diffs))], abs=0.051)


def test_spearman_monte_carlo_p_matches_full_enumeration():
    """Beyond 8 runs the p-value is Monte Carlo; at n = 9 all 362,880 orderings can still be
    enumerated here, independently of statistics.spearman."""
    x = np.array([0.3, 1.2, 0.7, 2.5, 1.9, 0.1, 3.3, 2.2, 1.5])
    y = np.array([0.50, 0.42, 0.47, 0.30, 0.41, 0.52, 0.36, 0.28, 0.40])
    rho, p = statistics.spearman(x, y)
    rx, ry = rankdata(x), rankdata(y)
    perms = np.array(list(itertools.permutations(ry)))
    cx, cp = rx - rx.mean(), perms - ry.mean()
    rhos = cp @ cx / np.sqrt((cx ** 2).sum() * (cp ** 2).sum(axis=1))
    exact = np.mean(np.abs(rhos) >= abs(rho) - 1e-12)
    assert rho < -0.5 and 0 < exact < 0.2
    assert p == pytest.approx(exact, abs=0.005)          # 100,000 resamples: sd <= 0.0016
    assert statistics.spearman(x, y) == (rho, p)             # seeded: the same every time


def test_mann_whitney_is_exact_without_ties_and_says_so_with_ties():
    a, b = [0.1, 0.2, 0.3, 0.4], [0.25, 0.5, 0.6, 0.7]
    out = statistics.compare(a, b)
    assert out["method"] == "exact"
    assert out["p_value"] == pytest.approx(mannwhitneyu(b, a, method="exact").pvalue)
    # U = pairs where b beats a: 0.25 beats 2, the others beat 4 each -> 14; the exact two-sided
    # p is twice the share of the C(8, 4) = 70 splits of the ranks with U >= 14, enumerated here
    us = [sum(x > y for x in comb for y in set(range(8)) - set(comb))
          for comb in itertools.combinations(range(8), 4)]
    assert out["u_statistic"] == 14
    assert out["p_value"] == pytest.approx(2 * np.mean(np.array(us) >= 14))
    tied = statistics.compare([0.1, 0.2, 0.3], [0.3, 0.4, 0.5])
    assert tied["method"] == "asymptotic (ties)"
    assert tied["p_value"] == pytest.approx(mannwhitneyu([0.3, 0.4, 0.5], [0.1, 0.2, 0.3],
                                                         method="asymptotic").pvalue)


# -- Agreement within each setting ---------------------------------------------------------
def brute_force_within(groups):
    """(mean rho, two-sided p) by enumerating every joint ordering of the groups' y values
    (itertools.product of each group's permutations) with scipy's spearmanr: no convolution,
    no ranks of our own, so it checks statistics.within_spearman independently."""
    from scipy.stats import spearmanr

    def mean_rho(ys):
        return np.mean([spearmanr(x, y)[0] for (x, _), y in zip(groups, ys)])

    observed = mean_rho([y for _, y in groups])
    means = [mean_rho(ys) for ys in itertools.product(*(itertools.permutations(y) for _, y in groups))]
    return observed, float(np.mean(np.abs(means) >= abs(observed) - 1e-9)), len(means)


def test_within_spearman_two_groups_of_three_by_hand():
    # Group A: y in x's order, rho = +1. Group B: ranks 1 3 2 against 1 2 3, d = 0 -1 1,
    # rho = 1 - 6 * 2 / (3 * 8) = 0.5. Mean 0.75, i.e. a sum of 1.5.
    a, b = ([1.0, 2.0, 3.0], [0.1, 0.2, 0.3]), ([4.0, 5.0, 6.0], [0.7, 0.9, 0.8])
    out = statistics.within_spearman([a, b])
    assert out["rho"] == pytest.approx(0.75) and out["group_rhos"] == pytest.approx([1.0, 0.5])
    assert out["groups"] == 2 and out["n"] == 6 and out["method"] == "exact"
    # Null: each group's six orderings give rho 1, 0.5, 0.5, -0.5, -0.5, -1 (counts 1, 2, 2, 1).
    # Of the 6 x 6 = 36 joint orderings, |sum| >= 1.5 for (1, 1), (1, 0.5) x2, (0.5, 1) x2 and
    # the mirror images (-1, -1), (-1, -0.5) x2, (-0.5, -1) x2: 10 of 36.
    assert out["p"] == pytest.approx(10 / 36)
    assert brute_force_within([a, b]) == pytest.approx((0.75, 10 / 36, 36))
    # Both groups in order: only (1, 1) and (-1, -1) reach |sum| = 2, p = 2 / 36; a pooled test
    # over the six runs would not give this (it would also count orderings across the groups).
    both = statistics.within_spearman([a, ([4.0, 5.0, 6.0], [0.7, 0.8, 0.9])])
    assert (both["rho"], both["p"]) == pytest.approx((1.0, 2 / 36))
    # The sign: reversing every y reverses every rho and keeps p.
    flipped = statistics.within_spearman([(x, [-v for v in y]) for x, y in (a, b)])
    assert (flipped["rho"], flipped["p"]) == pytest.approx((-0.75, 10 / 36))


def test_within_spearman_leaves_out_undefined_groups_and_handles_ties():
    # A tie: y ranks 1.5 1.5 3 against 1 2 3: rho = 1.5 / sqrt(2 * 1.5) = sqrt(3) / 2; its six
    # orderings put rank 3 last (rho sqrt(3)/2), middle (0) or first (-sqrt(3)/6), two each.
    tied = ([1.0, 2.0, 3.0], [0.2, 0.2, 0.5])
    four = ([1.0, 2.0, 3.0, 4.0], [0.3, 0.1, 0.4, 0.2])       # ranks 3 1 4 2: d^2 = 4+1+1+4, rho = 0
    constant = ([1.0, 2.0, 3.0], [0.5, 0.5, 0.5])             # rho undefined under every ordering
    single = ([1.0], [0.3])
    out = statistics.within_spearman([tied, constant, four, single])
    assert out["group_rhos"][0] == pytest.approx(np.sqrt(3) / 2) and out["group_rhos"][2] == pytest.approx(0.0)
    assert np.isnan(out["group_rhos"][1]) and np.isnan(out["group_rhos"][3])
    assert out["groups"] == 2 and out["n"] == 7 and out["rho"] == pytest.approx(np.sqrt(3) / 4)
    rho, p, count = brute_force_within([tied, four])               # 6 x 24 = 144 joint orderings
    assert count == 144 and out["rho"] == pytest.approx(rho) and out["p"] == pytest.approx(p)
    assert 0 < p < 1
    nothing = statistics.within_spearman([constant, single])
    assert nothing["groups"] == 0 and np.isnan(nothing["rho"]) and np.isnan(nothing["p"])


def test_within_spearman_monte_carlo_matches_exact():
    rng = np.random.default_rng(5)
    groups = [(rng.normal(size=5), rng.normal(size=5)) for _ in range(3)]
    groups[0] = (groups[0][0], groups[0][0] + 0.3 * rng.normal(size=5))      # one group that agrees
    exact = statistics.within_spearman(groups)
    assert exact["method"] == "exact"
    monte = statistics.within_spearman(groups, exact=False)
    assert monte["method"] == "monte carlo" and monte["rho"] == exact["rho"]
    assert monte["p"] == pytest.approx(exact["p"], abs=0.005)               # 100,000 resamples: sd <= 0.0016
    assert statistics.within_spearman(groups, exact=False) == monte            # seeded
    # Beyond 8 runs in a group the exact null is not attempted.
    big = [(np.arange(9.0), np.arange(9.0)[::-1]), groups[1]]
    assert statistics.within_spearman(big, num_resamples=2000)["method"] == "monte carlo"
    with pytest.raises(ValueError):
        statistics.within_spearman(big, exact=True)
