"""InfoMEC beside the six metrics in the tables (analysis/tables.py, analysis/report.py): shown
where a run has it, Holm over the six metrics and apart over InfoMEC's three then, and nothing of it (and no
"partial" result) for older files without it."""
import csv
import io

import pytest

from analysis import tables
from analysis.results import gather
from scripts import tables as cli
from tests.analysis_fixtures import METRIC_KEYS, write_result

BASELINE = [0.10, 0.30, 0.50]
# Candidate values against BASELINE, with U = the pairs (candidate, baseline) the candidate wins:
# the exact two-sided Mann-Whitney p of two groups of three is 2 * P(U >= u) under the 20 equally
# likely rank sets, whose U counts for u = 0..9 are 1 1 2 3 3 3 3 2 1 1.
CANDIDATES = {
    "mig": [0.6, 0.7, 0.8],                 # U = 9: p = 2 * 1/20 = 0.1
    "modularity": [0.01, 0.02, 0.03],       # U = 0: p = 0.1 (the baseline higher)
    "sap_score": [0.4, 0.6, 0.7],           # U = 2 + 3 + 3 = 8: p = 2 * 2/20 = 0.2
    "factor_vae_metric": [0.2, 0.6, 0.7],   # U = 1 + 3 + 3 = 7: p = 2 * 4/20 = 0.4
    "beta_vae_sklearn": [0.2, 0.4, 0.6],    # U = 1 + 2 + 3 = 6: p = 2 * 7/20 = 0.7
    "dci_disentanglement": [0.2, 0.4, 0.45],  # U = 5: p = min(1, 2 * 10/20) = 1
    "infom": [0.6, 0.7, 0.8],               # U = 9: p = 0.1
    "infoe": [0.6, 0.7, 0.8],               # U = 9: p = 0.1
    "infoc": [0.4, 0.6, 0.7],               # U = 8: p = 0.2
}
U = {"mig": 9, "modularity": 0, "sap_score": 8, "factor_vae_metric": 7, "beta_vae_sklearn": 6,
     "dci_disentanglement": 5, "infom": 9, "infoe": 9, "infoc": 8}
P = {"mig": 0.1, "modularity": 0.1, "sap_score": 0.2, "factor_vae_metric": 0.4, "beta_vae_sklearn": 0.7,
     "dci_disentanglement": 1.0, "infom": 0.1, "infoe": 0.1, "infoc": 0.2}
# Over the six metrics: sorted p 0.1 x2, 0.2, 0.4, 0.7, 1 times 6, 5, 4, 3, 2, 1 = 0.6, 0.5,
# 0.8, 1.2, 1.4, 1 -> (running maximum, capped at 1) 0.6, 0.6, 0.8, 1, 1, 1.
HOLM_SIX = {"mig": 0.6, "modularity": 0.6, "sap_score": 0.8, "factor_vae_metric": 1.0, "beta_vae_sklearn": 1.0,
            "dci_disentanglement": 1.0}
# InfoMEC apart: 0.1, 0.1, 0.2 times 3, 2, 1 = 0.3, 0.2, 0.2 -> 0.3 each. (One family of nine
# would give 0.9 to the four at 0.1 and 1 to the rest: sorted p times 9, 8, 7, ...)
HOLM = {**HOLM_SIX, "infom": 0.3, "infoe": 0.3, "infoc": 0.3}


def write_pair(folder, infomec=True):
    """VAE (the baseline) and D-VAE (the candidate), three seeds each; InfoMEC in every file,
    and InfoMEC on the argmax codes in the D-VAE's, when `infomec`."""
    for s in range(3):
        keys = list(CANDIDATES) if infomec else METRIC_KEYS
        vae = {k: BASELINE[s] for k in keys}
        dvae = {k: CANDIDATES[k][s] for k in keys}
        if infomec:
            dvae.update(infom_argmax=0.5 + s / 10, infoe_argmax=0.6, infoc_argmax=0.7)
        write_result(folder, "ds", "vae", s + 1, values=vae)
        write_result(folder, "ds", "dvae", s + 1, values=dvae, gap=float(s))
    return folder


def test_mann_whitney_and_holm_within_each_metric_family(tmp_path):
    records, problems = gather(write_pair(tmp_path))
    assert problems == []
    rows = {d["metric"]: d for d in tables.comparisons(records)}
    assert list(rows) == list(CANDIDATES)                       # the six metrics, then InfoM, InfoE, InfoC
    for key, row in rows.items():
        assert row["u_statistic"] == U[key] and row["method"] == "exact"
        assert row["p_value"] == pytest.approx(P[key])
        assert row["p_holm"] == pytest.approx(HOLM[key])
    assert rows["infom"]["difference"] == pytest.approx(0.7 - 0.3)
    assert rows["modularity"]["difference"] == pytest.approx(0.02 - 0.3)


