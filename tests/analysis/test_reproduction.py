"""analysis/reproduction.py and scripts/compare_runs.py: a retrained run against the committed one."""
import json
import shutil
import subprocess

import pytest

from analysis.reproduction import compare_evals, compare_logs, parse_log
from scripts import compare_runs


def _log(*records):
    return "".join(json.dumps(r) + "\n" for r in records)


OLD_LOG = _log(
    {"kind": "train", "step": 250, "time": 1.0, "elapsed_s": 10.0, "steps_per_s": 25.0, "loss": 1461.82, "kl": 3.1},
    {"kind": "train", "step": 500, "time": 2.0, "elapsed_s": 20.0, "steps_per_s": 25.0, "loss": 447.62, "kl": 11.2},
    # a resume repeats step 500 (same values, a later clock)
    {"kind": "train", "step": 500, "time": 9.0, "elapsed_s": 5.0, "steps_per_s": 50.0, "loss": 447.62, "kl": 11.2},
    {"kind": "eval", "step": 500, "time": 3.0, "elapsed_s": 21.0, "mig": 0.05},
)


def test_logs_equal_but_for_the_clock():
    new = _log(
        {"kind": "train", "step": 250, "time": 7.0, "elapsed_s": 3.0, "steps_per_s": 80.0, "loss": 1461.82, "kl": 3.1},
        {"kind": "train", "step": 500, "time": 8.0, "elapsed_s": 6.0, "steps_per_s": 80.0, "loss": 447.62, "kl": 11.2},
        {"kind": "eval", "step": 500, "time": 8.5, "elapsed_s": 6.5, "mig": 0.05},
        {"kind": "train", "step": 750, "time": 9.0, "elapsed_s": 9.0, "steps_per_s": 80.0, "loss": 300.0, "kl": 12.0},
    )
    result = compare_logs(OLD_LOG, new)
    assert result.identical
    # train 250 and 500: kind, step, loss, kl; eval 500: kind, step, mig (no clock field counted)
    assert result.compared == 4 + 4 + 3
    assert result.added == ["train step 750"]


def test_log_values_counted_and_a_changed_loss_is_found():
    # compared per line: kind, step and every non-clock value
    new = _log({"kind": "train", "step": 500, "time": 0.0, "loss": 447.63, "kl": 11.2})
    result = compare_logs(OLD_LOG, new)
    assert result.compared == 4  # kind, step, loss, kl
    assert result.differences == [("train step 500: loss", 447.62, 447.63)]
    assert not result.identical


def test_a_step_only_the_new_log_has_is_an_addition():
    new = _log({"kind": "eval", "step": 1000, "mig": 0.1})
    result = compare_logs(OLD_LOG, new)
    assert result.identical and result.compared == 0
    assert result.added == ["eval step 1000"]


def test_a_broken_log_line_names_its_line():
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        parse_log('{"step": 1}\n{not json\n', "x.log.jsonl")
    with pytest.raises(ValueError, match="line 1: expected a JSON object with a 'step'"):
        parse_log('[1, 2]\n', "x.log.jsonl")


def _eval(**results):
    return {"model": "dvae", "seed": 1, "step": 10000, "metrics": ["mig", "st_gap"],
            "results": {"mig": 0.0691, "st_gap": 6.13, **results},
            "times": {"mig": 4.4, "total": 300.0}, "created": "2026-12-01T00:00:00+0000",
            "index_cache": {"encode_seconds": 3.0}}


def test_evals_ignore_timings_and_list_a_new_metric_as_added():
    old = _eval()
    new = _eval(elbo=146.57)
    new["metrics"] = ["mig", "st_gap", "elbo"]
    new["times"] = {"mig": 1.0, "elbo": 7.8, "total": 100.0}
    new["created"] = "2026-12-02T00:00:00+0000"
    result = compare_evals(old, new)
    assert result.identical
    assert sorted(result.added) == ["metrics: elbo", "results.elbo"]
    # model, seed, step, the metrics list, results.mig, results.st_gap
    assert result.compared == 6


