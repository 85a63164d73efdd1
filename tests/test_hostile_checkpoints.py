"""Hostile checkpoints: every file built as an attacker would is refused in one line,
within seconds and bounded memory, by the library loader and by every entry point, and
nothing in the process changes; legitimate files load exactly as plain pickle reads them."""
import json
import os
import pickle
import re
import subprocess
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hostile_files import hostile_files

from checkpoints import checkpoint
from checkpoints.checkpoint import CheckpointError, load_checkpoint
from checkpoints.restore import load_model
from configs import Config
from models import build_model
from training.resume import checkpoint_payload
from training.step import init_train_state

ROOT = Path(__file__).resolve().parent.parent
# What a refusal may cost on these files (all < 3 MB, or sparse): seconds, and traced memory.
SECONDS, MEMORY = 5.0, 64 << 20
MODEL_LEVEL = ("params_extra", "params_float64", "param_key_escapes")   # only the model can tell (names, dtypes)


@pytest.fixture(scope="module")
def payload():
    """A real D-VAE payload (small architecture, freshly initialised), as run.py writes it."""
    config = Config(num_latents=3, num_categories=4, hidden_size=16, steps=8, batch_size=8, eval_every=0)
    model = build_model(config, 1)
    ts = init_train_state(model, jnp.zeros((1, 64, 64, 1), jnp.float32))
    return {"format_version": checkpoint.FORMAT_VERSION, **checkpoint_payload(config, ts)}


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


_ATTRIBUTES = ("__defaults__", "__kwdefaults__", "__qualname__", "__name__", "__code__", "__dict__")


def _snapshot():
    """Everything a BUILD or REDUCE on an allowed global could change."""
    functions = [np._core.numeric._frombuffer, np._core.multiarray._reconstruct, np._core.multiarray.scalar]
    classes = [np.ndarray, np.dtype, *(g.cls for g in checkpoint.GLOBALS.values() if g.cls is not None)]
    return ([[repr(getattr(f, a, None)) for a in _ATTRIBUTES] for f in functions],
            [dict(vars(c)) for c in classes], dict(checkpoint.GLOBALS))


class _OldRestrictedUnpickler(pickle.Unpickler):
    """The loader before the pickle interpreter: pickle with `find_class` limited to numpy's rebuilders."""
    def find_class(self, module, name):
        assert (module, name) in checkpoint.GLOBALS
        return super().find_class(module, name)


def test_nothing_in_the_process_changes(files, tiny_data):
    # The attack is real: a restricted unpickler lets the file rename numpy's function ...
    frombuffer = np._core.numeric._frombuffer
    try:
        with open(files["build_on_function"][0], "rb") as f:
            _OldRestrictedUnpickler(f).load()
        assert frombuffer.__qualname__ == "pwned"
    finally:
        frombuffer.__qualname__ = "_frombuffer"
    # ... and no file changes anything through this project's reader.
    before = _snapshot()
    for path, _ in files.values():
        with pytest.raises(CheckpointError):
            load_model(path, data=tiny_data)
    assert _snapshot() == before


# Each entry point is a subprocess (~5 s of imports); eval's in the quick suite, all in CI.
@pytest.mark.parametrize("entry", ["eval", *(pytest.param(e, marks=pytest.mark.slow)
                                              for e in ("visualize", "resume", "convert"))])
