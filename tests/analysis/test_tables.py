"""scripts/tables.py and analysis/ on hand-written eval JSON files (eval.py's layout)."""
import csv
import io
import json

import numpy as np
import pytest
from scipy.stats import spearmanr

from analysis import figures, statistics, tables
from analysis.results import ResultError, gather, read_result
from scripts import tables as cli

METRIC_KEYS = ["mig", "modularity", "sap_score", "factor_vae_metric", "beta_vae_sklearn", "dci_disentanglement"]


def write_result(folder, dataset, model, seed, gamma=0.0, values=None, gap=None, flat=False, protocol="paper"):
    tc = model.startswith("factor_")
    stem = dataset + ("_gauss" if model in ("vae", "factor_vae") else "") + (f"_factor{float(gamma)}" if tc else "")
    results = dict(values or {})
    if gap is not None:
        results.update(st_gap=gap, st_loss_hard=100.0 + gap, st_loss_soft=100.0)
    body = {"format_version": 1, "dataset": dataset, "model": model, "gamma": gamma, "seed": seed, "step": 300,
            "protocol": protocol}
    body.update(results if flat else {"results": results})
    path = folder / f"{stem}_seed{seed}.eval.json"
    path.write_text(json.dumps(body))
    return path


def all_metrics(x):
    return {k: x + i for i, k in enumerate(METRIC_KEYS)}


@pytest.fixture
def results(tmp_path):
    """VAE and D-VAE with 5 seeds, FactorVAE/FactorDVAE with gamma 10 and 20 and 3 seeds."""
    vae_mig = [0.10, 0.30, 0.20, 0.50, 0.40]
    dvae_mig = [0.15, 0.05, 0.35, 0.25, 0.45]
    dvae_gap = [3.0, 5.0, 1.0, 2.0, 4.0]
    for s in range(5):
        write_result(tmp_path, "ds", "vae", s + 1, values={**all_metrics(0.0), "mig": vae_mig[s]})
        write_result(tmp_path, "ds", "dvae", s + 1, values={**all_metrics(0.0), "mig": dvae_mig[s]}, gap=dvae_gap[s])
    for gamma in (10.0, 20.0):
        for s in range(3):
            write_result(tmp_path, "ds", "factor_vae", s + 1, gamma, values=all_metrics(gamma / 100 + s / 10))
            write_result(tmp_path, "ds", "factor_dvae", s + 1, gamma, values=all_metrics(gamma / 10 + s / 10),
                         gap=float(gamma + s))
    return tmp_path, {"vae_mig": vae_mig, "dvae_mig": dvae_mig, "dvae_gap": dvae_gap}


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


def test_formats_contain_expected_cells(results, tmp_path):
    folder, _ = results
    out = tmp_path / "tables_out"
    assert cli.main([str(folder), "--format", "md,csv,tex", "--out", str(out), "--digits", "2"]) == 0
    md = (out / "tables.md").read_text()
    assert "| MIG | 0.30 (0.20–0.40) |" in md
    assert "FactorDVAE all γ (n=6)" in md
    assert "| ds | D-VAE | MIG | 5 | -0.40 |" in md
    tex = (out / "tables.tex").read_text()
    assert r"MIG & 0.30 (0.20--0.40) & 0.25 (0.15--0.35) \\" in tex
    assert r"FactorDVAE $\gamma$=10" in tex and r"\begin{tabular}" in tex
    # The LaTeX carries the differences and p-values too, with the test used.
    assert r"Mann--Whitney" in tex and "D-VAE vs VAE" in tex and "& exact" in tex
    rows = list(csv.DictReader(io.StringIO((out / "tables.csv").read_text())))
    vae = [r for r in rows if r["metric"] == "mig" and r["column"] == "VAE"][0]
    assert (vae["n"], float(vae["median"]), float(vae["p25"]), float(vae["p75"])) == ("5", 0.3, 0.2, 0.4)
    selection = list(csv.DictReader(io.StringIO((out / "selection.csv").read_text())))
    assert any(r["pool"] == "D-VAE" and r["metric"] == "mig" and float(r["spearman"]) == pytest.approx(-0.4)
               for r in selection)


