"""scripts/sweep.py: expansion, status and skipping, config errors, submitit executors."""
import functools
import json
from pathlib import Path

import pytest

from checkpoints import checkpoint
from scripts import sweep
from sweeps import execute as sweep_execute
from sweeps import grid as sweep_grid
from sweeps import status as sweep_status

ROOT = Path(__file__).resolve().parent.parent


def sweep_values(**changes):
    values = {"datasets": ["dsprites_procedural"], "models": ["vae", "dvae", "factor_dvae"],
              "gammas": [10, 20], "seeds": [1, 2], "base": {"steps": 30, "batch_size": 8}}
    values.update(changes)
    return values


def test_expansion(tmp_path):
    runs = sweep_grid.expand(sweep_grid.parse_sweep(sweep_values()), tmp_path)
    # vae x 2 seeds, dvae x 2 seeds, factor_dvae x 2 gammas x 2 seeds
    assert len(runs) == 8
    names = [r.name for r in runs]
    assert names[:4] == ["dsprites_procedural_gauss_seed1", "dsprites_procedural_gauss_seed2",
                         "dsprites_procedural_seed1", "dsprites_procedural_seed2"]
    assert "dsprites_procedural_factor20.0_seed2" in names
    factor = [r for r in runs if r.config.tc]
    assert {r.config.gamma for r in factor} == {10.0, 20.0} and all(not r.config.gaussian for r in factor)
    assert all(r.config.steps == 30 and r.config.batch_size == 8 for r in runs)      # [base] applied
    assert all(r.checkpoint.parent == tmp_path for r in runs)
    assert runs[0].eval_json.name == "dsprites_procedural_gauss_seed1.eval.json"
    seeds = sweep_grid.parse_sweep(sweep_values(seeds={"start": 3, "stop": 5})).seeds
    assert seeds == (3, 4, 5)


def test_shipped_configs():
    paper = sweep_grid.load_sweep(ROOT / "configs" / "sweep_paper.toml")
    runs = sweep_grid.expand(paper, "results/paper")
    # The six data sets of the authors' README; noisy / Scream dSprites are not the paper's.
    assert paper.datasets == ("dsprites_full", "color_dsprites", "smallnorb", "cars3d",
                              "shapes3d", "mpi3d_toy")
    assert paper.gammas == (10.0, 20.0, 30.0, 40.0, 50.0, 100.0)
    assert len(runs) == 6 * (2 + 2 * 6) * 10
    assert all(r.config.steps == 300_000 for r in runs)
    smoke = sweep_grid.load_sweep("sweep_smoke.toml")            # bare name: looked up in configs/
    assert smoke.datasets == ("dsprites_procedural",) and smoke.base["steps"] <= 1000


