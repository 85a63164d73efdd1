"""scripts/compare_runs.py: a retrained run against the committed one, from two folders or a git
revision, machine lines shown but not compared (analysis/reproduction.py)."""
import shutil
import subprocess

import pytest

from analysis.reproduction import compare_logs
from scripts import compare_runs
from tests.reproduction_fixtures import OLD_LOG, eval_json, log_text, write_run


def test_cli_on_two_folders(tmp_path, capsys):
    write_run(tmp_path / "old", "run_a", OLD_LOG, eval_json())
    write_run(tmp_path / "old", "run_b", OLD_LOG, eval_json())
    write_run(tmp_path / "new", "run_a", OLD_LOG, eval_json(elbo=150.0))
    assert compare_runs.main([str(tmp_path / "old"), str(tmp_path / "new")]) == 0
    out = capsys.readouterr().out
    assert "run_a: log" in out and "new only: results.elbo" in out
    assert "1 runs compared, 0 with differing values" in out  # run_b is only in the old folder

    write_run(tmp_path / "new", "run_b", OLD_LOG.replace("447.62", "447.6"), eval_json())
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
    write_run(tmp_path / "results", "run_a", OLD_LOG, eval_json())
    git("add", "results")
    git("commit", "-qm", "the committed run")
    monkeypatch.chdir(tmp_path)
    # retrained: a new clock, the same values
    write_run(tmp_path / "results", "run_a", OLD_LOG.replace('"time": 1.0', '"time": 99.0'), eval_json())
    assert compare_runs.main(["--rev", "HEAD", "results"]) == 0
    assert "run_a: log 11 values equal; eval 6 values equal" in capsys.readouterr().out
    write_run(tmp_path / "results", "run_a", OLD_LOG, eval_json(st_gap=6.2))
    assert compare_runs.main(["--rev", "HEAD", "results"]) == 1
    assert "results.st_gap: 6.13 -> 6.2" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="git ls-tree"):
        compare_runs.main(["--rev", "no-such-rev", "results"])


def test_machine_lines_are_not_compared_but_shown(tmp_path, capsys):
    first = {"kind": "machine", "step": 0, "time": 1.0, "cpu": "CPU A", "cores": 2}
    other = {"kind": "machine", "step": 0, "time": 5.0, "cpu": "CPU B", "cores": 1}
    old, new = log_text(first) + OLD_LOG, log_text(other) + OLD_LOG
    result = compare_logs(old, new)
    assert result.identical and result.compared == 4 + 4 + 3    # as without the machine lines
    assert result.machines == ([{"kind": "machine", "step": 0, "cpu": "CPU A", "cores": 2}],
                               [{"kind": "machine", "step": 0, "cpu": "CPU B", "cores": 1}])
    write_run(tmp_path / "old", "run_a", old, eval_json())
    write_run(tmp_path / "new", "run_a", new, eval_json())
    assert compare_runs.main([str(tmp_path / "old"), str(tmp_path / "new")]) == 0
    out = capsys.readouterr().out
    assert "machines: old CPU A (2 cores) from step 0, new CPU B (1 cores) from step 0" in out
    write_run(tmp_path / "new", "run_a", OLD_LOG, eval_json())
    compare_runs.main([str(tmp_path / "old"), str(tmp_path / "new")])
    assert "new not recorded" in capsys.readouterr().out
