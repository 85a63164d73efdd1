"""scripts/sweep.py's command line: a one-line error with nothing run, the submitit probe, and the
array job and #SBATCH options a --dry_run lists."""
import pytest

from scripts import sweep
from sweeps import grid as sweep_grid
from tests.sweep_fixtures import fake_checkpoint, fake_eval_json


def test_cli_error_is_one_line_and_nothing_runs(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('datasets = ["dsprites_procedural", "nope"]\nmodels = ["dvae"]\nseeds = [1]\n')
    assert sweep.main([str(bad), "--results", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "'nope'" in err
    assert not (tmp_path / "out").exists()
    assert sweep.main([str(tmp_path / "missing.toml"), "--results", str(tmp_path)]) == 2
    capsys.readouterr()
    # A stranger's text in the refusal (here the config's own name, with a newline and an
    # escape) stays one line.
    named = tmp_path / "bad\nconfig\x1b[2J.toml"
    named.write_text(bad.read_text())
    assert sweep.main([str(named), "--results", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "\x1b" not in err


def test_cli_submitit_probe(tmp_path, capsys, monkeypatch):
    config = tmp_path / "s.toml"
    config.write_text('datasets = ["dsprites_procedural"]\nmodels = ["dvae"]\nseeds = [1, 2]\n')
    assert sweep.main([str(config), "--results", str(tmp_path), "--executor", "debug", "--probe"]) == 0
    out = capsys.readouterr().out
    assert "submitted 2 runs as array job" in out and '"finished": 2' in out


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


def test_run_selects_one_run_by_its_exact_name(tmp_path, capsys):
    """--run NAME runs exactly that run ("dsprites_procedural_seed1" is also a substring of no
    other name here, but `--only _seed1` would take both models); an unknown name is one line
    listing the config's runs, and nothing runs."""
    config = tmp_path / "s.toml"
    config.write_text('datasets = ["dsprites_procedural"]\nmodels = ["vae", "dvae"]\nseeds = [1, 2]\n')
    assert sweep.main([str(config), "--results", str(tmp_path), "--dry_run", "--only", "_seed1"]) == 0
    assert capsys.readouterr().out.startswith("2 runs in ")
    assert sweep.main([str(config), "--results", str(tmp_path), "--dry_run", "--run", "dsprites_procedural_seed1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 runs in ") and "dvae seed 1" in out and "vae seed 1" not in out.replace("dvae", "")
    assert sweep.main([str(config), "--results", str(tmp_path / "out"), "--run", "dsprites_procedural_seed3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no run named 'dsprites_procedural_seed3'" in err
    assert "dsprites_procedural_gauss_seed2" in err and not (tmp_path / "out").exists()
