"""Two training budgets (analysis/budgets.py, analysis/study.py, scripts/tables.py): each
setting at the larger budget against the smaller, the verdicts of a comparison at each budget
and their change, on hand-written eval JSON folders whose numbers are worked out here."""
import csv
import io
import itertools
from math import comb

import pytest

from analysis import budgets
from analysis.study import gather_all, rows_by_budget
from scripts import tables as cli
from tests.analysis_fixtures import METRIC_KEYS, write_result

VAE = [0.01, 0.03, 0.05, 0.07, 0.09, 0.11]
# The D-VAE's runs against the VAE's of the same budget (six each):
ABOVE = [0.20, 0.21, 0.22, 0.23, 0.24, 0.25]      # every pair won: U = 36
BELOW = [-0.25, -0.24, -0.23, -0.22, -0.21, -0.20]  # U = 0
UP = [0.02, 0.04, 0.06, 0.08, 0.10, 0.12]         # interleaved, U = 1+2+...+6 = 21, medians +0.01
DOWN = [0.00, 0.02, 0.04, 0.06, 0.08, 0.10]       # interleaved, U = 0+1+...+5 = 15, medians -0.01
# (smaller budget, larger budget) of each metric, and the change of verdict that follows.
DESIGN = {
    "mig": (ABOVE, ABOVE, "keeps"),
    "modularity": (ABOVE, UP, "loses"),
    "sap_score": (ABOVE, BELOW, "reverses"),
    "factor_vae_metric": (UP, ABOVE, "gains"),
    "beta_vae_sklearn": (UP, DOWN, "stays undecided"),
    "dci_disentanglement": (BELOW, BELOW, "keeps"),
}
# Exact two-sided Mann-Whitney p of six against six with U = 36 (or 0): 2 / C(12, 6) = 2 / 924.
P0 = 2 / comb(12, 6)


def p_interleaved(u: int) -> float:
    """The exact two-sided p of U = u for six against six, by counting all C(12, 6) rank sets."""
    us = [sum(a > b for a in ranks for b in set(range(12)) - set(ranks))
          for ranks in itertools.combinations(range(12), 6)]
    return min(1.0, 2 * min(sum(x >= u for x in us), sum(x <= u for x in us)) / len(us))


def write_budgets(root):
    """1,000 steps (six metrics, as the older studies) in root/small, 2,000 steps (with InfoMEC,
    every D-VAE run above the VAE's) in root/large; the VAE's values one higher at 2,000."""
    for budget, offset, index, infomec in ((1000, 0.0, 0, False), (2000, 1.0, 1, True)):
        folder = root / ("small" if budget == 1000 else "large")
        folder.mkdir()
        for s in range(6):
            vae = {k: VAE[s] + offset for k in METRIC_KEYS}
            dvae = {k: DESIGN[k][index][s] + offset for k in METRIC_KEYS}
            if infomec:
                vae.update(infom=VAE[s], infoe=VAE[s], infoc=VAE[s])
                dvae.update(infom=ABOVE[s], infoe=ABOVE[s], infoc=ABOVE[s])
            write_result(folder, "ds", "vae", s + 1, values=vae, steps=budget)
            write_result(folder, "ds", "dvae", s + 1, values=dvae, gap=float(s), steps=budget)
    return root / "small", root / "large"


def test_budget_comparison_by_hand(tmp_path):
    records, problems = gather_all(write_budgets(tmp_path))
    assert problems == [] and sorted({r["budget"] for r in records}) == [1000, 2000]
    rows = budgets.budget_comparison(records)
    assert {(r["model"], r["budget_small"], r["budget_large"]) for r in rows} == {("vae", 1000, 2000),
                                                                                   ("dvae", 1000, 2000)}
    vae = {r["metric"]: r for r in rows if r["model"] == "vae"}
    # InfoMEC only at 2,000 steps: no test of it, and Holm over the six metrics.
    assert list(vae) == METRIC_KEYS
    for row in vae.values():
        # Every VAE run one higher at 2,000: difference of medians 1, U = 36, p = 2 / 924; Holm's
        # running maximum gives the six equal p values 6 * 2 / 924 each.
        assert row["difference"] == pytest.approx(1.0) and row["u_statistic"] == 36
        assert row["p_value"] == pytest.approx(P0) and row["p_holm"] == pytest.approx(6 * P0)
    # The D-VAE's SAP: ABOVE at 1,000 (0.20-0.25), BELOW + 1 at 2,000 (0.75-0.80): medians 0.225, 0.775.
    sap = next(r for r in rows if r["model"] == "dvae" and r["metric"] == "sap_score")
    assert sap["difference"] == pytest.approx(0.55)


