"""The tables of a study (analysis/tables.py) on hand-written eval JSON files (eval.py's layout):
medians and percentiles, selection by the gap with Spearman and Holm, the per-gamma
comparisons, the effect of gamma and TC, the rules' regrets, and selection within each setting."""
import csv
import io

import numpy as np
import pytest
from scipy.stats import spearmanr

from analysis import tables
from analysis.results import gather
from tests.analysis_fixtures import METRIC_KEYS, all_metrics, holm_by_brute_force, write_result, write_study


@pytest.fixture
def results(tmp_path):
    return write_study(tmp_path)


def test_medians_and_percentiles_match_numpy(results):
    folder, truth = results
    records, problems = gather(folder)
    assert len(records) == 22 and problems == []
    built = {t["group"]: t for t in tables.build_tables(records)}
    assert built["base"]["columns"] == ["VAE", "D-VAE"]
    assert built["tc"]["columns"] == ["FactorVAE γ=10", "FactorVAE γ=20", "FactorVAE all γ",
                                      "FactorDVAE γ=10", "FactorDVAE γ=20", "FactorDVAE all γ"]
    vae = built["base"]["cells"]["mig"][0]
    assert vae["median"] == pytest.approx(0.30)  # sorted 0.1 0.2 0.3 0.4 0.5
    assert vae["p25"] == pytest.approx(0.20) and vae["p75"] == pytest.approx(0.40)
    dvae = built["base"]["cells"]["mig"][1]
    assert dvae["median"] == pytest.approx(np.median(truth["dvae_mig"]))
    assert dvae["p25"] == pytest.approx(np.percentile(truth["dvae_mig"], 25))
    # FactorVAE over all gammas: MIG values 0.1, 0.2, 0.3 (gamma 10) and 0.2, 0.3, 0.4 (gamma 20).
    all_gamma = built["tc"]["cells"]["mig"][2]
    values = [0.1, 0.2, 0.3, 0.2, 0.3, 0.4]
    assert all_gamma["n"] == 6
    assert all_gamma["median"] == pytest.approx(0.25)
    assert all_gamma["p25"] == pytest.approx(np.percentile(values, 25))   # 0.2
    assert all_gamma["p75"] == pytest.approx(np.percentile(values, 75))   # 0.3
    per_gamma = built["tc"]["cells"]["modularity"][1]                    # FactorVAE gamma 20: 1.2,1.3,1.4
    assert per_gamma["median"] == pytest.approx(1.3) and per_gamma["n"] == 3


def test_spearman_and_selection(results):
    folder, truth = results
    records, _ = gather(folder)
    selection = {(s["pool"], s["metric"]): s for s in tables.model_selection(records)}
    dvae = selection[("D-VAE", "mig")]
    # By hand: gap ranks 3 5 1 2 4, MIG ranks 2 1 4 3 5; d = 1 4 -3 -1 -1; sum d^2 = 28;
    # rho = 1 - 6*28 / (5*24) = -0.4.
    assert dvae["spearman"] == pytest.approx(-0.4)
    assert dvae["spearman"] == pytest.approx(spearmanr(truth["dvae_gap"], truth["dvae_mig"])[0])
    assert dvae["n"] == 5
    assert dvae["selected"] == pytest.approx(0.35)       # smallest gap (1.0) is seed 3
    assert dvae["selected_run"] == "ds_seed3"
    assert dvae["median"] == pytest.approx(0.25) and dvae["best"] == pytest.approx(0.45)
    # FactorDVAE: gap = gamma + s and every metric rises with gamma and s -> rho = +1.
    assert selection[("FactorDVAE", "dci_disentanglement")]["spearman"] == pytest.approx(1.0)
    assert ("all discrete", "mig") in selection
    assert not any(s["pool"] in ("VAE", "FactorVAE") for s in selection.values())
    # Holm over the six metrics of one pool of candidates.
    for name in ("D-VAE", "FactorDVAE", "all discrete"):
        pool = [selection[(name, m)] for m in METRIC_KEYS]
        defined = [s for s in pool if np.isfinite(s["p_value"])]
        assert [s["p_holm"] for s in defined] == pytest.approx(
            holm_by_brute_force([s["p_value"] for s in defined]), rel=1e-9)
        assert all(np.isnan(s["p_holm"]) for s in pool if s not in defined)
    assert len([s for s in selection.values() if s["pool"] == "all discrete" and s["p_holm"] > s["p_value"]]) >= 2


def test_per_gamma_comparisons_gamma_effect_and_regrets(tmp_path):
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


def test_within_setting_and_scores_by_gamma_from_files(tmp_path):
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


def test_an_all_gamma_column_only_where_a_model_has_several_gammas(tmp_path):
    """With one γ the 'all γ' column would repeat the γ column: FactorVAE (γ 10 only) has none,
    FactorDVAE (γ 10 and 20) has one, over its six runs."""
    for s in range(3):
        write_result(tmp_path, "ds", "factor_vae", s + 1, 10.0, values=all_metrics(0.1 + s / 10))
        for gamma in (10.0, 20.0):
            write_result(tmp_path, "ds", "factor_dvae", s + 1, gamma, values=all_metrics(gamma / 100 + s / 10),
                         gap=1.0)
    records, problems = gather(tmp_path)
    assert problems == []
    (built,) = tables.build_tables(records)
    assert built["columns"] == ["FactorVAE γ=10", "FactorDVAE γ=10", "FactorDVAE γ=20", "FactorDVAE all γ"]
    assert [c["n"] for c in built["cells"]["mig"]] == [3, 3, 3, 6]
