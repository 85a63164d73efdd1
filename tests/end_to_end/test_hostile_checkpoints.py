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

# What a refusal may cost on these files (all < 3 MB, or sparse): seconds, and traced memory.
SECONDS, MEMORY = 5.0, 64 << 20
MODEL_LEVEL = ("params_extra", "params_float64", "param_key_escapes")   # only the model can tell (names, dtypes)


def test_the_real_payload_loads(hostile_payload, tmp_path, tiny_data):
    """The control: the file every attack starts from is accepted, so refusals are the attacks'."""
    path = checkpoint.save_checkpoint(tmp_path / "real.pkl", hostile_payload)
    load_model(path, data=tiny_data)


def test_library_refuses_each_file_in_one_line_within_bounds(hostile_checkpoints, tiny_data):
    problems = []
    for name, (path, message) in hostile_checkpoints.items():
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
def test_entry_points_refuse_every_file(hostile_checkpoints, entry, tmp_path):
    folder = Path(next(iter(hostile_checkpoints.values()))[0]).parent
    result = tmp_path / "result.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}   # this checkout's code, not an installed copy
    proc = subprocess.run([sys.executable, "-m", "tests.hostile_driver", entry, str(folder), str(result)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    outcome = json.loads(result.read_text())
    assert set(outcome) == {path.name for path, _ in hostile_checkpoints.values()}
    for name, (path, message) in hostile_checkpoints.items():
        seen = outcome[path.name]
        if entry == "convert" and name in MODEL_LEVEL:
            message = "not a checkpoint of the authors' code"   # refused before the model is built
        lines = seen["stderr"].strip().splitlines()
        assert seen["code"] == 2 and len(lines) == 1 and lines[0].startswith("error: "), (name, seen)
        assert re.search(message, lines[0]), (name, lines[0])
        # No character of the file's (nor of its name) acts on the terminal, and lines are bounded.
        for line in seen["stderr"].rstrip("\n").split("\n") + seen["stdout"].rstrip("\n").split("\n"):
            assert line.isprintable() and len(line) <= 2_100, (name, line[:300])
        assert seen["seconds"] < SECONDS + 20, (name, seen["seconds"])   # + imports on the first file
        assert seen["left"] == [], (name, seen["left"])


# Small samples: what matters here is what each step does with unusable numbers.
SMALL = {"mig": {"num_train": 200}, "modularity": {"num_train": 200, "num_test": 100},
         "sap": {"num_train": 200, "num_test": 100},
         "factor_vae": {"num_train": 20, "num_eval": 10, "num_variance_estimate": 200},
         "beta_vae": {"num_train": 20, "num_eval": 10}, "dci": {"num_train": 100, "num_test": 50},
         "st_gap": {"num_batches": 2, "batch_size": 8}, "elbo": {"num_batches": 2, "batch_size": 8},
         "infomec": {"num_points": 200}}
SIX = ("mig", "modularity", "sap", "factor_vae", "beta_vae", "dci")


@pytest.mark.parametrize("where, incomplete", [
    ("dec_", ["st_gap", "elbo"]),                         # codes fine, losses NaN: the six metrics are kept
    ("", [*SIX, "st_gap", "elbo", "infomec"]),            # every parameter: the codes too
], ids=["decoder", "everything"])
def test_finite_but_extreme_parameters_keep_what_could_be_computed(hostile_payload, tiny_data, tmp_path, capsys, where,
                                                                   incomplete):
    """Every parameter (or the decoder's) at 1e38: finite, so the file is sound, but the gap and
    the ELBO are NaN. The JSON keeps everything computed, marks the rest incomplete (null), and
    one line names it; no FloatingPointError."""
    import numpy as np

    import eval as ev
    from evaluation.protocol import RESULT_KEYS, result_path

    params = {module: {name: np.full_like(value, 1e38) if module.startswith(where) else value
                       for name, value in arrays.items()} for module, arrays in hostile_payload["params"].items()}
    path = checkpoint.save_checkpoint(tmp_path / "extreme.pkl", {**hostile_payload, "params": params})
    rc = ev.main(["--save_file", str(path), "--no_progress", "--settings", json.dumps(SMALL)], data=tiny_data)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith(f"error: {path}: not computed: "), err
    assert all(name in err[0] for name in incomplete) and "non-finite loss" in err[0]
    result = json.loads(result_path(path).read_text())
    assert result["incomplete"] == incomplete and set(result["incomplete_why"]) == set(incomplete)
    for name in (*SIX, "st_gap", "elbo", "infomec"):
        values = [result["results"][key] for key in RESULT_KEYS[name]]
        assert all(v is None for v in values) if name in incomplete else all(v is not None for v in values), name


def test_training_from_extreme_parameters_stops_in_one_line(hostile_payload, tiny_data, tmp_path):
    import numpy as np

    from configs import from_dict
    from training.loop import TrainingDiverged, train

    params = {module: {name: np.full_like(value, 1e38) for name, value in arrays.items()}
              for module, arrays in hostile_payload["params"].items()}
    path = checkpoint.save_checkpoint(tmp_path / "extreme.pkl", {**hostile_payload, "params": params, "step": 4})
    config = from_dict({**hostile_payload["config"], "save_path": str(tmp_path / "out"), "steps_per_dispatch": 2})
    with pytest.raises(TrainingDiverged, match="non-finite loss between steps 4 and 6") as error:
        train(config, data=tiny_data, resume=path, progress=False, log=lambda *_: None)
    assert "\n" not in str(error.value)
