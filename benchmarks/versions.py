"""Earlier versions of this code, side by side with this tree (benchmarks/train_ab.py,
benchmarks/checkpoint_load.py): a revision's tree in a folder, and a script run in it."""
from __future__ import annotations

import json
import os
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
