"""Hostile checkpoint files, each with the one-line refusal it must get.

Files that pickle cannot produce are written opcode by opcode; the rest are a real payload
with one field broken, pickled by plain pickle. `hostile_files(folder, payload)` writes them
all and returns {name: (path, regex of the refusal)}; `real_payload()` is the payload they start from.
"""
from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np

# -- opcodes -------------------------------------------------------------------------------
PROTO4 = b"\x80\x04"
STOP, MARK, NONE, TUPLE, TUPLE1, TUPLE2, TUPLE3 = b".", b"(", b"N", b"t", b"\x85", b"\x86", b"\x87"
EMPTY_DICT, EMPTY_LIST, EMPTY_TUPLE = b"}", b"]", b")"
SETITEM, APPEND, REDUCE, BUILD, NEWFALSE, NEWTRUE = b"s", b"a", b"R", b"b", b"\x89", b"\x88"


def text(value: str) -> bytes:
    data = value.encode()
    return b"X" + struct.pack("<I", len(data)) + data                 # BINUNICODE


def raw(data: bytes) -> bytes:
    return b"B" + struct.pack("<I", len(data)) + data                  # BINBYTES


def integer(n: int) -> bytes:
    return b"J" + struct.pack("<i", n)                                 # BININT


def name(module: str, attribute: str) -> bytes:
    return b"c" + module.encode() + b"\n" + attribute.encode() + b"\n"  # GLOBAL


def frame(n: int) -> bytes:
    return b"\x95" + struct.pack("<Q", n)                              # FRAME


def put(i: int) -> bytes:
    return b"r" + struct.pack("<I", i)                                 # LONG_BINPUT


def get(i: int) -> bytes:
    return b"j" + struct.pack("<I", i)                                 # LONG_BINGET


def dtype(code: str, state: bytes | None = None) -> bytes:
    """numpy.dtype(code, False, True) with a BUILD of `state` (numpy's own state by default)."""
    state = state if state is not None else (
        MARK + integer(3) + text("<") + NONE * 3 + integer(-1) * 2 + integer(0) + TUPLE)
    return name("numpy", "dtype") + text(code) + NEWFALSE + NEWTRUE + TUPLE3 + REDUCE + state + BUILD


def reconstructed_array(shape: tuple, dtype_bytes: bytes, data: bytes) -> bytes:
    """numpy's protocol-2..4 array: _reconstruct(ndarray, (0,), b'b') + BUILD of its state."""
    shape_bytes = MARK + b"".join(integer(n) for n in shape) + TUPLE
    return (name("numpy._core.multiarray", "_reconstruct") + name("numpy", "ndarray") + integer(0) + TUPLE1
            + raw(b"b") + TUPLE3 + REDUCE
            + MARK + integer(1) + shape_bytes + dtype_bytes + NEWFALSE + raw(data) + TUPLE + BUILD)


def in_payload(payload: dict, key: str, value_bytes: bytes) -> bytes:
    """The real payload with `key` replaced by the value the given opcodes build."""
    head = pickle.dumps({k: v for k, v in payload.items() if k != key}, protocol=4)
    assert head.endswith(b"u."), "a dict pickle ends with SETITEMS, STOP"   # protocol 4, > 1 item
    return head[:-1] + text(key) + value_bytes + SETITEM + STOP


# What a file's text may try on a terminal: set the window title (OSC), clear the screen (CSI),
# ring the bell, forge a line of its own, reverse what follows (U+202E), a NUL.
TERMINAL = "\x1b]0;owned\x07\x1b[2J\rsaved /home/you/run.pkl\n\u202e\x00"


def _dtype_flood(n: int) -> bytes:
    """A list of `n` dtypes, each REDUCE and BUILD on memoized arguments and state (no
    container made per dtype)."""
    head = (name("numpy", "dtype") + put(0) + text("f4") + NEWFALSE + NEWTRUE + TUPLE3 + put(1) + b"0" * 2
            + MARK + integer(3) + text("<") + NONE * 3 + integer(-1) * 2 + integer(0) + TUPLE + put(2) + b"0")
    one = get(0) + get(1) + REDUCE + get(2) + BUILD
    return PROTO4 + EMPTY_LIST + head + MARK + one * n + b"e" + STOP


