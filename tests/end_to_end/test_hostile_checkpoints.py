"""Hostile checkpoints: every file built as an attacker would is refused in one line,
within seconds and bounded memory, by the library loader and by every entry point (the
reader itself: tests/checkpoints/test_pickle_reader.py)."""
import json
import os
import re
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from checkpoints import checkpoint
from checkpoints.checkpoint import CheckpointError
from checkpoints.restore import load_model
from tests import ROOT
from tests.hostile_files import hostile_files, real_payload

# What a refusal may cost on these files (all < 2 MB): seconds, and traced memory.
SECONDS, MEMORY = 5.0, 64 << 20
MODEL_LEVEL = ("params_extra", "params_float64")   # only the model can tell (names, dtypes)


@pytest.fixture(scope="module")
def payload():
    return real_payload()


@pytest.fixture(scope="module")
def files(payload, tmp_path_factory):
    return hostile_files(tmp_path_factory.mktemp("hostile"), payload)


def test_the_real_payload_loads(payload, tmp_path, tiny_data):
    """The control: the file every attack starts from is accepted, so refusals are the attacks'."""
    path = checkpoint.save_checkpoint(tmp_path / "real.pkl", payload)
    load_model(path, data=tiny_data)


def test_library_refuses_each_file_in_one_line_within_bounds(files, tiny_data):
    problems = []
    for name, (path, message) in files.items():
        tracemalloc.start()
        start = time.perf_counter()
        try:
            load_model(path, data=tiny_data)
            problems.append(f"{name}: accepted")
        except CheckpointError as error:
            text = str(error)
            if not re.search(message, text) or "\n" in text or len(text) > 600:
                problems.append(f"{name}: {text[:300]}")
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        if time.perf_counter() - start > SECONDS or peak > MEMORY:
            problems.append(f"{name}: {time.perf_counter() - start:.1f} s, {peak / 2**20:.0f} MiB traced")
    assert not problems, problems


# Each entry point is a subprocess (~5 s of imports); eval's in the quick suite, all in CI.
@pytest.mark.parametrize("entry", ["eval", *(pytest.param(e, marks=pytest.mark.slow)
                                              for e in ("visualize", "resume", "convert"))])
def test_entry_points_refuse_every_file(files, entry, tmp_path):
    folder = Path(next(iter(files.values()))[0]).parent
    result = tmp_path / "result.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}   # this checkout's code, not an installed copy
    proc = subprocess.run([sys.executable, "-m", "tests.hostile_driver", entry, str(folder), str(result)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    outcome = json.loads(result.read_text())
    assert set(outcome) == {path.name for path, _ in files.values()}
    for name, (path, message) in files.items():
        seen = outcome[path.name]
        if entry == "convert" and name in MODEL_LEVEL:
            message = "not a checkpoint of the authors' code"   # refused before the model is built
        lines = seen["stderr"].strip().splitlines()
        assert seen["code"] == 2 and len(lines) == 1 and lines[0].startswith("error: "), (name, seen)
        assert re.search(message, lines[0]), (name, lines[0])
        assert seen["seconds"] < SECONDS + 20, (name, seen["seconds"])   # + imports on the first file
        assert seen["left"] == [], (name, seen["left"])
