"""scripts/sweep.py on a real Slurm cluster (scripts/local_slurm.sh up; CI starts one).

The smoke sweep's runs (vae and dvae, seeds 1 and 2 on dsprites_procedural) with a tiny step
count, trained and evaluated as one array job, each compared bit for bit with the same run of
the local executor; a run preempted by Slurm's signal, requeued by submitit and resumed; a run
that fails beside one that finishes; and the submitted options against --dry_run's list.
Each job sees the machine's CPUs (task/none), so results are expected to be bitwise equal.
"""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from checkpoints import checkpoint
from tests import ROOT

# Each job starts a fresh Python that imports JAX, loads the data set and compiles: minutes in
# all, so these run in CI's second step (`pytest -m slow`, .ci/run) with LDDR_REQUIRE_SLURM=1,
# keeping the README's test command short.
pytestmark = [pytest.mark.slurm, pytest.mark.slow]

STEPS, SAVE_EVERY = 30, 10
SWEEP = """
datasets = {datasets}
models = {models}
seeds = {seeds}
[base]
steps = {steps}
batch_size = 16
log_every = {save_every}
save_every = {save_every}
eval_every = 0
steps_per_dispatch = {save_every}
[eval]
fast = true
metrics = "mig,st_gap"
settings = {{st_gap = {{num_batches = 2}}}}
"""
# 2 CPUs (the CI machine's), memory below the local node's 8 GB, no GPU; runs one at a time.
SLURM = ["--executor", "slurm", "--gpus_per_node", "0", "--cpus_per_task", "2", "--mem_gb", "4",
         "--timeout_min", "20", "--array_parallelism", "2"]


def sweep_file(folder, datasets=("dsprites_procedural",), models=("vae", "dvae"), seeds=(1, 2),
               steps=STEPS) -> Path:
    """The smoke config's grid (configs/sweep_smoke.toml) with a tiny step count."""
    path = Path(folder) / "sweep.toml"
    path.write_text(SWEEP.format(datasets=json.dumps(list(datasets)), models=json.dumps(list(models)),
                                 seeds=json.dumps(list(seeds)), steps=steps, save_every=SAVE_EVERY))
    return path


def environment() -> dict:
    from tests.slurm_cluster import find_cluster
    env = {**os.environ, **find_cluster()[0], "PYTHONPATH": str(ROOT)}
    env.pop("DISENTANGLEMENT_LIB_DATA", None)  # dsprites_full then fails at once (the failing run)
    return env


