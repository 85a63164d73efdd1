"""scripts/run_study.sh runs a study one run at a time, in its balanced order, and commits each
run's files as it lands under its own name, never another run's partial log (after a restart an
interrupted run's log is on disk beside finished ones), and keeps each finished run's UDR inputs
once."""
import os
import shutil
import subprocess
import sys

import pytest

from tests import ROOT

# Stands in for scripts/sweep.py: notes each --run; a run of gamma 30 trains to step 2 (the
# first call), writes its checkpoint, eval JSON and codes record, and is finished after that.
FAKE_SWEEP = """
import sys
from pathlib import Path
args = sys.argv[1:]
results, name = Path(args[args.index("--results") + 1]), args[args.index("--run") + 1]
with open(results.parent / "sweep_calls.txt", "a") as f:
    f.write(name + "\\n")
log = results / f"{name}.log.jsonl"
if "_factor30.0_" in name and '"step": 2' not in (log.read_text() if log.exists() else ""):
    with open(log, "a") as f:
        f.write('{"step": 2}\\n')
    for kind, text in (("pkl", "checkpoint"), ("eval.json", "{}"), ("codes.npz", "codes")):
        (results / f"{name}.{kind}").write_text(text)
"""
# Stands in for scripts/udr.py --record: writes X.udr_codes.npz and notes the call.
FAKE_UDR = """
import sys
from pathlib import Path
assert sys.argv[1] == "--record", sys.argv
checkpoint = Path(sys.argv[2])
checkpoint.with_name(checkpoint.name.removesuffix(".pkl") + ".udr_codes.npz").write_text("codes")
with open(checkpoint.parent.parent / "udr_calls.txt", "a") as f:
    f.write(checkpoint.name + "\\n")
"""
IGNORED = "*.pkl\nudr_calls.txt\nsweep_calls.txt\n"


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, env=ENV, check=True, capture_output=True, text=True).stdout


# A user's own git settings (signing, hooks) stay out of the scratch repository.
ENV = {**os.environ, "PYTHON": sys.executable, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
       "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t", "GIT_CONFIG_GLOBAL": os.devnull,
       "GIT_CONFIG_NOSYSTEM": "1"}