def test_entry_points_refuse_every_file(files, entry, tmp_path):
    folder = Path(next(iter(files.values()))[0]).parent
    result = tmp_path / "result.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "hostile_driver.py"), entry, str(folder), str(result)],
                          env=env, capture_output=True, text=True, timeout=600)
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
        # No character of the file's (nor of its name) acts on the terminal, and lines are bounded.
        for line in seen["stderr"].rstrip("\n").split("\n") + seen["stdout"].rstrip("\n").split("\n"):
            assert line.isprintable() and len(line) <= 2_100, (name, line[:300])
        assert seen["seconds"] < SECONDS + 20, (name, seen["seconds"])   # + imports on the first file
        assert seen["left"] == [], (name, seen["left"])


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_legitimate_files_load_as_plain_pickle_reads_them(payload, tmp_path, protocol):
    """Every leaf (types, dtypes, shapes, bytes, memory order) as `pickle.load` gives it."""
    odd = {**payload, "config_history": [{"step": 4, "changed": {"steps": [8, 16]}}],
           "state": {"codebook": {"hard": np.array(True), "scale": np.array(0.5, np.float32)}},
           "opt_state": [np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)), np.zeros((0, 3), np.int32),
                         np.array([1.5, -2.0], dtype=">f8")]}
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps(odd, protocol=protocol))
    ours, theirs = load_checkpoint(path), pickle.loads(path.read_bytes())
    ours_leaves, ours_tree = jax.tree_util.tree_flatten(ours)
    their_leaves, their_tree = jax.tree_util.tree_flatten(theirs)
    assert ours_tree == their_tree
    for a, b in zip(ours_leaves, their_leaves):
        assert type(a) is type(b)
        if isinstance(a, np.ndarray):
            assert (repr(a.dtype), a.shape, a.tobytes(order="A"), a.flags.f_contiguous) == \
                   (repr(b.dtype), b.shape, b.tobytes(order="A"), b.flags.f_contiguous)
            assert a.flags.writeable
        else:
            assert a == b
    # Each array owns a fresh buffer: no two share memory.
    arrays = list({id(leaf): leaf for leaf in ours_leaves if isinstance(leaf, np.ndarray)}.values())
    assert len({id(a.base if a.base is not None else a) for a in arrays}) == len(arrays)


def test_numpy_1_files_load_as_written(tmp_path):
    """Pickles written by numpy 1.26 (tests/reference/numpy1_pickles.py, protocols 2-5): the
    values written, with the types, dtypes and memory order plain pickle gives them here."""
    sys.path.insert(0, str(ROOT / "tests" / "reference"))
    from numpy1_pickles import expected_values
    want = expected_values()
    for protocol in (2, 3, 4, 5):
        blob = (ROOT / "tests" / "reference" / f"numpy1_protocol{protocol}.pickle").read_bytes()
        assert b"numpy.core" in blob and b"numpy._core" not in blob
        got = checkpoint.read_pickle(blob, checkpoint.GLOBALS)
        with warnings.catch_warnings():              # numpy 2 reads numpy.core through an alias
            warnings.simplefilter("ignore", DeprecationWarning)
            plain = pickle.loads(blob)
        assert sorted(got) == sorted(want)
        for key in want:
            np.testing.assert_array_equal(got[key], want[key])
            assert type(got[key]) is type(plain[key]), (protocol, key)
            assert repr(got[key].dtype) == repr(plain[key].dtype), (protocol, key)
            if isinstance(got[key], np.ndarray):
                assert got[key].flags.f_contiguous == plain[key].flags.f_contiguous, (protocol, key)


def test_finite_check_agrees_with_isfinite():
    """The one-pass check (sum of squares, min/max when it overflows) against numpy's isfinite
    over every element, for values near each dtype's limit, NaN and infinities anywhere, both
    memory orders; the reader's record of an array gives the same answer as checking it later."""
    from checkpoints.schema import FiniteValues, all_finite

    rng = np.random.default_rng(0)
    record = FiniteValues()
    cases = []
    for dtype in (np.float16, np.float32, np.float64):
        top = float(np.finfo(dtype).max)
        for scale in (1.0, top**0.5, top / 4):  # fits, squares overflow, near the limit
            for bad in (None, np.nan, np.inf, -np.inf):
                values = (rng.standard_normal((7, 5)) * scale).clip(-top, top).astype(dtype)
                if bad is not None:
                    values.flat[rng.integers(values.size)] = bad
                cases += [values, np.asfortranarray(values)]
    cases += [np.zeros(0, np.float32), np.arange(6).reshape(2, 3)]
    for values in cases[::2]:
        record(values)  # half seen by the "reader", half not
    for values in cases:
        assert all_finite(values) == bool(np.isfinite(values).all()) == record.of(values), values