def test_old_files_keep_the_six_metric_family_and_show_no_infomec(tmp_path):
    records, problems = gather(write_pair(tmp_path, infomec=False))
    assert problems == []                                        # no InfoMEC is not "partial"
    rows = {d["metric"]: d for d in tables.comparisons(records)}
    assert list(rows) == METRIC_KEYS
    assert {k: r["p_holm"] for k, r in rows.items()} == pytest.approx(HOLM_SIX)
    built = tables.build_tables(records)
    assert all(list(t["cells"]) == METRIC_KEYS for t in built)
    out = tmp_path / "out"
    assert cli.main([str(tmp_path), "--format", "md,csv", "--out", str(out)]) == 0
    markdown = (out / "tables.md").read_text()
    assert "InfoM" not in markdown and "over the six metrics of the same comparison" in markdown
    header = (out / "runs.csv").read_text().splitlines()[0]
    assert "infom" not in header and "recon_image" not in header
    assert "All results complete" in markdown


def test_infomec_rows_columns_and_figures(tmp_path):
    write_pair(tmp_path)
    out = tmp_path / "out"
    assert cli.main([str(tmp_path), "--format", "md,csv", "--out", str(out), "--plots"]) == 0
    markdown = (out / "tables.md").read_text()
    # The summary table: InfoM of the VAE 0.10 0.30 0.50 -> 0.30 (0.20-0.40); of the D-VAE 0.6 0.7 0.8.
    assert "| InfoM | 0.30 (0.20–0.40) | 0.70 (0.65–0.75) |" in markdown
    assert "over the six metrics, and apart over InfoM, InfoE and InfoC (where the runs have them)," in markdown
    assert "argmax code" in markdown
    runs = list(csv.DictReader(io.StringIO((out / "runs.csv").read_text())))
    assert [r["infom_argmax"] for r in runs] == ["", "", "", "0.5", "0.6", "0.7"]   # VAE: none; D-VAE seeds
    assert [float(r["infoc"]) for r in runs[3:]] == CANDIDATES["infoc"]
    differences = list(csv.DictReader(io.StringIO((out / "differences.csv").read_text())))
    assert [float(r["p_holm"]) for r in differences] == pytest.approx([HOLM[k] for k in CANDIDATES])
    assert (out / "metric_ds_infoe.png").is_file() and (out / "metric_ds_infoe.pdf").is_file()
    # Within-setting agreement of the gap: one row per score, the six metrics then InfoMEC.
    within = [w for w in tables.within_setting(gather(tmp_path)[0]) if w["rule"] == "st_gap"]
    assert [w["metric"] for w in within] == list(CANDIDATES)


def test_holm_adjusts_the_six_metrics_and_infomec_apart_and_skips_undefined():
    p = {"mig": 0.01, "modularity": 0.04, "sap_score": float("nan"), "factor_vae_metric": 0.03,
         "beta_vae_sklearn": 0.5, "dci_disentanglement": 0.02, "infom": 0.01, "infoe": 0.04, "infoc": float("nan")}
    rows = tables.with_holm([{"metric": k, "p_value": v} for k, v in p.items()])
    # The six, five defined: 0.01, 0.02, 0.03, 0.04, 0.5 times 5, 4, 3, 2, 1 = 0.05, 0.08, 0.09,
    # 0.08, 0.5 -> running maximum 0.05, 0.08, 0.09, 0.09, 0.5. InfoMEC, two defined: 0.01 x 2,
    # 0.04 x 1 = 0.02, 0.04. NaN stays NaN and does not count.
    expected = {"mig": 0.05, "modularity": 0.09, "sap_score": float("nan"), "factor_vae_metric": 0.09,
                "beta_vae_sklearn": 0.5, "dci_disentanglement": 0.08, "infom": 0.02, "infoe": 0.04,
                "infoc": float("nan")}
    assert [r["p_holm"] for r in rows] == pytest.approx(list(expected.values()), nan_ok=True)
    assert [r["p_value"] for r in rows] == pytest.approx(list(p.values()), nan_ok=True)


def test_infomec_only_in_some_runs_is_never_missing(tmp_path):
    write_pair(tmp_path, infomec=False)
    write_result(tmp_path, "ds", "dvae", 4, values={**{k: 0.5 for k in METRIC_KEYS}, "infom": 0.9}, gap=1.0)
    records, problems = gather(tmp_path)
    assert problems == []
    rows = {d["metric"]: d for d in tables.comparisons(records)}
    # The VAE has no InfoM: no test of it, and the family stays the six metrics.
    assert list(rows) == METRIC_KEYS
    cells = next(t for t in tables.build_tables(records) if t["group"] == "base")["cells"]["infom"]
    assert cells[0] is None and cells[1]["n"] == 1 and cells[1]["median"] == 0.9
