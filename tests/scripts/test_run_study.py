"""scripts/run_study.sh commits each group's files under that group's message, never another
run's partial log (after a restart an interrupted run's log is on disk beside finished ones),
and keeps each finished run's UDR inputs once."""
import os
import shutil
import subprocess
import sys

import pytest

from tests import ROOT

# Stands in for scripts/sweep.py: the gamma-10 group is finished; the gamma-30 group's runs
# train to step 2 (the first call), write their checkpoint and eval JSON, and are finished after that.
FAKE_SWEEP = """
import sys
from pathlib import Path
args = sys.argv[1:]
results, only = Path(args[args.index("--results") + 1]), args[args.index("--only") + 1]
if only == "_factor30.0_seed1":
    for model in ("", "_gauss"):
        log = results / f"dsprites_procedural{model}{only}.log.jsonl"
        if '"step": 2' not in (log.read_text() if log.exists() else ""):
            with open(log, "a") as f:
                f.write('{"step": 2}\\n')
            (results / f"dsprites_procedural{model}{only}.pkl").write_text("checkpoint")
            (results / f"dsprites_procedural{model}{only}.eval.json").write_text("{}")
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


def git(repo, *args, env=None):
    return subprocess.run(["git", *args], cwd=repo, env=ENV, check=True, capture_output=True, text=True).stdout


# A user's own git settings (signing, hooks) stay out of the scratch repository.
ENV = {**os.environ, "PYTHON": sys.executable, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
       "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t", "GIT_CONFIG_GLOBAL": os.devnull,
       "GIT_CONFIG_NOSYSTEM": "1"}


def scratch_study(tmp_path, sweep: str, config: str, ignored: str):
    """A scratch repository with run_study.sh, stand-ins for sweep.py and udr.py, `config` as
    study.toml and an empty results folder; returns (repo, results)."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "run_study.sh", repo / "scripts")
    (repo / "scripts" / "sweep.py").write_text(sweep)
    (repo / "scripts" / "udr.py").write_text(FAKE_UDR)
    (repo / ".gitignore").write_text(ignored)
    (repo / "study.toml").write_text(config)
    (repo / "results").mkdir()
    return repo, repo / "results"


def first_commit(repo):
    git(repo, "init", "-q", env=ENV)
    git(repo, "add", ".", env=ENV)
    git(repo, "commit", "-q", "-m", "start", env=ENV)


def test_each_group_commits_only_its_own_runs(tmp_path):
    repo, results = scratch_study(tmp_path, FAKE_SWEEP, 'results = "results"\nseeds = [1]\ngammas = [10, 30]\n',
                                  "*.pkl\nudr_calls.txt\n")
    for name in ("dsprites_procedural_factor10.0_seed1", "dsprites_procedural_gauss_factor10.0_seed1"):
        (results / f"{name}.log.jsonl").write_text('{"step": 1}\n{"step": 2}\n')
        (results / f"{name}.eval.json").write_text("{}\n")
        (results / f"{name}.pkl").write_text("checkpoint")          # recorded already: not again
        (results / f"{name}.udr_codes.npz").write_text("codes")
    (results / "dsprites_procedural_factor30.0_seed1.log.jsonl").write_text('{"step": 1}\n')
    first_commit(repo)
    # The interrupted gamma-30 run had written one more step before the restart.
    with open(results / "dsprites_procedural_factor30.0_seed1.log.jsonl", "a") as f:
        f.write('{"step": 1.5}\n')

    subprocess.run(["bash", "scripts/run_study.sh", "study.toml"], cwd=repo, env=ENV, check=True,
                   capture_output=True, text=True, timeout=120)

    log = git(repo, "log", "--format=%x00%s", "--name-only").split("\0")[1:]
    commits = [(entry.splitlines()[0], sorted(f for f in entry.splitlines()[1:] if f)) for entry in log]
    assert commits[-1][0] == "start" and len(commits) == 2, commits
    message, files = commits[0]
    assert "seed 1 _factor30.0, pass 1" in message
    assert files == [f"results/dsprites_procedural{model}_factor30.0_seed1.{kind}"
                     for model in ("", "_gauss") for kind in ("eval.json", "log.jsonl", "udr_codes.npz")]
    assert (repo / "udr_calls.txt").read_text().split() == ["dsprites_procedural_factor30.0_seed1.pkl",
                                                            "dsprites_procedural_gauss_factor30.0_seed1.pkl"]
    assert git(repo, "status", "--porcelain") == ""


# Stands in for scripts/sweep.py on a config with models without a gamma: notes each --only and
# finishes both runs of that seed (the D-VAE and FactorDVAE gamma 10), codes record included.
FAKE_SEED_SWEEP = """
import sys
from pathlib import Path
args = sys.argv[1:]
results, only = Path(args[args.index("--results") + 1]), args[args.index("--only") + 1]
with open(results.parent / "sweep_calls.txt", "a") as f:
    f.write(only + "\\n")
for name in (f"dsprites_procedural{only}", f"dsprites_procedural_factor10.0{only}"):
    for kind, text in (("log.jsonl", '{"step": 2}\\n'), ("pkl", "checkpoint"), ("eval.json", "{}"),
                       ("codes.npz", "codes")):
        (results / f"{name}.{kind}").write_text(text)
"""


def test_a_config_with_models_without_gamma_runs_whole_seeds_and_commits_codes_records(tmp_path):
    repo, _ = scratch_study(tmp_path, FAKE_SEED_SWEEP, 'results = "results"\nseeds = [1, 2]\ngammas = [10]\n'
                            'models = ["dvae", "factor_dvae"]\n', "*.pkl\nudr_calls.txt\nsweep_calls.txt\n")
    first_commit(repo)

    subprocess.run(["bash", "scripts/run_study.sh", "study.toml"], cwd=repo, env=ENV, check=True,
                   capture_output=True, text=True, timeout=120)

    # Three passes over two seeds, each seed at once (a "_factor10.0" fragment would miss the D-VAE).
    assert (repo / "sweep_calls.txt").read_text().split() == ["_seed1", "_seed2"] * 3
    log = git(repo, "log", "--format=%x00%s", "--name-only").split("\0")[1:]
    commits = [(entry.splitlines()[0], sorted(f for f in entry.splitlines()[1:] if f)) for entry in log]
    assert [message.split(" (")[-1] for message, _ in commits[:2]] == ["seed 2, pass 1)", "seed 1, pass 1)"]
    for (_, files), seed in zip(commits[:2], (2, 1)):
        assert files == [f"results/dsprites_procedural{model}_seed{seed}.{kind}" for model in ("_factor10.0", "")
                         for kind in ("codes.npz", "eval.json", "log.jsonl", "udr_codes.npz")]
    assert len(commits) == 3 and git(repo, "status", "--porcelain") == ""


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