def test_every_opcode_checks_its_operands():
    """Random opcode streams over every operand kind the reader has (values, containers, the
    stand-ins, numpy's globals, half-built arrays, marks): each is built or refused by an
    opcode's own check. The reader's net for anything unchecked ("malformed pickle near
    byte ...") catches nothing, and no other exception escapes."""
    import random
    import struct as struct_

    from hostile_files import MARK, NONE, dtype, integer, name, raw, reconstructed_array, text

    operands = [NONE, b"\x88", b"K\x05", integer(-3), b"G" + struct_.pack(">d", 1.5), text("a"), text("latin1"),
                text("C"), raw(b"b"), raw(b"\0" * 8), b"}", b"]", b")", MARK + NONE + b"t", dtype("f4"),
                reconstructed_array((2,), dtype("f4"), b"\0" * 8), b"h\x00", b"\x94", MARK,
                name("numpy", "dtype") + text("f4") + b"\x89\x88\x87R", name("box.box", "Box") + b")\x81",
                *(name(module, attribute) for module, attribute in checkpoint.GLOBALS)]
    opcodes = [b"a", b"e", b"s", b"u", b"R", b"\x81", b"b", b"t", b"\x85", b"\x86", b"\x87", b"0", b"1", b"\x94",
               b"\x93", b"(", b"h\x00", b"h\x01"]
    rng, built = random.Random(0), 0
    for _ in range(20_000):
        program = b"".join(rng.choice(operands if rng.random() < 0.55 else opcodes) for _ in range(rng.randint(1, 9)))
        try:
            checkpoint.read_pickle(b"\x80\x04" + program + b".", checkpoint.GLOBALS)
            built += 1
        except checkpoint.PickleRefused as error:
            assert "malformed pickle near" not in str(error), (program, str(error))
    assert 100 < built < 19_000     # both outcomes are exercised


# Small samples: what matters here is what each step does with unusable numbers.
SMALL = {"mig": {"num_train": 200}, "modularity": {"num_train": 200, "num_test": 100},
         "sap": {"num_train": 200, "num_test": 100},
         "factor_vae": {"num_train": 20, "num_eval": 10, "num_variance_estimate": 200},
         "beta_vae": {"num_train": 20, "num_eval": 10}, "dci": {"num_train": 100, "num_test": 50},
         "st_gap": {"num_batches": 2, "batch_size": 8}, "elbo": {"num_batches": 2, "batch_size": 8}}
SIX = ("mig", "modularity", "sap", "factor_vae", "beta_vae", "dci")


@pytest.mark.parametrize("where, incomplete", [
    ("dec_", ["st_gap", "elbo"]),             # codes fine, losses NaN: the six metrics are kept
    ("", [*SIX, "st_gap", "elbo"]),           # every parameter: the codes too
], ids=["decoder", "everything"])
def test_finite_but_extreme_parameters_keep_what_could_be_computed(payload, tiny_data, tmp_path, capsys, where,
                                                                   incomplete):
    """Every parameter (or the decoder's) at 1e38: finite, so the file is sound, but the gap and
    the ELBO are NaN. The JSON keeps everything computed, marks the rest incomplete (null), and
    one line names it; no FloatingPointError."""
    import eval as ev
    from evaluation.protocol import RESULT_KEYS, result_path

    params = {module: {name: np.full_like(value, 1e38) if module.startswith(where) else value
                       for name, value in arrays.items()} for module, arrays in payload["params"].items()}
    path = checkpoint.save_checkpoint(tmp_path / "extreme.pkl", {**payload, "params": params})
    rc = ev.main(["--save_file", str(path), "--no_progress", "--settings", json.dumps(SMALL)], data=tiny_data)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith(f"error: {path}: not computed: "), err
    assert all(name in err[0] for name in incomplete) and "non-finite loss" in err[0]
    result = json.loads(result_path(path).read_text())
    assert result["incomplete"] == incomplete and set(result["incomplete_why"]) == set(incomplete)
    for name in (*SIX, "st_gap", "elbo"):
        values = [result["results"][key] for key in RESULT_KEYS[name]]
        assert all(v is None for v in values) if name in incomplete else all(v is not None for v in values), name


def test_training_from_extreme_parameters_stops_in_one_line(payload, tiny_data, tmp_path):
    from configs import from_dict
    from training.loop import TrainingDiverged, train

    params = {module: {name: np.full_like(value, 1e38) for name, value in arrays.items()}
              for module, arrays in payload["params"].items()}
    path = checkpoint.save_checkpoint(tmp_path / "extreme.pkl", {**payload, "params": params, "step": 4})
    config = from_dict({**payload["config"], "save_path": str(tmp_path / "out"), "steps_per_dispatch": 2})
    with pytest.raises(TrainingDiverged, match="non-finite loss between steps 4 and 6") as error:
        train(config, data=tiny_data, resume=path, progress=False, log=lambda *_: None)
    assert "\n" not in str(error.value)