def test_verdicts_and_their_changes_by_hand(tmp_path):
    records, _ = gather_all(write_budgets(tmp_path))
    per_budget = rows_by_budget(records)
    rows = {v["metric"]: v for v in budgets.verdicts(per_budget)}
    assert list(rows) == METRIC_KEYS                    # InfoMEC: asked at 2,000 steps only
    assert {k: v["change"] for k, v in rows.items()} == {k: d[2] for k, d in DESIGN.items()}
    p_up = p_interleaved(21)
    assert p_up == pytest.approx(p_interleaved(15)) and p_up > 0.5
    # 1,000 steps, six metrics: four at 2/924 and two at p_up: Holm 6 * 2/924 for the four (decided),
    # max(6 * 2/924, min(1, 2 * p_up)) = 1 for the two.
    mig = rows["mig"]
    assert mig["p_small"] == pytest.approx(P0) and mig["p_holm_small"] == pytest.approx(6 * P0)
    assert rows["factor_vae_metric"]["p_holm_small"] == pytest.approx(min(1.0, 2 * p_up))
    # 2,000 steps: Holm over the six metrics asked at both budgets (not InfoMEC's three, asked
    # at 2,000 only): four at 2/924 (MIG, SAP, FactorVAE, DCI) -> 6 * 2/924 = 0.013, decided.
    assert mig["p_holm_large"] == pytest.approx(6 * P0) and mig["verdict_large"] == "candidate higher"
    # Its own table adjusts the six metrics apart from InfoMEC's three, so the same 6 * 2/924.
    assert per_budget[2000]["differences"][0]["p_holm"] == pytest.approx(6 * P0)
    infomec = {d["metric"]: d for d in per_budget[2000]["differences"] if d["metric"] in ("infom", "infoe", "infoc")}
    assert [d["p_value"] for d in infomec.values()] == pytest.approx([P0] * 3)   # every D-VAE run above
    assert [d["p_holm"] for d in infomec.values()] == pytest.approx([3 * P0] * 3)
    assert rows["sap_score"]["verdict_small"] == "candidate higher"
    assert rows["sap_score"]["verdict_large"] == "baseline higher" and rows["sap_score"]["sign_flipped"]
    assert rows["dci_disentanglement"]["verdict_large"] == "baseline higher"
    assert rows["modularity"]["verdict_large"] == "undecided" and not rows["modularity"]["sign_flipped"]
    # Undecided at both, the sign of the difference of medians still flips: +0.01, then -0.01.
    beta = rows["beta_vae_sklearn"]
    assert (beta["sign_small"], beta["sign_large"], beta["sign_flipped"]) == (1, -1, True)
    assert beta["difference_small"] == pytest.approx(0.01) and beta["difference_large"] == pytest.approx(-0.01)


def test_change_covers_every_case():
    decided = ("candidate higher", "baseline higher")
    assert budgets.change(decided[0], decided[0]) == "keeps"
    assert budgets.change(decided[0], "undecided") == "loses"
    assert budgets.change(decided[1], decided[0]) == "reverses"
    assert budgets.change("undecided", decided[1]) == "gains"
    assert budgets.change("undecided", "undecided") == "stays undecided"
    assert budgets.change(decided[0], "too few runs") == budgets.change("too few runs", "undecided") == "too few runs"
    assert set(budgets.CHANGES) == {"keeps", "loses", "reverses", "gains", "stays undecided", "too few runs"}


def test_a_verdict_needs_enough_runs_to_be_possible():
    """Five against five: complete separation gives p = 2 / C(10, 5) = 2/252 = 0.0079; Holm
    over six metrics makes it 0.048 (decidable), over nine 0.071 (never). One against one: p
    is 1 whatever the values."""
    row = {"p_holm": 0.048, "difference": 0.1, "n_baseline": 5, "n_candidate": 5}
    assert budgets.smallest_holm_p({**row, "holm_family": 6}) == pytest.approx(6 * 2 / 252)
    assert budgets.verdict({**row, "holm_family": 6}) == "candidate higher"
    assert budgets.verdict({**row, "holm_family": 6, "p_holm": 0.2}) == "undecided"
    assert budgets.verdict({**row, "holm_family": 9}) == "too few runs"
    one_each = {**row, "holm_family": 1, "n_baseline": 1, "n_candidate": 1, "p_holm": 1.0}
    assert budgets.verdict(one_each) == "too few runs"
    # Four against five over three scores (InfoMEC's family): 3 * 2 / C(9, 4) = 6/126 = 0.048.
    assert budgets.verdict({**row, "holm_family": 3, "n_baseline": 4, "difference": -0.1}) == "baseline higher"


