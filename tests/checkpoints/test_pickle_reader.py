"""The pickle reader (checkpoints/pickle_reader.py): legitimate files load exactly as plain pickle
reads them (numpy 1 files too), and no hostile file changes anything in the process, where a
restricted unpickler lets one rename numpy's functions."""
import pickle
import warnings

import jax
import numpy as np
import pytest

from checkpoints import checkpoint
from checkpoints.checkpoint import CheckpointError, load_checkpoint
from checkpoints.restore import load_model
from tests import REFERENCE_DIR

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


def test_nothing_in_the_process_changes(hostile_checkpoints, tiny_data):
    # The attack is real: a restricted unpickler lets the file rename numpy's function ...
    frombuffer = np._core.numeric._frombuffer
    try:
        with open(hostile_checkpoints["build_on_function"][0], "rb") as f:
            _OldRestrictedUnpickler(f).load()
        assert frombuffer.__qualname__ == "pwned"
    finally:
        frombuffer.__qualname__ = "_frombuffer"
    # ... and no file changes anything through this project's reader.
    before = _snapshot()
    for path, _ in hostile_checkpoints.values():
        with pytest.raises(CheckpointError):
            load_model(path, data=tiny_data)
    assert _snapshot() == before


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_legitimate_files_load_as_plain_pickle_reads_them(hostile_payload, tmp_path, protocol):
    """Every leaf (types, dtypes, shapes, bytes, memory order) as `pickle.load` gives it."""
    odd = {**hostile_payload, "config_history": [{"step": 4, "changed": {"steps": [8, 16]}}],
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
    from tests.reference.numpy1_pickles import expected_values
    want = expected_values()
    for protocol in (2, 3, 4, 5):
        blob = (REFERENCE_DIR / f"numpy1_protocol{protocol}.pickle").read_bytes()
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


def test_every_opcode_checks_its_operands():
    """Random opcode streams over every operand kind the reader has (values, containers, the
    stand-ins, numpy's globals, half-built arrays, marks): each is built or refused by an
    opcode's own check. The reader's net for anything unchecked ("malformed pickle near
    byte ...") catches nothing, and no other exception escapes."""
    import random
    import struct as struct_

    from tests.hostile_files import MARK, NONE, dtype, integer, name, raw, reconstructed_array, text

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
