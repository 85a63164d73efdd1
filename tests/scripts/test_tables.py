"""scripts/tables.py on hand-written eval JSON files (eval.py's layout): the markdown, CSV and
LaTeX files, the differences and TC effects with Holm, every run with its own numbers."""
import csv
import io
import json

import numpy as np
import pytest

from scripts import tables as cli
from tests.analysis_fixtures import METRIC_KEYS, holm_by_brute_force, write_study


@pytest.fixture
def results(tmp_path):
    return write_study(tmp_path)


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


def test_refusals_and_problems_are_printable_lines(tmp_path, capsys):
    # A folder whose name holds a newline and an escape: one refusal line, the characters escaped.
    missing = tmp_path / "no\nsuch\x1b[2Jfolder"
    assert cli.main([str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "\x1b" not in err
    # A study with one unreadable file among readable ones: the tables are written and the
    # problem is listed, its stranger's text escaped.
    (tmp_path / "study").mkdir()
    folder, _ = write_study(tmp_path / "study")
    (folder / "bad\x1b]0;title\x07.eval.json").write_text("{not json\x1b[31m")
    assert cli.main([str(folder), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "unreadable" in err and "\x1b" not in err and "\x07" not in err
