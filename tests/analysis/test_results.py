"""Reading a study's results (analysis/results.py): missing, partial and unreadable files are
listed, the flat layout is read too, bad input is an error, and a UDR file beside an eval JSON
is read with it."""
import json

import pytest

from analysis import tables
from analysis.results import ResultError, gather, read_result
from scripts import tables as cli
from tests.analysis_fixtures import all_metrics, write_result


def test_tables_read_udr_beside_the_eval_json(tmp_path):
    from analysis.results import read_result
    (tmp_path / "ds_seed1.eval.json").write_text(json.dumps(
        {"dataset": "ds", "model": "dvae", "seed": 1, "results": {"mig": 0.1}}))
    assert read_result(tmp_path / "ds_seed1.eval.json")["values"]["udr"] is None
    (tmp_path / "ds_seed1.udr.json").write_text(json.dumps({"udr": 0.42}))
    assert read_result(tmp_path / "ds_seed1.eval.json")["values"]["udr"] == 0.42


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
