"""Running a sweep (sweeps/execute.py): done runs skipped and the others trained, resumed or
evaluated as their status says, failures reported, submitit array jobs, a result of another
protocol evaluated again, an unreadable checkpoint moved aside."""
import json
from pathlib import Path

import pytest

from scripts import sweep
from sweeps import execute as sweep_execute
from sweeps import grid as sweep_grid
from sweeps import status as sweep_status
from tests import ROOT
from tests.sweep_fixtures import fake_checkpoint, fake_eval_json, sweep_values


def test_status_skipping_and_dry_run(tmp_path, capsys, monkeypatch):
    config = tmp_path / "s.toml"
    config.write_text('datasets = ["dsprites_procedural"]\nmodels = ["dvae"]\nseeds = [1, 2, 3, 4]\n'
                      '[base]\nsteps = 30\n')
    runs = sweep_grid.expand(sweep_grid.load_sweep(config), tmp_path)
    fake_checkpoint(runs[0], 30)
    fake_eval_json(runs[0], 30)                     # finished and evaluated
    fake_checkpoint(runs[1], 30)                    # finished, not evaluated
    fake_checkpoint(runs[2], 10)                    # interrupted
    assert [sweep_status.status(r) for r in runs] == ["done", "eval", "resume", "train"]

    assert sweep.main([str(config), "--results", str(tmp_path), "--dry_run"]) == 0
    out = capsys.readouterr().out
    assert "4 runs" in out and "1 train, 1 resume, 1 eval, 1 done" in out
    assert "done    dsprites_procedural_seed1" in out

    # Executing: the done run is skipped without training; the others call train/evaluate as needed.
    calls = []
    monkeypatch.setattr("sweeps.execute.train", lambda config, **kw: calls.append(("train", config.seed, kw["resume"])))
    monkeypatch.setattr(
        sweep_execute, "evaluate", lambda path, options, data=None, log=print: calls.append(("eval", Path(path).name))
    )
    outcomes = sweep_execute.run_local(runs, data="no data needed", log=lambda *_: None)
    assert [o["status"] for o in outcomes] == ["skipped", "eval", "resume", "train"]
    assert calls == [
        ("eval", "dsprites_procedural_seed2.pkl"),
        ("train", 3, runs[2].checkpoint),
        ("eval", "dsprites_procedural_seed3.pkl"),
        ("train", 4, None),
        ("eval", "dsprites_procedural_seed4.pkl"),
    ]


def test_failures_are_reported_not_hidden(tmp_path, monkeypatch):
    runs = sweep_grid.expand(sweep_grid.parse_sweep(sweep_values(models=["dvae"])), tmp_path)

    def boom(config, **kw):
        raise RuntimeError("out of memory")

    monkeypatch.setattr("sweeps.execute.train", boom)
    lines = []
    outcomes = sweep_execute.run_local(runs, data="no data needed", log=lines.append)
    assert [o["status"] for o in outcomes] == ["failed", "failed"]
    assert any("FAILED: RuntimeError: out of memory" in line for line in lines)


@pytest.mark.parametrize("cluster", ["debug", "local"])
def test_submitit_array_job(tmp_path, monkeypatch, cluster):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the local executor starts fresh Pythons
    runs = sweep_grid.expand(
        sweep_grid.parse_sweep(sweep_values(models=["dvae", "factor_dvae"], gammas=[30])), tmp_path
    )
    jobs, results = sweep_execute.submit(
        runs, tmp_path / "logs", cluster=cluster, function=sweep_execute.probe, wait=True, timeout_min=5
    )
    assert [r["run"] for r in results] == [r.name for r in runs]
    assert all(r["status"] == "probe" for r in results)
    if cluster == "local":
        # submitit's local executor runs map_array's jobs as one process each (on Slurm they are
        # one array job, ids A_0, A_1, ...); logs per run, each in its own folder.
        folders = {job.paths.folder for job in jobs}
        assert len(folders) == len(jobs) and all(f.parent == tmp_path / "logs" for f in folders)
        assert all(Path(job.paths.stdout).is_file() for job in jobs)


def test_eval_mismatch_in_dry_run_and_execute(tmp_path, capsys, monkeypatch):
    config = tmp_path / "s.toml"
    config.write_text('datasets = ["dsprites_procedural"]\nmodels = ["dvae"]\nseeds = [1]\n[base]\nsteps = 30\n')
    (run,) = sweep_grid.expand(sweep_grid.load_sweep(config), tmp_path)
    fake_checkpoint(run, 30)
    run.eval_json.write_text(
        json.dumps(
            {
                "step": 30,
                "protocol": "custom",
                "metrics": ["mig"],
                "eval_seed": 42,
                "settings": {"mig": {"num_train": 1000}},
            }
        )
    )
    assert sweep.main([str(config), "--results", str(tmp_path), "--dry_run"]) == 0
    out = capsys.readouterr().out
    assert "0 train, 0 resume, 1 eval, 0 done" in out and "used the 'custom' protocol" in out
    calls, lines = [], []
    monkeypatch.setattr(sweep_execute, "evaluate", lambda path, options, data=None, log=print: calls.append(options))
    sweep_execute.run_local([run], data="no data needed", log=lines.append)
    assert calls == [{}] and any("evaluating again: " in line and "'custom'" in line for line in lines)


def test_unreadable_checkpoint_is_moved_aside(tmp_path, capsys, monkeypatch):
    config = tmp_path / "s.toml"
    config.write_text('datasets = ["dsprites_procedural"]\nmodels = ["dvae"]\nseeds = [1]\n[base]\nsteps = 30\n')
    (run,) = sweep_grid.expand(sweep_grid.load_sweep(config), tmp_path)
    fake_checkpoint(run, 20)
    damaged = run.checkpoint.read_bytes()[:-40]  # a truncated pickle
    run.checkpoint.write_bytes(damaged)
    assert sweep_status.status(run) == "unreadable"
    assert sweep.main([str(config), "--results", str(tmp_path), "--dry_run"]) == 0
    out = capsys.readouterr().out
    assert "1 unreadable" in out and "cannot be read as a checkpoint" in out
    assert run.checkpoint.read_bytes() == damaged  # --dry_run moves nothing

    calls, lines = [], []
    monkeypatch.setattr("sweeps.execute.train", lambda config, **kw: calls.append(kw["resume"]))
    monkeypatch.setattr(sweep_execute, "evaluate", lambda *a, **kw: None)
    (outcome,) = sweep_execute.run_local([run], data="no data needed", log=lines.append)
    assert outcome["status"] == "train" and calls == [None]  # trained from step 0, not over the file
    aside = list(tmp_path.glob(run.checkpoint.name + ".unreadable-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == damaged and not run.checkpoint.exists()
    assert any("moved it to " + aside[0].name in line for line in lines)
