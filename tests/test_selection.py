"""analysis/selection.py and the TC-study analyses of analysis/tables.py against hand-derived numbers."""
import itertools

import numpy as np
import pytest
from scipy.stats import mannwhitneyu, rankdata

from analysis import selection, statistics, tables


def run(metric, **scores):
    return {"path": f"/r/{metric}.eval.json", "values": {"mig": metric, **scores}}


def test_regret_of_each_rule_by_hand():
    runs = [run(0.1, st_gap=3.0, elbo=10.0), run(0.5, st_gap=2.0, elbo=5.0), run(0.3, st_gap=1.0, elbo=7.0),
            run(0.9)]                       # no score: only the oracle may pick it
    gap = selection.regret(runs, "st_gap", "mig")       # smallest gap 1.0 -> metric 0.3
    assert gap["picked"] == 0.3 and gap["n"] == 3 and gap["best"] == 0.5
    assert gap["regret"] == pytest.approx(0.2) and gap["rank"] == 2
    assert gap["random_regret"] == pytest.approx(0.5 - 0.3)          # best - mean(0.1, 0.5, 0.3)
    elbo = selection.regret(runs, "elbo", "mig")        # lowest -ELBO 5.0 -> metric 0.5
    assert elbo["picked"] == 0.5 and elbo["regret"] == 0 and elbo["rank"] == 1
    oracle = selection.regret(runs, selection.ORACLE, "mig")
    assert oracle["picked"] == 0.9 and oracle["regret"] == 0 and oracle["n"] == 4
    assert oracle["random_regret"] == pytest.approx(0.9 - np.mean([0.1, 0.5, 0.3, 0.9]))
    assert selection.regret(runs, "udr", "mig") is None                # nobody has a UDR
    # Agreement over the three scored runs. -ELBO 10, 5, 7 -> preference ranks (lower preferred)
    # 1, 3, 2 against MIG ranks 1, 3, 2: rho = +1, and 2 of the 3! orderings reach |rho| = 1.
    assert selection.agreement(runs, "elbo", "mig") == pytest.approx((1.0, 2 / 6))
    # Gap 3, 2, 1 -> preference ranks 1, 2, 3 against 1, 3, 2: d = 0, -1, 1, rho = 1 - 6*2/24 = 0.5;
    # three runs allow only rho = +-1 and +-0.5, so every ordering reaches |rho| = 0.5: p = 1.
    assert selection.agreement(runs, "st_gap", "mig") == pytest.approx((0.5, 1.0))


def test_choosing_gamma_by_the_median_score_by_hand():
    groups = {0.0: [run(0.1, st_gap=5.0), run(0.2, st_gap=5.0)],
              10.0: [run(0.4, st_gap=1.0), run(0.6, st_gap=3.0)],
              30.0: [run(0.3, st_gap=4.0)]}
    # median gaps 5, 2, 4 -> gamma 10; median metrics 0.15, 0.5, 0.3
    out = selection.gamma_regret(groups, "st_gap", "mig")
    assert out["picked_gamma"] == 10.0 and out["picked"] == pytest.approx(0.5)
    assert out["regret"] == pytest.approx(0.0) and out["rank"] == 1
    assert out["random_regret"] == pytest.approx(0.5 - (0.15 + 0.5 + 0.3) / 3)
    groups[30.0] = [run(0.3, st_gap=0.5)]                # now gamma 30 has the smallest median gap
    out = selection.gamma_regret(groups, "st_gap", "mig")
    assert out["picked_gamma"] == 30.0 and out["regret"] == pytest.approx(0.2) and out["rank"] == 2


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


def test_per_gamma_comparisons_gamma_effect_and_regrets(tmp_path):
    from test_tables import all_metrics, write_result

    from analysis.results import gather
    for s in range(1, 4):
        write_result(tmp_path, "ds", "vae", s, values=all_metrics(0.0 + s / 100))
        write_result(tmp_path, "ds", "dvae", s, values=all_metrics(0.1 + s / 100), gap=float(s))
        for gamma in (10.0, 30.0):
            write_result(tmp_path, "ds", "factor_vae", s, gamma, values=all_metrics(gamma / 100 + s / 100))
            write_result(tmp_path, "ds", "factor_dvae", s, gamma, values=all_metrics(gamma / 50 + s / 100),
                         gap=gamma + s)
    records, _ = gather(tmp_path)
    differences = [d for d in tables.comparisons(records) if d["metric"] == "mig" and d["baseline"] == "factor_vae"]
    assert [d["gamma"] for d in differences] == [10.0, 30.0, None]
    at10 = differences[0]
    assert at10["baseline_median"] == pytest.approx(0.12) and at10["candidate_median"] == pytest.approx(0.22)
    effect = {(e["latent"], e["metric"]): e["cells"] for e in tables.gamma_effect(records)}
    assert list(effect[("discrete", "mig")]) == [0.0, 10.0, 30.0]
    assert effect[("discrete", "mig")][30.0]["median"] == pytest.approx(0.62)
    assert effect[("Gaussian", "mig")][0.0]["median"] == pytest.approx(0.02)
    regrets = {(r["latent"], r["rule"]): r for r in tables.selection_regrets(records) if r["metric"] == "mig"}
    # discrete MIG: the smallest gap is D-VAE seed 1 (gap 1, MIG 0.11); the best is gamma 30 seed 3 (0.63)
    gap = regrets[("discrete", "st_gap")]
    assert gap["picked"] == pytest.approx(0.11) and gap["regret"] == pytest.approx(0.52) and gap["rank"] == 9
    assert gap["gamma_picked"] == 0.0 and gap["gamma_regret"] == pytest.approx(0.62 - 0.12)
    # within each gamma the smallest gap is seed 1, whose MIG is 0.02 below the best seed's
    assert gap["seed_regret"] == pytest.approx(0.02) and gap["seed_groups"] == 3
    # The gap orders the nine discrete runs exactly as MIG does, so the rule (smaller gap
    # preferred) ranks them exactly backwards: rho = -1; no random ordering of nine reaches
    # |rho| = 1 but the observed one and its reverse (2 / 9! = 6e-6 of them).
    assert gap["rho"] == pytest.approx(-1.0) and gap["rho_p"] < 1e-3
    assert np.isnan(regrets[("discrete", "oracle")]["rho"])
    assert ("Gaussian", "st_gap") not in regrets and regrets[("Gaussian", "oracle")]["regret"] == 0
    # TC against no TC, per latent and gamma: FactorDVAE at gamma 10 has MIG 0.21-0.23 against
    # the D-VAE's 0.11-0.13: difference of medians 0.10, every pair in TC's favour (U = 9), exact
    # two-sided p = 2 / C(6, 3) = 0.1 on all six metrics, so Holm gives min(1, 6 * 0.1) = 0.6.
    tc = {(d["latent"], d["gamma"], d["metric"]): d for d in tables.tc_effects(records)}
    assert sorted({(k[0], k[1]) for k in tc}) == [("Gaussian", 10.0), ("Gaussian", 30.0),
                                                   ("discrete", 10.0), ("discrete", 30.0)]
    at10 = tc[("discrete", 10.0, "mig")]
    assert at10["difference"] == pytest.approx(0.10) and at10["u_statistic"] == 9
    assert at10["p_value"] == pytest.approx(0.1) and at10["p_holm"] == pytest.approx(0.6)
    # Gaussian at gamma 30: FactorVAE MIG 0.31-0.33 against the VAE's 0.01-0.03.
    assert tc[("Gaussian", 30.0, "modularity")]["difference"] == pytest.approx(0.30)
