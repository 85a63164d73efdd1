"""Earlier versions of this code, side by side with this tree (benchmarks/train_ab.py,
benchmarks/checkpoint_load.py): a revision's tree in a folder, and a script run in it."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def extract(revision: str, into: Path) -> Path:
    """The tree of `revision` (any git revision) in a fresh folder."""
    folder = into / revision.replace("/", "_")
    folder.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], capture_output=True)
    if archive.returncode:
        sys.exit(f"error: git cannot archive {revision!r}: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def run_in(folder: Path, driver: str, *args: str) -> dict:
    """Run the Python source `driver` with `args` in a fresh process inside `folder` (that
    version's code first on the path); it prints its result as a line `RESULT {json}`."""
    env = {**os.environ, "PYTHONPATH": str(folder)}
    done = subprocess.run([sys.executable, "-c", driver, *args], cwd=folder, env=env, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        sys.exit(f"error: the run in {folder} failed:\n{done.stderr[-2000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def alternate(versions: dict, rounds: int, measure) -> dict:
    """{version: [measure(version, folder) per round]}: the versions take turns, in reversed
    order every other round, so that load on the machine hits all of them alike."""
    results = {version: [] for version in versions}
    for round_ in range(rounds):
        for version in (list(versions) if round_ % 2 == 0 else list(versions)[::-1]):
            results[version].append(measure(version, versions[version]))
    return results


def report(times: dict, digests: dict, line) -> None:
    """Print `line(version, median, values, median / this tree's median)` per version, marked
    when the version's digest differs from this tree's (it computed something else)."""
    base = statistics.median(times["this tree"])
    for version, values in times.items():
        median = statistics.median(values)
        same = digests[version] == digests["this tree"]
        print(line(version, median, values, median / base) + ("" if same else " (DIFFERENT from this tree)"))
