"""End to end (slow): the documented command sequence of docs/reproduce.md on the built-in data
set with tiny step counts: sweep -> eval -> tables -> figures, each as a fresh process."""
import json
import os
import subprocess
import sys

import pytest

from tests import ROOT

SWEEP = """
datasets = ["dsprites_procedural"]
models = ["vae", "dvae"]
seeds = [1, 2]
[base]
steps = 20
batch_size = 16
log_every = 10
eval_every = 0
save_every = 0
steps_per_dispatch = 10
[eval]
fast = true
settings = {st_gap = {num_batches = 2}}
"""


def run(*args, env):
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, f"{args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.mark.slow
def test_documented_sequence(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    config = tmp_path / "sweep_e2e.toml"
    config.write_text(SWEEP)
    results = tmp_path / "results"
    assert "4 train" in run("scripts/sweep.py", str(config), "--results", str(results), "--dry_run", env=env)
    run("scripts/sweep.py", str(config), "--results", str(results), "--train_only", env=env)
    assert len(list(results.glob("*.pkl"))) == 4
    run("eval.py", "--save_file", str(results / "*.pkl"), "--fast", "--no_progress",
        "--settings", json.dumps({"st_gap": {"num_batches": 2}}), env=env)
    assert len(list(results.glob("*.eval.json"))) == 4
    assert "0 train, 0 resume, 0 eval, 4 done" in run("scripts/sweep.py", str(config), "--results", str(results),
                                                      "--dry_run", env=env)
    tables = tmp_path / "tables"
    run("scripts/tables.py", str(results), "--format", "md,csv,tex", "--out", str(tables), "--plots", env=env)
    md = (tables / "tables.md").read_text()
    assert "VAE (n=2)" in md and "D-VAE (n=2)" in md and "Spearman" in md
    assert (tables / "boxplots_dsprites_procedural.png").is_file() and (
        tables / "gap_dsprites_procedural.pdf"
    ).is_file()
    figures = tmp_path / "figures"
    run(
        "scripts/visualize.py",
        "--save_file",
        str(results / "dsprites_procedural_seed1.pkl"),
        "--compare",
        str(results / "dsprites_procedural_gauss_seed1.pkl"),
        "--out",
        str(figures),
        "--num_points",
        "500",
        env=env,
    )
    assert len(list(figures.glob("*.png"))) == 3 and len(list(figures.glob("*.pdf"))) == 3