def scratch_study(tmp_path, config: str):
    """A scratch repository with run_study.sh, stand-ins for sweep.py and udr.py, `config` (a
    real sweep config: run_study.sh names its runs with sweeps/grid.py) as study.toml and an
    empty results folder; returns (repo, results)."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "run_study.sh", repo / "scripts")
    (repo / "scripts" / "sweep.py").write_text(FAKE_SWEEP)
    (repo / "scripts" / "udr.py").write_text(FAKE_UDR)
    (repo / ".gitignore").write_text(IGNORED)
    (repo / "study.toml").write_text('datasets = ["dsprites_procedural"]\nresults = "results"\n' + config)
    (repo / "results").mkdir()
    return repo, repo / "results"


def first_commit(repo):
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "start")


def run_study(repo):
    subprocess.run(["bash", "scripts/run_study.sh", "study.toml"], cwd=repo, env=ENV, check=True,
                   capture_output=True, text=True, timeout=120)
    log = git(repo, "log", "--format=%x00%s", "--name-only").split("\0")[1:]
    return [(entry.splitlines()[0], sorted(f for f in entry.splitlines()[1:] if f)) for entry in log]


def test_each_run_commits_only_its_own_files_as_it_lands(tmp_path):
    repo, results = scratch_study(tmp_path, 'seeds = [1]\ngammas = [10, 30]\nmodels = ["factor_vae", "factor_dvae"]\n')
    for name in ("dsprites_procedural_gauss_factor10.0_seed1", "dsprites_procedural_factor10.0_seed1"):
        (results / f"{name}.log.jsonl").write_text('{"step": 1}\n{"step": 2}\n')
        (results / f"{name}.eval.json").write_text("{}\n")
        (results / f"{name}.pkl").write_text("checkpoint")          # recorded already: not again
        (results / f"{name}.udr_codes.npz").write_text("codes")
    (results / "dsprites_procedural_factor30.0_seed1.log.jsonl").write_text('{"step": 1}\n')
    first_commit(repo)
    # The interrupted gamma-30 run had written one more step before the restart.
    with open(results / "dsprites_procedural_factor30.0_seed1.log.jsonl", "a") as f:
        f.write('{"step": 1.5}\n')

    commits = run_study(repo)

    # Gamma by gamma (both models of one gamma, then the next), one run per call, three passes.
    order = ["dsprites_procedural_gauss_factor10.0_seed1", "dsprites_procedural_factor10.0_seed1",
             "dsprites_procedural_gauss_factor30.0_seed1", "dsprites_procedural_factor30.0_seed1"]
    assert (repo / "sweep_calls.txt").read_text().split() == order * 3
    assert commits[-1][0] == "start" and len(commits) == 3, commits
    for (message, files), name in zip(commits[:2], order[:1:-1]):   # newest first
        assert message == f"study (study): {name} (seed 1, pass 1)"
        assert files == [f"results/{name}.{kind}" for kind in ("codes.npz", "eval.json", "log.jsonl", "udr_codes.npz")]
    assert (repo / "udr_calls.txt").read_text().split() == [f"{name}.pkl" for name in order[2:]]
    assert git(repo, "status", "--porcelain") == ""


def test_a_config_with_models_without_gamma_goes_seed_by_seed_in_the_sweeps_order(tmp_path):
    repo, results = scratch_study(tmp_path, 'seeds = [1, 2]\ngammas = [30]\nmodels = ["dvae", "factor_dvae"]\n')
    first_commit(repo)

    commits = run_study(repo)

    order = ["dsprites_procedural_seed1", "dsprites_procedural_factor30.0_seed1",
             "dsprites_procedural_seed2", "dsprites_procedural_factor30.0_seed2"]
    assert (repo / "sweep_calls.txt").read_text().split() == order * 3
    # Only the gamma-30 runs write files (FAKE_SWEEP): one commit each, as each landed.
    assert [message for message, _ in commits] == [
        "study (study): dsprites_procedural_factor30.0_seed2 (seed 2, pass 1)",
        "study (study): dsprites_procedural_factor30.0_seed1 (seed 1, pass 1)", "start"]
    assert git(repo, "status", "--porcelain") == ""


def test_a_broken_config_stops_before_any_run_with_one_line(tmp_path):
    repo, _ = scratch_study(tmp_path, 'seeds = [1]\nmodels = ["dvae", "nope"]\n')
    first_commit(repo)
    done = subprocess.run(["bash", "scripts/run_study.sh", "study.toml"], cwd=repo, env=ENV, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "unknown model(s) ['nope']" in done.stderr
    assert not (repo / "sweep_calls.txt").exists()


def test_every_study_keeps_its_results_committable():
    """The files run_study.sh commits must not be ignored in any study's results folder (the
    checkpoints must be): a study's eval JSON once was, and would have been lost with its machine."""
    import tomllib

    if subprocess.run(["git", "rev-parse"], cwd=ROOT, capture_output=True).returncode != 0:
        pytest.skip("not a git checkout")
    studies = [tomllib.loads(p.read_text()).get("results") for p in sorted((ROOT / "configs").glob("study*.toml"))]
    assert "docs/study_budget" in studies
    for results in filter(None, studies):
        for kind in ("eval.json", "log.jsonl", "codes.npz", "udr_codes.npz", "udr.json"):
            ignored = subprocess.run(["git", "check-ignore", "-q", f"{results}/x_seed1.{kind}"], cwd=ROOT)
            assert ignored.returncode == 1, f"{results}/*.{kind} is ignored by git"
        assert subprocess.run(["git", "check-ignore", "-q", f"{results}/x_seed1.pkl"], cwd=ROOT).returncode == 0