def _shared_leaves(payload: dict, nbytes: int, modules: int, names: int) -> bytes:
    """The real payload with params of `modules` modules of `names` names, every leaf one
    array of `nbytes` bytes (memo references)."""
    array = reconstructed_array((nbytes // 4,), dtype("f4"), bytes(nbytes))
    module = EMPTY_DICT + put(101) + MARK + b"".join(text(f"n{j}") + get(100) for j in range(names)) + b"u"
    params = EMPTY_DICT + MARK + b"".join(text(f"m{i}") + get(101) for i in range(modules)) + b"u"
    head = pickle.dumps({k: v for k, v in payload.items() if k != "params"}, protocol=2)   # no frames, no memo
    return head[:-1] + text("params") + array + put(100) + b"0" + module + b"0" + params + SETITEM + STOP


def sparse_file(path: Path, claimed: int) -> Path | None:
    """8 KB of data in a file that says it is `claimed` bytes (the rest a hole, read as zeros):
    one BINBYTES8 announcing all of it. None where the file system cannot make it sparse."""
    with open(path, "wb") as f:
        f.write(PROTO4 + b"\x8e" + struct.pack("<Q", claimed - 11) + b"\x01" * 8000)
        f.truncate(claimed)
    if path.stat().st_blocks * 512 >= claimed // 2:
        path.unlink()
        return None
    return path


# -- the files -------------------------------------------------------------------------------
def _crafted_objects(payload: dict) -> dict[str, tuple[bytes, str]]:
    """Files that would run code or build what the loader must not: a command, a function changed
    by BUILD, dtypes that read the file's bytes as pointers, text for the terminal."""
    object_fields = (MARK + integer(3) + text("|") + NONE + MARK + text("f0") + TUPLE + EMPTY_DICT + text("f0")
                     + name("numpy", "dtype") + text("O") + NEWFALSE + NEWTRUE + TUPLE3 + REDUCE
                     + integer(0) + TUPLE2 + SETITEM + integer(8) + integer(1) + integer(63) + TUPLE)
    return {
        # A dtype whose state gives it object fields: numpy would read the file's bytes as pointers.
        "dtype_object_fields": (
            in_payload(payload, "rng", reconstructed_array((2,), dtype("f8", object_fields), b"\x00" * 16)),
            r"dtype 'O'",
        ),
        "object_array": (in_payload(payload, "rng", reconstructed_array((2,), dtype("O"), b"\x00" * 16)), r"dtype 'O'"),
        # BUILD on an allowed function: would set its __defaults__ and __qualname__.
        "build_on_function": (
            in_payload(
                payload,
                "step",
                name("numpy._core.numeric", "_frombuffer")
                + NONE
                + EMPTY_DICT
                + text("__qualname__")
                + text("pwned")
                + SETITEM
                + TUPLE2
                + BUILD
                + b"0"
                + integer(3),
            ),
            r"BUILD on the global numpy\._core\.numeric\._frombuffer",
        ),
        "runs_a_command": (
            PROTO4 + name("posix", "system") + text("true") + TUPLE1 + REDUCE + STOP,
            r"refusing to load posix\.system",
        ),
        # Text for the terminal in a global's name (up to 200 characters were echoed).
        "global_name_escapes": (PROTO4 + text("posix" + TERMINAL) + text("system" + TERMINAL * 5) + b"\x93" + STOP,
                                r"refusing to load posix\\x1b\]0;owned\\x07"),
        # Operands that compare elementwise: an array where numpy writes False/True.
        "dtype_flags_are_arrays": (
            in_payload(payload, "rng", name("numpy", "dtype") + text("f4")
                       + reconstructed_array((2,), dtype("u1"), b"\0\0") + NEWTRUE + TUPLE3 + REDUCE),
            r"numpy\.dtype with arguments a tuple of 3 items"),
        "tuple_dict_key": (PROTO4 + EMPTY_DICT + EMPTY_TUPLE + NONE + SETITEM + STOP, r"keys must be strings"),
        "protocol_0": (b"(dp0\n.", r"not a pickle of protocol 2 to 5"),
    }


def _crafted_bombs(payload: dict) -> dict[str, tuple[bytes, str]]:
    """Files whose few bytes would cost gigabytes or hours: memo, stack, nesting, shared
    references, lengths the file does not hold."""
    nested_memo = NONE + put(0) + b"".join(get(i) + get(i) + TUPLE2 + put(i + 1) for i in range(100))
    deep_lists = EMPTY_LIST + put(0) + EMPTY_LIST * 29 + get(0) + APPEND * 30
    return {
        # 9 bytes: a memo index that makes the C unpickler allocate gigabytes.
        "memo_index_4gb": (PROTO4 + NONE + put(0xFFFFFFF0) + STOP, r"the file holds None"),
        # Exponential structure from shared references, then hashed as a dict key.
        "hash_bomb_key": (
            PROTO4 + EMPTY_DICT + nested_memo + NONE + SETITEM + STOP,
            r"more parts than the file has bytes",
        ),
        "deep_tuples": (PROTO4 + NONE + TUPLE1 * 1_000_000 + STOP, r"nested more than 32 deep"),
        # numpy.ndarray called with strides (0,): 4 billion elements over one byte.
        "zero_stride_array": (
            in_payload(
                payload,
                "format_version",
                name("numpy", "ndarray")
                + MARK
                + MARK
                + integer(2**31 - 1)
                + TUPLE
                + dtype("u1")
                + raw(b"x")
                + integer(0)
                + MARK
                + integer(0)
                + TUPLE
                + TUPLE
                + REDUCE,
            ),
            r"numpy\.ndarray called with a tuple of 5 items",
        ),
        "self_referencing_list": (in_payload(payload, "format_version", deep_lists), r"\(a cycle\)"),
        "list_containing_itself": (in_payload(payload, "step", EMPTY_LIST + put(0) + get(0) + APPEND), r"\(a cycle\)"),
        "array_bytes_disagree_with_shape": (
            in_payload(payload, "rng", reconstructed_array((2**20,), dtype("u4"), b"\0" * 8)),
            r"with 8 bytes of data \(expected 4194304\)",
        ),
        "announced_length_past_the_end": (PROTO4 + b"\x8e" + struct.pack("<Q", 2**60) + STOP, r"truncated"),
        "many_empty_lists": (PROTO4 + EMPTY_LIST * 2_000_000 + STOP, r"more than 4x the file's size"),
        "long4_integer": (PROTO4 + b"\x8b" + struct.pack("<i", 10**6) + b"\x01" * 10**6 + STOP, r"opcode b'\\x8b'"),
        # Costs the budget did not charge: memo entries (1 byte each, ~110 bytes of memory),
        # numbers on the stack, dtypes made from memoized arguments (numpy's constructor each).
        "memo_flood": (PROTO4 + NONE + b"\x94" * 1_900_000 + STOP, r"more than 4x the file's size"),
        "stack_flood": (PROTO4 + MARK + integer(7) * 400_000 + b"1" + NONE + STOP, r"more than 4x the file's size"),
        "dtype_flood": (_dtype_flood(50_000), r"more than 4x the file's size"),
        # One array as every leaf: the file's size allowed its parts, not their bytes.
        "shared_array_leaves": (_shared_leaves(payload, 2**20, 300, 300), r"arrays, counted at every use"),
    }


def _crafted_opcodes(payload: dict) -> dict[str, tuple[bytes, str]]:
    """Opcodes on the wrong objects, and frames pickle never writes."""
    return {
        # 6 bytes: APPEND on a dict (list methods on whatever the stack holds).
        "append_on_dict": (PROTO4 + EMPTY_DICT + NONE + APPEND + STOP, r"APPEND on a dict of 0 items \(only a list"),
        "appends_on_box": (PROTO4 + name("box.box", "Box") + EMPTY_TUPLE + b"\x81" + MARK + NONE + b"e" + STOP,
                           r"APPENDS on a BoxRecord of 0 items \(only a list"),
        "setitem_on_list": (PROTO4 + EMPTY_LIST + text("k") + NONE + SETITEM + STOP, r"SETITEM on a list of 0 items"),
        "setitem_on_record": (PROTO4 + name("optax._src.base", "EmptyState") + EMPTY_TUPLE + b"\x81" + text("k")
                              + NONE + SETITEM + STOP, r"SETITEM on a EmptyStateRecord"),
        # An item taken from below a MARK (pickle's own stack keeps them apart).
        "append_across_a_mark": (PROTO4 + EMPTY_LIST + MARK + APPEND + STOP, r"takes an item from an empty stack"),
        # Frames (protocol 4-5) are read whole: one may not announce more than the file holds,
        # start inside another, or end inside an opcode's argument (pickle never writes these).
        "frame_past_the_end": (PROTO4 + frame(2**40) + NONE + STOP, r"truncated: 1099511627776 bytes announced"),
        "frame_inside_a_frame": (PROTO4 + frame(10) + frame(1) + NONE + STOP + NONE * 9, r"a FRAME before the end"),
        "argument_across_a_frame": (
            PROTO4 + frame(2) + b"J\x01" + b"\x00\x00\x00" + STOP,
            r"4 bytes announced across the end of a frame",
        ),
    }


def _crafted(payload: dict) -> dict[str, tuple[bytes, str]]:
    """Files only a hand-written opcode stream can make."""
    return {**_crafted_objects(payload), **_crafted_bombs(payload), **_crafted_opcodes(payload)}


def _broken_payloads(payload: dict) -> dict[str, tuple[dict, str]]:
    """A real payload with one field broken: pickle writes these itself."""

    def changed(**fields):
        return {**payload, **fields}

    def without(key):
        return {k: v for k, v in payload.items() if k != key}

    def param(value):
        module = sorted(payload["params"])[0]
        name_ = sorted(payload["params"][module])[0]
        return changed(params={**payload["params"], module: {**payload["params"][module], name_: value}})

    def gumbel(**values):
        codebook = {**payload["state"]["codebook"], **{k: np.asarray(v) for k, v in values.items()}}
        return changed(state={**payload["state"], "codebook": codebook})

    first = payload["params"][sorted(payload["params"])[0]]
    shape = first[sorted(first)[0]].shape
    nan = np.zeros(shape, np.float32)
    nan.flat[0] = np.nan
    extra = {**payload["params"], "enc_conv0": {**payload["params"]["enc_conv0"], "extra": np.zeros(3, np.float32)}}
    files = {
        "format_version_nested_list": (changed(format_version=[[1]]), r"format_version is a list of 1 items"),
        "format_version_array": (changed(format_version=np.ones(3, np.int64)), r"format_version is a int64 array"),
        "format_version_string": (changed(format_version="1"), r"format_version is '1'; this code reads 1"),
        "step_array": (changed(step=np.array(5)), r"step: expected an integer"),
        "step_string": (changed(step="abc"), r"step: expected an integer .* got 'abc'"),
        "step_negative": (changed(step=-5), r"step: expected an integer in \[0, 2147483647\], got -5"),
        # Resume would print "saved" and write nothing; no run writes a step past its steps.
        "step_past_steps": (changed(step=payload["config"]["steps"] + 1), r"step: 9 is past the 8 steps of its config"),
        "params_nan": (param(nan), r"params/.*: a float32 array .* with NaN or infinite values"),
        "params_complex": (param(np.zeros(shape, np.complex64)), r"dtype 'c8'"),
        "params_unicode": (param(np.array(["abc"] * 4)), r"dtype 'U3'"),
        "params_object": (param(np.array([1, "a"], dtype=object)), r"dtype 'O8'"),
        "params_float64": (param(np.zeros(shape, np.float64)), r"the model expects a float32 array"),
        "params_extra": (changed(params=extra), r"parameter names differ .*unexpected \['extra'\]"),
        "rng_float_wrong_shape": (changed(rng=np.zeros(3, np.float32)), r"rng: expected a raw jax key"),
        "config_step_type": (changed(config={**payload["config"], "steps": "many"}), r"steps must be int, got 'many'"),
        # Values past what the code runs: each was a traceback, a petabyte allocation or an
        # endless compile in some entry point.
        **{f"config_{field}_{name}": (changed(config={**payload["config"], field: value}), message)
           for field, name, value, message in [
               ("batch_size", "2_40", 2**40, r"--batch_size must be at most 65,536, got 1099511627776"),
               ("num_categories", "2_62", 2**62, r"--K \(num_categories\) must be at most 4,096"),
               ("steps", "2_31", 2**31, r"--steps must be at most 1,000,000,000"),
               ("steps_per_dispatch", "100000", 100_000, r"--steps_per_dispatch must be at most 1,000"),
               ("save_path", "nul", "runs/\0/", r"--save_path holds a NUL character"),
               ("save_path", "surrogate", "runs/\udc80/", r"--save_path holds a lone surrogate"),
               ("seeds", "150000", ",".join(map(str, range(150_000))), r"--seeds must be at most 4096 characters"),
           ]},
        "unknown_key": (changed(extra_field=1), r"unexpected keys: 'extra_field'"),
        # Parameter keys, history field names: a megabyte key was a megabyte line.
        "param_key_escapes": (changed(params={**payload["params"], TERMINAL + "k" * 1_000_000: {}}),
                              r"parameter names differ \(missing \[\], unexpected \['\\x1b\]0;owned"),
        "history_field_escapes": (changed(config_history=[{"step": 1, "changed": {TERMINAL * 100: [1, 2]}}]),
                                  rf"config_history\[0\]\.changed\.\\x1b\]0;owned.*\.\.\. \({len(TERMINAL) * 100:,} "
                                  r"characters\)"),
        # A save_path for the terminal is never printed (resume writes beside the file).
        "save_path_escapes": (changed(step=payload["config"]["steps"] + 1,
                                      config={**payload["config"], "save_path": TERMINAL.replace("\x00", "") + "/"}),
                              r"past the 8 steps"),
        # A module replaced by an array: its elements were compared with the model's names.
        "params_module_array": (changed(params={**payload["params"], "enc_conv0": np.zeros((3, 3), np.float32)}),
                                r"params/enc_conv0: expected a module \(a dict of arrays\), got a float32 array"),
        "params_module_0d": (changed(params={**payload["params"], "enc_conv0": np.ones((), np.float32)}),
                             r"params/enc_conv0: expected a module \(a dict of arrays\), "
                             r"got a float32 array of shape \(\)"),
        "state_module_number": (changed(state={"codebook": 3}), r"state/codebook: expected a module"),
        # Finite, but numbers the model cannot compute with: a zero temperature divides the
        # logits by zero (the gap and the ELBO were NaN after every metric had run).
        "state_lambda_zero": (gumbel(**{"lambda": np.float32(0.0)}),
                              r"state/codebook/lambda: 0\.0 is outside \[0\.001, 1000\] \(the Gumbel-softmax"),
        "state_scale_absurd": (gumbel(scale=np.float32(1e30)),
                               r"state/codebook/scale: 1\.0\d*e\+30 is outside \[0, 1000\]"),
    }
    for key in ("params", "state", "step", "opt_state", "rng", "config"):
        files[f"missing_{key}"] = (without(key), rf"checkpoint lacks \['{key}'\]")
    return files


def _authors_variants(folder: Path) -> dict[str, tuple[dict, str]]:
    """The authors' file (tests/authors_fixtures.py) with one part broken."""
    from box import Box

    from tests.authors_fixtures import read_with_pickle, write_authors_checkpoint

    (folder / "authors").mkdir()
    raw = read_with_pickle(write_authors_checkpoint(folder / "authors"))
    deep = np.zeros(1, np.float32)
    for _ in range(40):
        deep = {"x": deep}
    params = raw["train_state"].params
    nan = np.array(params["enc_conv0"]["w"])
    nan.flat[0] = np.nan
    config = raw["config"].to_dict()
    config["dataset"]["decode_res"] = 64

    def with_params(**modules):
        return {**raw, "train_state": raw["train_state"]._replace(params={**params, **modules})}

    def with_gumbel(**values):
        state = raw["train_state"].state
        return {**raw, "train_state": raw["train_state"]._replace(state={**state, "~": {**state["~"], **values}})}

    return {
        "authors_deep_params": (with_params(enc_conv0=deep), r"nested more than 32 deep"),
        "authors_nan_params": (
            with_params(enc_conv0={**params["enc_conv0"], "w": nan}),
            r"params/enc_conv0/w: a float32 array .* with NaN or infinite values",
        ),
        "authors_lambda_zero": (with_gumbel(**{"lambda": np.array(0.0, np.float32)}),
                                r"state/codebook/lambda: 0\.0 is outside \[0\.001, 1000\]"),
        # Their loop writes the scale back as a plain number: one float32 cannot hold (numpy's
        # cast warned on the terminal before the refusal).
        "authors_scale_1e300": (with_gumbel(scale=1e300), r"state/~/scale: 1e\+300 is not a finite float32"),
        "authors_key_escapes": (with_params(**{TERMINAL: {"w": np.zeros(1, np.float32)}}),
                                r"parameter names differ \(missing \[\], unexpected \['\\x1b\]0;owned"),
        "authors_module_array": (with_params(enc_conv0=np.zeros((2, 2), np.float32)),
                                 r"params/enc_conv0: expected a module \(a dict of arrays\), found a float32 array"),
        "authors_decode_res_int": ({**raw, "config": Box(config, frozen_box=True)}, r"dataset\.decode_res is 64;"),
        # `hard != 0` made NaN a True flag.
        "authors_hard_nan": (with_gumbel(hard=np.array(np.nan, np.float32)),
                             r"state/~/hard: expected 0\.0 or 1\.0 \(a flag\), got a float32 array of shape \(\) "
                             r"holding nan"),
    }


def hostile_files(folder, payload: dict) -> dict[str, tuple[Path, str]]:
    """Write every hostile file into `folder`: {name: (path, regex of its refusal)}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    # The file's own name is text for the terminal too (it comes from a glob of the folder).
    named = folder / ("named" + TERMINAL.replace("/", "|").replace("\x00", "") + ".pkl")
    named.write_bytes(PROTO4 + NONE + STOP)
    out["file_name_escapes"] = (named, r"named\\x1b\]0;owned\\x07.*: not an lddr checkpoint")
    # Sparse files: limits follow the bytes stored, not the size claimed.
    for key, claimed in (("sparse_6gb", 6 << 30), ("sparse_1gb", 1 << 30)):
        path = sparse_file(folder / f"{key}.pkl", claimed)
        if path is not None:
            out[key] = (path, r"more than 4x the file's size in memory \(a sparse file: [\d,]+ of its")
    for key, (content, message) in _crafted(payload).items():
        out[key] = (folder / f"{key}.pkl", message)
        out[key][0].write_bytes(content)
    for key, (broken, message) in _broken_payloads(payload).items():
        out[key] = (folder / f"{key}.pkl", message)
        out[key][0].write_bytes(pickle.dumps(broken, protocol=5))
    from tests.authors_fixtures import dump_as_authors

    for key, (broken, message) in _authors_variants(folder).items():
        out[key] = (dump_as_authors(broken, folder / f"{key}.pkl"), message)
    return out


def real_payload() -> dict:
    """A real D-VAE payload (small architecture, freshly initialised), as run.py writes it: the
    file every attack starts from."""
    import jax.numpy as jnp

    from checkpoints import checkpoint
    from configs import Config
    from models import build_model
    from training.resume import checkpoint_payload
    from training.step import init_train_state

    config = Config(num_latents=3, num_categories=4, hidden_size=16, steps=8, batch_size=8, eval_every=0)
    model = build_model(config, 1)
    ts = init_train_state(model, jnp.zeros((1, 64, 64, 1), jnp.float32))
    return {"format_version": checkpoint.FORMAT_VERSION, **checkpoint_payload(config, ts)}