def test_tc_verdicts_only_at_a_gamma_of_both_budgets(tmp_path):
    for budget in (1000, 2000):
        folder = tmp_path / f"b{budget}"
        folder.mkdir()
        for s in range(3):
            write_result(folder, "ds", "dvae", s + 1, values={k: 0.1 * s for k in METRIC_KEYS}, steps=budget,
                         gap=1.0)
            write_result(folder, "ds", "factor_dvae", s + 1, 10.0, values={k: 1 + 0.1 * s for k in METRIC_KEYS},
                         steps=budget, gap=1.0)
    write_result(tmp_path / "b1000", "ds", "factor_dvae", 1, 30.0, values={k: 2.0 for k in METRIC_KEYS},
                 steps=1000, gap=1.0)
    records, _ = gather_all([tmp_path / "b1000", tmp_path / "b2000"])
    rows = budgets.verdicts(rows_by_budget(records))
    assert {(v["kind"], v["gamma"]) for v in rows} == {("tc", 10.0)}        # γ=30 only at 1,000 steps
    assert budgets.question_label(rows[0]) == "TC γ=10: FactorDVAE vs D-VAE"
    # Three against three, every pair won: p = 2 / 20 = 0.1, Holm 0.6, the smallest any three
    # against three could reach over six metrics: too few runs to decide at either budget.
    assert all(v["p_small"] == pytest.approx(0.1) and v["p_holm_small"] == pytest.approx(0.6) for v in rows)
    assert all(v["verdict_small"] == v["verdict_large"] == v["change"] == "too few runs" for v in rows)
    assert {(r["model"], r["gamma"]) for r in budgets.budget_comparison(records)} == {("dvae", None),
                                                                                       ("factor_dvae", 10.0)}


def test_cli_over_two_studies_and_each_alone(tmp_path):
    small, large = write_budgets(tmp_path)
    out = tmp_path / "both"
    assert cli.main([str(small), str(large), "--format", "md,csv,tex", "--out", str(out), "--plots"]) == 0
    markdown = (out / "tables.md").read_text()
    assert markdown.index("## 1,000 steps") < markdown.index("## 2,000 steps") < markdown.index("## Training budgets")
    assert "### Verdicts at each budget, and how they change" in markdown
    assert "| ds | D-VAE vs VAE | SAP | 1,000 → 2,000 | candidate higher (+; p 0.002, Holm 0.013) | " in markdown
    verdict_rows = list(csv.DictReader(io.StringIO((out / "verdicts.csv").read_text())))
    assert [r["change"] for r in verdict_rows] == [d[2] for d in DESIGN.values()]
    budget_rows = list(csv.DictReader(io.StringIO((out / "budget.csv").read_text())))
    assert len(budget_rows) == 12 and float(budget_rows[0]["p_holm"]) == pytest.approx(6 * P0, rel=1e-5)
    differences = list(csv.DictReader(io.StringIO((out / "differences.csv").read_text())))
    assert [r["budget"] for r in differences] == ["1000"] * 6 + ["2000"] * 9      # never pooled
    assert "1,000 steps: " in (out / "tables.tex").read_text()
    for name in ("budget_ds", "verdicts_ds", "boxplots_ds_1000steps", "metric_ds_infom_2000steps"):
        assert (out / f"{name}.png").is_file() and (out / f"{name}.pdf").is_file()
    assert not (out / "metric_ds_infom_1000steps.png").exists()
    alone = tmp_path / "alone"
    assert cli.main([str(small), "--format", "md,csv", "--out", str(alone)]) == 0
    assert "## " not in (alone / "tables.md").read_text().replace("### ", "")
    assert not (alone / "budget.csv").exists() and not (alone / "verdicts.csv").exists()
    assert "budget" not in (alone / "differences.csv").read_text().splitlines()[0]


def test_budget_figure_shows_the_settings_and_scores_of_more_than_one_budget(tmp_path):
    """The VAE at both budgets is a line; QLAE (30,000 steps only) and FactorVAE gamma 30
    (10,000 only) have no trend and stay out; InfoMEC, recorded at the larger budget only,
    has no panel."""
    from analysis.budget_figures import budget_panels

    for s in range(2):
        write_result(tmp_path, "ds", "vae", s + 1, values={k: 0.1 for k in METRIC_KEYS}, steps=1000)
        write_result(tmp_path, "ds", "vae", s + 11, values={**{k: 0.2 for k in METRIC_KEYS}, "infom": 0.3},
                     steps=3000)
        write_result(tmp_path, "ds", "qlae", s + 1, steps=3000,
                     values={**{k: 0.2 for k in METRIC_KEYS}, "infom": 0.3, "recon_loss": 1.0})
        write_result(tmp_path, "ds", "factor_vae", s + 1, values={k: 0.1 for k in METRIC_KEYS}, gamma=30.0,
                     steps=1000)
    records, problems = gather_all([tmp_path])
    assert problems == []
    scores, settings = budget_panels(records)
    assert settings == [("vae", None)] and list(scores) == METRIC_KEYS