def test_evals_find_a_moved_metric():
    result = compare_evals(_eval(), _eval(mig=0.0692))
    assert result.differences == [("results.mig", 0.0691, 0.0692)]


def _write_run(folder, name, log, evaluation):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.log.jsonl").write_text(log)
    (folder / f"{name}.eval.json").write_text(json.dumps(evaluation))


def test_cli_on_two_folders(tmp_path, capsys):
    _write_run(tmp_path / "old", "run_a", OLD_LOG, _eval())
    _write_run(tmp_path / "old", "run_b", OLD_LOG, _eval())
    _write_run(tmp_path / "new", "run_a", OLD_LOG, _eval(elbo=150.0))
    assert compare_runs.main([str(tmp_path / "old"), str(tmp_path / "new")]) == 0
    out = capsys.readouterr().out
    assert "run_a: log" in out and "new only: results.elbo" in out
    assert "1 runs compared, 0 with differing values" in out  # run_b is only in the old folder

    _write_run(tmp_path / "new", "run_b", OLD_LOG.replace("447.62", "447.6"), _eval())
    assert compare_runs.main([str(tmp_path / "old"), str(tmp_path / "new")]) == 1
    out = capsys.readouterr().out
    assert "run_b: log" in out and "DIFFER" in out and "447.62 -> 447.6" in out
    with pytest.raises(SystemExit, match="no run named run_c in both versions"):
        compare_runs.main([str(tmp_path / "old"), str(tmp_path / "new"), "--names", "run_c"])
    with pytest.raises(SystemExit, match="is not a folder"):
        compare_runs.main([str(tmp_path / "old"), str(tmp_path / "missing")])


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_cli_against_a_git_revision(tmp_path, monkeypatch, capsys):
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)
    git("init", "-q")
    _write_run(tmp_path / "results", "run_a", OLD_LOG, _eval())
    git("add", "results")
    git("commit", "-qm", "the committed run")
    monkeypatch.chdir(tmp_path)
    # retrained: a new clock, the same values
    _write_run(tmp_path / "results", "run_a", OLD_LOG.replace('"time": 1.0', '"time": 99.0'), _eval())
    assert compare_runs.main(["--rev", "HEAD", "results"]) == 0
    assert "run_a: log 11 values equal; eval 6 values equal" in capsys.readouterr().out
    _write_run(tmp_path / "results", "run_a", OLD_LOG, _eval(st_gap=6.2))
    assert compare_runs.main(["--rev", "HEAD", "results"]) == 1
    assert "results.st_gap: 6.13 -> 6.2" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="git ls-tree"):
        compare_runs.main(["--rev", "no-such-rev", "results"])


def test_machine_lines_are_not_compared_but_shown(tmp_path, capsys):
    first = {"kind": "machine", "step": 0, "time": 1.0, "cpu": "CPU A", "cores": 2}
    other = {"kind": "machine", "step": 0, "time": 5.0, "cpu": "CPU B", "cores": 1}
    old, new = _log(first) + OLD_LOG, _log(other) + OLD_LOG
    result = compare_logs(old, new)
    assert result.identical and result.compared == 4 + 4 + 3    # as without the machine lines
    assert result.machines == ([{"kind": "machine", "step": 0, "cpu": "CPU A", "cores": 2}],
                               [{"kind": "machine", "step": 0, "cpu": "CPU B", "cores": 1}])
    _write_run(tmp_path / "old", "run_a", old, _eval())
    _write_run(tmp_path / "new", "run_a", new, _eval())
    assert compare_runs.main([str(tmp_path / "old"), str(tmp_path / "new")]) == 0
    out = capsys.readouterr().out
    assert "machines: old CPU A (2 cores) from step 0, new CPU B (1 cores) from step 0" in out
    _write_run(tmp_path / "new", "run_a", OLD_LOG, _eval())
    compare_runs.main([str(tmp_path / "old"), str(tmp_path / "new")])
    assert "new not recorded" in capsys.readouterr().out