def sweep_cli(*args, expect=0, timeout=1200):
    result = subprocess.run([sys.executable, "scripts/sweep.py", *map(str, args)], cwd=ROOT, env=environment(),
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == expect, f"{args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout, result.stderr


def slurm(*args) -> str:
    return subprocess.run(list(args), env=environment(), capture_output=True, text=True, timeout=60,
                          check=True).stdout


def job_fields(job_id, settled: float = 0.0) -> dict:
    """scontrol's fields of a job; with `settled` seconds, once it has left RUNNING/COMPLETING
    (a task's result file is written before Slurm ends the job, so --wait may return while it
    still shows RUNNING)."""
    deadline = time.monotonic() + settled
    while True:
        fields = dict(f.split("=", 1) for f in slurm("scontrol", "-o", "show", "job", job_id).split() if "=" in f)
        if fields.get("JobState") not in ("RUNNING", "COMPLETING") or time.monotonic() > deadline:
            return fields
        time.sleep(1.0)


def submitted(stdout) -> tuple[str, dict]:
    """(array job id, {run name: (task job id, log path)}) from sweep.py's submission lines."""
    array = re.search(r"as array job (\d+)", stdout).group(1)
    tasks = {m.group(2): (m.group(1), Path(m.group(3)))
             for m in re.finditer(r"^  (\d+_\d+)  (\S+)  (\S+)$", stdout, re.M)}
    return array, tasks


def assert_same_run(name, folder, reference, steps=STEPS):
    """Checkpoint (every array, the step, the optimiser state) and eval results equal bit for bit."""
    got = checkpoint.load_checkpoint(Path(folder) / f"{name}.pkl")
    want = checkpoint.load_checkpoint(Path(reference) / f"{name}.pkl")
    for payload in (got, want):
        payload["config"].pop("save_path")
    assert_equal_tree(got, want, name)
    got_eval = json.loads((Path(folder) / f"{name}.eval.json").read_text())
    want_eval = json.loads((Path(reference) / f"{name}.eval.json").read_text())
    assert got_eval["step"] == want_eval["step"] == steps
    assert json.dumps(got_eval["results"], sort_keys=True) == json.dumps(want_eval["results"], sort_keys=True), name


def assert_equal_tree(a, b, where):
    if isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), where
        for key in a:
            assert_equal_tree(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_equal_tree(x, y, f"{where}/{i}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), where
    else:
        assert a == b, where


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same runs with the local executor (one after another in one process)."""
    folder = tmp_path_factory.mktemp("local")
    sweep_cli(sweep_file(folder), "--results", folder / "results")
    return folder / "results"


# The interrupted runs train long enough that the signal surely lands mid-training. At 30 steps the
# whole run after its first save took 0.3 s on CI (about 15 ms a step at batch 16), less than the
# test takes to see that save and signal, so USR2 came during the evaluation and the requeued job
# had nothing left to resume. Slurm's time-limit signal comes 30-75 s after the limit is cut, so
# training must outlast that on a quiet machine too: 6,000 steps is 90 s or more there.
LONG_RUN, LONG_STEPS = "dsprites_procedural_seed1", 6000


@pytest.fixture(scope="module")
def long_config(tmp_path_factory):
    """(config, results of the uninterrupted local run) of one D-VAE run of LONG_STEPS steps."""
    folder = tmp_path_factory.mktemp("long")
    config = sweep_file(folder, models=("dvae",), seeds=(1,), steps=LONG_STEPS)
    sweep_cli(config, "--results", folder / "local")
    return config, folder / "local"


def test_array_job_equals_local_and_agrees_with_dry_run(tmp_path, reference):
    config, results = sweep_file(tmp_path), tmp_path / "results"
    dry, _ = sweep_cli(config, "--results", results, "--dry_run", *SLURM)
    order = re.findall(r"^  (\d+): (\S+)$", dry, re.M)
    options = re.findall(r"^  (#SBATCH .*)$", dry, re.M)
    assert [name for _, name in order] == ["dsprites_procedural_gauss_seed1", "dsprites_procedural_gauss_seed2",
                                           "dsprites_procedural_seed1", "dsprites_procedural_seed2"]
    started = time.perf_counter()
    out, _ = sweep_cli(config, "--results", results, "--wait", *SLURM)
    print(f"4-run array job: {time.perf_counter() - started:.0f} s")
    assert '"finished": 4, "failed": []' in out
    array, tasks = submitted(out)
    assert {name: job for name, (job, _) in tasks.items()} == {name: f"{array}_{i}" for i, name in order}

    # What was submitted is what --dry_run listed, and what Slurm ran with.
    scripts = list((results / "logs").rglob("*_submission.sh"))
    assert scripts, "submitit's sbatch script was not kept"
    assert [l for l in scripts[0].read_text().splitlines() if l.startswith("#SBATCH ")] == options
    assert "#SBATCH --array=0-3%2" in options and "#SBATCH --cpus-per-task=2" in options
    assert "#SBATCH --mem=4GB" in options and "#SBATCH --time=20" in options
    assert not any("gpu" in line for line in options)
    partition = slurm("sinfo", "-h", "-o", "%P").split()[0].rstrip("*")     # the default partition
    for i, name in order:
        fields = job_fields(f"{array}_{i}", settled=60.0)
        assert (fields["JobState"], fields["Partition"], fields["TimeLimit"]) == ("COMPLETED", partition, "00:20:00")
        assert (fields["NumCPUs"], fields["MinMemoryNode"], fields["ArrayTaskThrottle"]) == ("2", "4G", "2")
        assert "gpu" not in fields.get("TRES", "") and fields["JobName"] == "lddr_sweep"
        log = tasks[name][1]
        assert fields["StdOut"] == str(log)
        text = log.read_text()
        assert f"[{name}] training" in text and f"[{name}] evaluating" in text, text[-2000:]
        assert all(f"[{other}]" not in text for _, other in order if other != name)
        assert_same_run(name, results, reference)


def interrupted_run(config, results, name, interrupt) -> tuple[Path, str]:
    """Submit one run with --wait, `interrupt(job id)` it after its first save, release the requeued
    job, and check the log: signalled, requeued, resumed at the step of its last checkpoint."""
    args = [sys.executable, "scripts/sweep.py", config, "--results", results, "--only", name, "--wait", *SLURM]
    waiting = subprocess.Popen(list(map(str, args)), cwd=ROOT, env=environment(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        log = job = None
        deadline = time.time() + 900
        # Wait for the checkpoint file itself, not the log line: the loop logs step 10 before it saves,
        # and a signal between the two finds no checkpoint (CI's 2 cores hit that window once).
        checkpoint_file = results / f"{name}.pkl"
        while not checkpoint_file.exists():
            assert time.time() < deadline and waiting.poll() is None, f"the run did not save at step {SAVE_EVERY}"
            if job is None:
                found = list((results / "logs").glob("*/*_0_log.out"))  # one run: a plain job, id A
                if found:
                    log, job = found[0], found[0].parent.name
            time.sleep(0.5)
        interrupt(job)
        # Slurm holds a requeued job for two minutes (BeginTime); release it now, with the time limit
        # it was submitted with.
        while True:
            assert time.time() < deadline and waiting.poll() is None, "the job was not requeued"
            fields = job_fields(job)
            if fields["JobState"] == "PENDING" and fields.get("Reason") == "BeginTime":
                slurm("scontrol", "update", f"JobId={job}", "StartTime=now", "TimeLimit=20")
                break
            time.sleep(0.5)
        out, err = waiting.communicate(timeout=900)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 0, out[-2000:] + err[-2000:]
    assert '"finished": 1' in out
    text = log.read_text()
    signalled = re.search(rf"\[{name}\] signalled \(time limit or preemption\): requeued, resumes from its "
                          rf"checkpoint at step (\d+)", text)
    resumed = re.search(rf"resumed {re.escape(str(results / name))}\.pkl at step (\d+)", text)
    assert signalled and resumed, f"no resume (did the signal come after training ended?)\n{text[-3000:]}"
    # No step is lost beyond the last save: the resumed run starts at the checkpoint that existed.
    step = int(signalled.group(1))
    assert int(resumed.group(1)) == step and step >= SAVE_EVERY and step % SAVE_EVERY == 0
    assert text.index(signalled.group(0)) < text.index(resumed.group(0))
    assert f"[{name}] resuming" in text
    assert "Caught signal SIGUSR2" in Path(str(log).replace("_log.out", "_log.err")).read_text()
    assert job_fields(job)["Restarts"] == "1"
    return log, job


def test_preempted_run_requeues_and_resumes(tmp_path, long_config):
    """USR2 is what Slurm sends on preemption and before the time limit (--signal=USR2@delay)."""
    config, local = long_config
    results = tmp_path / "results"
    interrupted_run(config, results, LONG_RUN, lambda job: slurm("scancel", "--signal=USR2", job))
    assert_same_run(LONG_RUN, results, local, steps=LONG_STEPS)


def seconds(text: str) -> int:
    """Slurm's [D-][HH:]MM:SS -> seconds."""
    days, _, clock = text.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    return int(days or 0) * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2]


@pytest.mark.slow
def test_time_limit_requeues_and_resumes(tmp_path, long_config):
    """Slurm's own signal at the time limit: the running job's limit is cut so that less than
    --signal_delay_s (120 s) is left; slurmctld then sends USR2 (within its 30 s check, so up to
    a minute or more after the cut: the long run is still training then)."""
    config, local = long_config

    def cut_time_limit(job):
        elapsed = seconds(job_fields(job)["RunTime"])
        slurm("scontrol", "update", f"JobId={job}", f"TimeLimit={elapsed // 60 + 2}")  # 60-120 s left

    results = tmp_path / "results"
    interrupted_run(config, results, LONG_RUN, cut_time_limit)
    assert_same_run(LONG_RUN, results, local, steps=LONG_STEPS)


def test_failing_run_is_reported_and_others_finish(tmp_path, reference):
    """dsprites_full without DISENTANGLEMENT_LIB_DATA fails at once; dsprites_procedural finishes."""
    results = tmp_path / "results"
    config = sweep_file(tmp_path, datasets=("dsprites_procedural", "dsprites_full"), models=("dvae",), seeds=(1,))
    out, err = sweep_cli(config, "--results", results, "--wait", *SLURM, expect=1)
    assert '"finished": 1, "failed": ["dsprites_full_seed1"]' in out
    failure = re.search(r"^FAILED dsprites_full_seed1: DataError: DISENTANGLEMENT_LIB_DATA is not set.*; "
                        r"log: (\S+) \(errors: (\S+)\)$", err, re.M)
    assert failure, err
    assert "DISENTANGLEMENT_LIB_DATA is not set" in Path(failure.group(2)).read_text()
    assert Path(failure.group(1)).is_file()
    assert_same_run("dsprites_procedural_seed1", results, reference)