def test_missing_and_partial_results_are_listed(tmp_path, capsys):
    write_result(tmp_path, "ds", "vae", 1, values=all_metrics(0.1))
    partial = {k: v for k, v in all_metrics(0.1).items() if k != "sap_score"}
    write_result(tmp_path, "ds", "dvae", 1, values=partial)  # no sap_score, no st_gap
    write_result(tmp_path, "ds", "dvae", 2, values=all_metrics(0.1), gap=1.0, flat=True, protocol="custom")
    (tmp_path / "ds_seed9.pkl").write_bytes(b"not evaluated")
    (tmp_path / "broken.eval.json").write_text("{not json")
    records, problems = gather(tmp_path)
    assert len(records) == 3
    text = "\n".join(problems)
    assert "ds_seed1.eval.json lacks sap_score, st_gap" in text
    assert "ds_seed9.pkl has no ds_seed9.eval.json" in text
    assert "unreadable" in text and "broken.eval.json" in text
    assert "'custom' protocol" in text
    flat = read_result(tmp_path / "ds_seed2.eval.json")           # flat layout accepted too
    assert flat["values"]["st_gap"] == 1.0 and flat["missing"] == []
    assert cli.main([str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "Missing or partial results (4)" in captured.out and "lacks sap_score" in captured.err
    assert cli.main([str(tmp_path), "--strict"]) == 1
    # A missing value is n/a in its cell, not a crash.
    built = tables.build_tables(records)
    assert built[0]["cells"]["sap_score"][1]["n"] == 1


def test_bad_input(tmp_path):
    with pytest.raises(ResultError):
        gather(tmp_path / "nowhere")
    assert cli.main([str(tmp_path)]) == 2                      # empty folder
    assert cli.main([str(tmp_path), "--format", "xls"]) == 2


def test_plots_are_written(results, tmp_path):
    folder, _ = results
    records, _ = gather(folder)
    written = figures.plot(records, tmp_path / "plots")
    names = sorted(p.name for p in written)
    per_metric = [f"metric_ds_{k}.{ext}" for k in METRIC_KEYS for ext in ("pdf", "png")]
    assert names == sorted(["boxplots_ds.pdf", "boxplots_ds.png", "gap_ds.pdf", "gap_ds.png",
                            "gamma_ds.pdf", "gamma_ds.png"] + per_metric)
    import matplotlib.image
    image = matplotlib.image.imread(tmp_path / "plots" / "gap_ds.png")
    assert image.shape[0] > 100 and image.shape[1] > 500
    # Regenerating the same figures rewrites the same bytes (no creation date in the PDF), so a
    # study's committed figures change only when its numbers do.
    again = figures.plot(records, tmp_path / "again")
    for first, second in zip(sorted(written), sorted(again)):
        assert first.read_bytes() == second.read_bytes(), first.name


def test_distributions_hold_every_run_of_each_model(results):
    folder, expected = results
    records, _ = gather(folder)
    groups = dict(figures.distributions(records, "mig"))
    assert list(groups) == ["vae", "dvae", "factor_vae", "factor_dvae"]
    assert sorted(groups["vae"]) == sorted(expected["vae_mig"])
    assert sorted(groups["dvae"]) == sorted(expected["dvae_mig"])
    assert sorted(groups["factor_dvae"]) == sorted(g / 10 + s / 10 for g in (10.0, 20.0) for s in range(3))
    records[0]["values"]["mig"] = None                           # a run without the metric is left out
    assert sum(len(v) for _, v in figures.distributions(records, "mig")) == 5 + 5 + 6 + 6 - 1


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


def holm_by_brute_force(p_values):
    """Holm, written as its definition instead of a running maximum: adjusted p_i = max over
    p_j <= p_i of min(1, (m - rank_j) * p_j), ranks from 0 in sorted order."""
    ranked = sorted(p_values)
    return [max(min(1.0, (len(ranked) - k) * q) for k, q in enumerate(ranked) if q <= p) for p in p_values]


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


def test_comparisons_in_markdown_and_csv(results, tmp_path):
    folder, truth = results
    out = tmp_path / "out"
    assert cli.main([str(folder), "--format", "md,csv", "--out", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO((out / "differences.csv").read_text())))
    mig = next(r for r in rows if r["baseline"] == "vae" and r["metric"] == "mig")
    assert float(mig["difference"]) == pytest.approx(np.median(truth["dvae_mig"]) - np.median(truth["vae_mig"]))
    from scipy.stats import mannwhitneyu
    assert float(mig["p_value"]) == pytest.approx(mannwhitneyu(truth["dvae_mig"], truth["vae_mig"]).pvalue, rel=1e-5)
    assert {r["baseline"] for r in rows} == {"vae", "factor_vae"}     # both pairs, FactorVAE over all gammas
    # Holm over the six metrics of one comparison.
    family = [r for r in rows if r["baseline"] == "vae"]
    assert len(family) == 6
    expected = holm_by_brute_force([float(r["p_value"]) for r in family])
    assert [float(r["p_holm"]) for r in family] == pytest.approx(expected, rel=1e-9)
    assert "Differences of medians" in (out / "tables.md").read_text()
    # TC against no TC: FactorDVAE gamma 10's MIG (1.0, 1.1, 1.2) against the D-VAE's (median 0.25).
    tc = list(csv.DictReader(io.StringIO((out / "tc_effects.csv").read_text())))
    mig = next(r for r in tc if r["latent"] == "discrete" and float(r["gamma"]) == 10 and r["metric"] == "mig")
    assert float(mig["difference"]) == pytest.approx(1.1 - 0.25) and int(mig["n_candidate"]) == 3
    assert "The effect of TC" in (out / "tables.md").read_text()


def test_every_run_is_listed_with_its_own_numbers(results, tmp_path):
    folder, truth = results
    out = tmp_path / "out"
    assert cli.main([str(folder), "--format", "md,csv", "--out", str(out), "--digits", "3"]) == 0
    rows = list(csv.DictReader(io.StringIO((out / "runs.csv").read_text())))
    assert len(rows) == 22
    # table order: VAE, D-VAE, FactorVAE, FactorDVAE; gamma, then seed ascending
    assert [r["model"] for r in rows] == ["vae"] * 5 + ["dvae"] * 5 + ["factor_vae"] * 6 + ["factor_dvae"] * 6
    assert [r["seed"] for r in rows[10:16]] == ["1", "2", "3", "1", "2", "3"]
    assert [r["gamma"] for r in rows[10:16]] == ["10", "10", "10", "20", "20", "20"]
    # each row carries the numbers of its own file, read here straight from the JSON
    for row in rows:
        written = json.loads((folder / f"{row['run']}.eval.json").read_text())["results"]
        for key in METRIC_KEYS:
            assert float(row[key]) == pytest.approx(written[key], rel=1e-5)
        assert (row["st_gap"] == "") == ("st_gap" not in written)
    assert [float(r["st_gap"]) for r in rows[5:10]] == truth["dvae_gap"]
    assert [float(r["mig"]) for r in rows[:5]] == truth["vae_mig"]
    markdown = (out / "tables.md").read_text()
    section = markdown[markdown.index("### Every run"):]
    assert section.count("\n| ds | ") == 22
    assert "| ds | FactorDVAE | 20 | 3 | 2.200 |" in section    # mig = gamma / 10 + (seed - 1) / 10