@pytest.mark.parametrize("changes, message", [
    ({"dataset": ["x"]}, "unknown key(s) ['dataset']"),
    ({"datasets": ["dsprites_full", "mnist"]}, "unknown data set(s) ['mnist']"),
    ({"models": ["beta_vae"]}, "unknown model(s) ['beta_vae']"),
    ({"base": {"step": 10}}, "unknown key(s) 'step'"),
    ({"base": {"steps": "ten"}}, "steps must be int"),
    ({"base": {"seed": 3}}, "may not set ['seed']"),
    ({"eval": {"fastest": True}}, "unknown [eval] key(s) ['fastest']"),
    ({"gammas": []}, "gammas must be a non-empty list"),
])
def test_config_errors(changes, message):
    with pytest.raises(sweep_grid.SweepError) as error:
        sweep_grid.parse_sweep(sweep_values(**changes))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_cli_error_is_one_line_and_nothing_runs(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('datasets = ["dsprites_procedural", "nope"]\nmodels = ["dvae"]\nseeds = [1]\n')
    assert sweep.main([str(bad), "--results", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "'nope'" in err
    assert not (tmp_path / "out").exists()
    assert sweep.main([str(tmp_path / "missing.toml"), "--results", str(tmp_path)]) == 2


@functools.lru_cache(maxsize=None)
def _initial_state(config):
    import jax.numpy as jnp

    from models import build_model
    from training.step import init_train_state
    return init_train_state(build_model(config, 1), jnp.zeros((1, 64, 64, 1), jnp.float32))


def fake_checkpoint(run, step):
    """A real (freshly initialised) checkpoint of the run's model, stored as if at `step`."""
    from training.resume import checkpoint_payload
    payload = checkpoint_payload(run.config, _initial_state(run.config.replace(seed=0, save_path="")))
    checkpoint.save_checkpoint(run.checkpoint, {**payload, "step": step})


def fake_eval_json(run, step):
    """The fields evaluate_checkpoint records about how it evaluated, for the paper's protocol."""
    from evaluation.protocol import METRIC_CHOICES
    run.eval_json.write_text(json.dumps({"step": step, "protocol": "paper", "eval_seed": 42, "results": {},
                                         "metrics": list(METRIC_CHOICES),
                                         "settings": {"st_gap": {"num_batches": 100, "batch_size": 64}}}))


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


def test_cli_submitit_probe(tmp_path, capsys, monkeypatch):
    config = tmp_path / "s.toml"
    config.write_text('datasets = ["dsprites_procedural"]\nmodels = ["dvae"]\nseeds = [1, 2]\n')
    assert sweep.main([str(config), "--results", str(tmp_path), "--executor", "debug", "--probe"]) == 0
    out = capsys.readouterr().out
    assert "submitted 2 runs as array job" in out and '"finished": 2' in out


def test_eval_json_counts_only_for_the_protocol_it_used(tmp_path, capsys):
    """A real eval JSON from `fast` settings is not 'done' for a sweep asking for the paper's protocol."""
    from evaluation.evaluate import EvalOptions, evaluate_checkpoint
    from tests.eval_fixtures import make_checkpoint, small_data

    data = small_data(tmp_path / "data")
    fast_mig = {"fast": True, "metrics": "mig"}
    config = tmp_path / "s.toml"
    config.write_text(
        'datasets = ["dsprites_procedural"]\nmodels = ["dvae"]\nseeds = [1]\n[base]\nsteps = 10\n'
        '[eval]\nfast = true\nmetrics = "mig"\n'
    )
    (run,) = sweep_grid.expand(sweep_grid.load_sweep(config), tmp_path)
    make_checkpoint(tmp_path, data, seed=1)  # an untrained model at run.checkpoint ...
    checkpoint.save_checkpoint(
        run.checkpoint, {**checkpoint.load_checkpoint(run.checkpoint), "step": 10}
    )  # ... finished
    evaluate_checkpoint(
        run.checkpoint, EvalOptions(metrics=["mig"], fast=True, progress=False), data=data, log=lambda *_: None
    )
    assert json.loads(run.eval_json.read_text())["protocol"] == "custom"

    def state(eval_options):
        reasons = {}
        return sweep_status.status(sweep_grid.Run(run.config, eval_options), reasons), reasons.get(run.name, "")

    assert state(fast_mig) == ("done", "")
    got, why = state({})  # the paper's protocol, all metrics
    assert got == "eval" and "'custom' protocol" in why and "'paper'" in why
    got, why = state({**fast_mig, "settings": {"mig": {"num_train": 500}}})
    assert got == "eval" and "mig settings" in why and "500" in why
    got, why = state({"fast": True, "metrics": "mig,sap"})
    assert got == "eval" and "lacks sap" in why
    got, why = state({**fast_mig, "seed": 7})
    assert got == "eval" and "eval seed 42" in why
    # Speed-only keywords change no number: still done.
    assert state({**fast_mig, "settings": {"mig": {"chunk_size": 100}}})[0] == "done"
    # A checkpoint trained further than the JSON's step needs evaluating again (resumed with
    # more steps: a step past its config's steps is no checkpoint a run writes).
    payload = checkpoint.load_checkpoint(run.checkpoint)
    checkpoint.save_checkpoint(run.checkpoint, {**payload, "step": 11, "config": {**payload["config"], "steps": 12}})
    got, why = state(fast_mig)
    assert got == "eval" and "evaluated step 10" in why and "at step 11" in why

    # The same sweep file without `fast`: the paper's protocol, so the run is listed for eval.
    checkpoint.save_checkpoint(run.checkpoint, payload)
    assert sweep.main([str(config), "--results", str(tmp_path), "--dry_run"]) == 0
    assert "0 eval, 1 done" in capsys.readouterr().out
    config.write_text(config.read_text().replace("fast = true\n", ""))
    assert sweep.main([str(config), "--results", str(tmp_path), "--dry_run"]) == 0
    assert "1 eval, 0 done" in capsys.readouterr().out


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


@pytest.mark.slurm  # submitit asks for srun even on a dry run
def test_dry_run_lists_the_array_and_its_sbatch_options(tmp_path, capsys):
    """The #SBATCH lines submitit would write, from the command-line flags (a dry run, but
    submitit looks for srun when the executor is made, so it needs the cluster's tools)."""
    config = tmp_path / "s.toml"
    config.write_text('datasets = ["dsprites_procedural"]\nmodels = ["vae", "dvae"]\nseeds = [1, 2]\n')
    runs = sweep_grid.expand(sweep_grid.load_sweep(config), tmp_path)
    fake_checkpoint(runs[0], runs[0].config.steps)
    fake_eval_json(runs[0], runs[0].config.steps)  # done: not submitted
    assert (
        sweep.main(
            [
                str(config),
                "--results",
                str(tmp_path),
                "--dry_run",
                "--executor",
                "slurm",
                "--slurm_partition",
                "gpu",
                "--timeout_min",
                "90",
                "--cpus_per_task",
                "3",
                "--mem_gb",
                "5",
                "--gpus_per_node",
                "2",
                "--array_parallelism",
                "2",
                "--signal_delay_s",
                "300",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "would submit 3 runs as one array job" in out
    assert (
        "  0: dsprites_procedural_gauss_seed2\n  1: dsprites_procedural_seed1\n  2: dsprites_procedural_seed2\n" in out
    )
    lines = [line.strip() for line in out.split("sbatch options:\n")[1].splitlines()]
    for option in (
        "--array=0-2%2",
        "--partition=gpu",
        "--time=90",
        "--cpus-per-task=3",
        "--mem=5GB",
        "--gpus-per-node=2",
        "--signal=USR2@300",
        f"--output={tmp_path}/logs/%A_%a/%A_%a_0_log.out",
    ):
        assert f"#SBATCH {option}" in lines, option
    assert not list(tmp_path.glob("logs"))  # nothing submitted, nothing written
    sweep.main([str(config), "--results", str(tmp_path), "--dry_run", "--executor", "slurm", "--gpus_per_node", "0"])
    assert "gpus" not in capsys.readouterr().out


def test_a_committed_result_without_its_checkpoint_is_done(tmp_path):
    """A fresh checkout has the committed eval JSON but not the (ignored) checkpoint."""
    config = tmp_path / "s.toml"
    config.write_text('datasets = ["dsprites_procedural"]\nmodels = ["dvae"]\nseeds = [1, 2, 3]\n[base]\nsteps = 30\n')
    runs = sweep_grid.expand(sweep_grid.load_sweep(config), tmp_path)
    fake_eval_json(runs[0], 30)  # the finished run's result, no checkpoint
    fake_eval_json(runs[1], 10)  # a result of another step: does not count
    assert [sweep_status.status(r) for r in runs] == ["done", "train", "train"]
