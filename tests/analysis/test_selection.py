"""analysis/selection.py and the TC-study analyses of analysis/tables.py against hand-derived numbers."""
import csv
import io
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


def test_within_agreement_ignores_differences_between_settings():
    # Within each gamma the smaller gap has the higher MIG (rule agrees, rho +1 in both), but
    # gamma 10 has larger gaps and higher MIG than gamma 0, so over all six runs the rule
    # disagrees: gap ranks 1..6 against MIG ranks 3 2 1 6 5 4, d = -2 0 2 -2 0 2, sum d^2 = 16,
    # rho(gap, MIG) = 1 - 6 * 16 / (6 * 35) = 0.543, so the rule's agreement is -0.543.
    groups = {0.0: [run(0.3, st_gap=1.0), run(0.2, st_gap=2.0), run(0.1, st_gap=3.0)],
              10.0: [run(0.6, st_gap=11.0), run(0.5, st_gap=12.0), run(0.4, st_gap=13.0), run(0.9)]}
    pooled = selection.agreement([r for rs in groups.values() for r in rs], "st_gap", "mig")
    assert pooled[0] == pytest.approx(-(1 - 96 / 210))
    within = selection.within_agreement(groups, "st_gap", "mig")
    assert within["rho"] == pytest.approx(1.0) and within["p"] == pytest.approx(2 / 36)
    assert within["settings"] == [0.0, 10.0] and within["n"] == 6           # the unscored run is left out
    # UDR: larger is preferred, so the same numbers as UDR scores agree the other way round.
    udr = {g: [run(r["values"]["mig"], udr=r["values"].get("st_gap")) for r in rs] for g, rs in groups.items()}
    assert selection.within_agreement(udr, "udr", "mig")["rho"] == pytest.approx(-1.0)


def test_within_setting_and_scores_by_gamma_from_files(tmp_path):
    from test_tables import all_metrics, write_result

    from analysis.report import to_markdown
    from analysis.results import gather
    from scripts import tables as cli
    # Discrete: D-VAE (gamma 0) and FactorDVAE gamma 10 with three seeds each, every metric
    # falling with the seed while the gap rises with it: within each gamma the smallest gap has
    # the best metrics (rho +1 for the rule); one FactorDVAE gamma 30 run alone (no rho).
    for s in range(1, 4):
        write_result(tmp_path, "ds", "dvae", s, values=all_metrics(0.5 - s / 100), gap=float(s))
        write_result(tmp_path, "ds", "factor_dvae", s, 10.0, values=all_metrics(0.2 - s / 100), gap=5.0 + s)
        write_result(tmp_path, "ds", "vae", s, values={**all_metrics(0.1 * s), "elbo": 100.0 + s})
    write_result(tmp_path, "ds", "factor_dvae", 1, 30.0, values=all_metrics(0.1), gap=9.0)
    records, _ = gather(tmp_path)
    within = tables.within_setting(records)
    assert {(w["latent"], w["rule"]) for w in within} == {("discrete", "st_gap"), ("Gaussian", "elbo")}
    gap = [w for w in within if w["rule"] == "st_gap"]
    assert [w["metric"] for w in gap] == list(tables.METRICS)
    for w in gap:
        assert (w["rho"], w["p_value"]) == pytest.approx((1.0, 2 / 36))     # two groups of three, as by hand
        assert w["p_holm"] == pytest.approx(6 * 2 / 36)                       # six equal p: each times 6
        assert w["groups"] == 2 and w["n"] == 6 and list(w["group_rhos"]) == [0.0, 10.0, 30.0]
        assert np.isnan(w["group_rhos"][30.0])
    # The VAE alone: one group of three, -ELBO rising with the seed and every metric too, so
    # the rule (lower -ELBO preferred) disagrees: rho -1, p = 2 / 6; Holm: min(1, 6 * 1/3) = 1.
    elbo = [w for w in within if w["rule"] == "elbo"]
    assert all((w["rho"], w["p_value"], w["p_holm"]) == pytest.approx((-1.0, 1 / 3, 1.0)) for w in elbo)
    scores = {(s["latent"], s["rule"]): s for s in tables.scores_by_gamma(records)}
    gap_scores = scores[("discrete", "st_gap")]
    assert gap_scores["medians"] == pytest.approx({0.0: 2.0, 10.0: 7.0, 30.0: 9.0}) and gap_scores["n"] == 7
    # gap ranks 1..7 and gamma ranks 2 2 2 5 5 5 7 (ties averaged): rho from numpy's Pearson
    gamma_ranks, gap_ranks = np.array([2, 2, 2, 5, 5, 5, 7.0]), np.arange(1, 8.0)
    assert gap_scores["rho"] == pytest.approx(np.corrcoef(gamma_ranks, gap_ranks)[0, 1]) and gap_scores["rho"] > 0.9
    assert ("discrete", "udr") not in scores and ("Gaussian", "elbo") in scores
    # Both reach the markdown and the CSV files.
    out = tmp_path / "out"
    assert cli.main([str(tmp_path), "--format", "md,csv", "--out", str(out)]) == 0
    markdown = (out / "tables.md").read_text()
    assert "### Model selection within each setting" in markdown and "### The selection scores against γ" in markdown
    assert "| ds | discrete | smallest gap | MIG | 2 (6) | +1.00 | 0.056 | 0.333 | exact |" in markdown
    rows = list(csv.DictReader(io.StringIO((out / "within.csv").read_text())))
    mig = next(r for r in rows if r["rule"] == "st_gap" and r["metric"] == "mig")
    assert float(mig["p_value"]) == pytest.approx(2 / 36, rel=1e-5) and mig["group_rhos"] == "0:1;10:1;30:nan"
    assert "0:2;10:7;30:9" in (out / "scores_by_gamma.csv").read_text()
    assert "within each setting" not in to_markdown([], [], [])               # nothing to show: no section
