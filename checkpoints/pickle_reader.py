"""A pickle reader that interprets the stream instead of running it: checkpoints from strangers.

`pickle.Unpickler`, even with `find_class` restricted, hands the file's opcodes to Python's
machinery: REDUCE calls whatever global the file names with arguments the file chooses, BUILD
sets attributes on it, numpy rebuilds dtypes from a state the file writes (object fields read
the file's bytes as pointers), and the memo, hashing and nesting follow the file's numbers.
This reader executes none of that. It walks the opcodes of protocols 2-5 itself and builds only:

- None, booleans, ints (at most 64 bits), floats, strings, lists, tuples, and dicts with string
  keys;
- numpy arrays and scalars of a plain numeric dtype (bool, int8-64, uint8-64, float16-64),
  copied from the file's bytes into a fresh buffer: element count x item size = bytes in the
  file (no strides, no object, structured, sub-array, string or complex dtypes);
- the caller's stand-ins for named classes (`Global(kind="record" | "mapping")`), constructed by
  this module from data it has checked.

A global named by the file becomes a `Global` token from the caller's table; REDUCE, NEWOBJ and
BUILD on a token run this module's own construction for that kind, never the file's object,
and nothing the file names is called or changed. Everything else is refused in one line
(`PickleRefused`) naming the opcode, the global or the limit it met.

Limits, all proportional to the bytes the file holds (the size of a file whose blocks the file
system has not all stored, a sparse one, is taken as what it stores, not what it claims):
opcodes (also an absolute cap, so time is bounded); bytes built (`BUDGET_FACTOR` times the file
plus a little): arrays, strings, frames, containers, and also every stack slot, mark, memo
entry, number object and half-built numpy object, each charged before it is made; nesting
depth; and each value counted as a tree at every use of a shared reference, both its parts
(a few bytes of memo references cannot stand for an exponential structure) and its arrays'
bytes (one large array referenced as every leaf is as large as all its copies). A container
cannot be changed once it is inside another, so no structure can contain itself.
"""
from __future__ import annotations

import functools
import io
import os
import struct
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from configs import describe
from configs.text import printable

MAX_DEPTH = 32                 # containers inside containers (checkpoints need < 10)
MAX_OPCODES = 2_000_000        # real checkpoints use thousands; bounds the time on any file
BUDGET_FACTOR = 4              # bytes built <= BUDGET_FACTOR x file size + BUDGET_SLACK
BUDGET_SLACK = 1 << 20
MAX_INT_BYTES = 8              # LONG1 integers: 64 bits
MAX_NAME = 200                 # characters of a global's module or name
# numpy dtype codes an array or scalar may have: plain numbers only.
DTYPE_CODES = ("b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8")
_CONTAINER_COST = 256          # bytes charged per container (its Python object and bookkeeping), plus 8 per item
# Bytes charged for what is not an array, string or container (CPython's sizes, rounded up):
_SLOT = 8                      # a stack slot or a mark (a pointer in a list)
_NUMBER = 40                   # a slot and an int or float object (small ints are shared: slot only)
_MEMO_ENTRY = 112              # a memo dict entry with its int key, and the dict's spare room as it grows
_PENDING = 96                  # a half-built numpy object (_Pending and its list of memo keys)
_SCALAR = 64                   # a numpy scalar object
MAX_PARTS = MAX_OPCODES        # parts of one value counted at every use: what its checks iterate


class PickleRefused(ValueError):
    """The file is not a pickle this reader builds; the message is one line."""


@dataclass(frozen=True)
class Global:
    """What a (module, name) in a file stands for. Kinds:
    ndarray, reconstruct (numpy's `_reconstruct`), frombuffer (numpy's `_frombuffer`), dtype,
    scalar (numpy's `scalar`), encode (`_codecs.encode`, protocol 2's bytes), empty_bytes
    (`bytes()`, protocol 2's empty bytes), jax_array (jax's
    `_reconstruct_array`), record (`cls` is a NamedTuple built from NEWOBJ/REDUCE arguments)
    and mapping (`cls` is a dict subclass: NEWOBJ with no arguments, items, one BUILD whose
    state is dropped)."""
    kind: str
    name: str
    cls: type | None = None

    def describe(self) -> str:
        return f"the global {self.name}"


class _Pending:
    """A numpy object between its REDUCE and its BUILD (an array, or a dtype), replaced on the
    stack and in the memo by what the BUILD makes."""
    __slots__ = ("kind", "code", "memo_keys")

    def __init__(self, kind: str, code: str | None = None):
        self.kind, self.code, self.memo_keys = kind, code, []


def _plain_dtype(code, byteorder: str = "=") -> np.dtype:
    if type(code) is not str or code not in DTYPE_CODES:
        raise PickleRefused(f"dtype {describe(code)}: only {', '.join(DTYPE_CODES)} are read")
    if type(byteorder) is not str or len(byteorder) != 1 or byteorder not in "<>=|":
        raise PickleRefused(f"dtype byte order {describe(byteorder)}")
    return _dtype_of(code, byteorder)


@functools.lru_cache(maxsize=len(DTYPE_CODES) * 4)
def _dtype_of(code: str, byteorder: str) -> np.dtype:
    """One dtype object per (code, byte order), made once: dtypes are immutable, and a file
    that builds the same dtype 100,000 times then costs a lookup each, not numpy's constructor."""
    dtype = np.dtype(code)
    swapped = dtype.newbyteorder(byteorder) if byteorder in "<>" else dtype
    return dtype if swapped.isnative else swapped      # native is '=', as numpy unpickles it


class _Raw:
    """Bytes of the file (BINBYTES and the like), read straight into a fresh buffer. The first
    array built from them takes that buffer; any later one gets a copy, so no two arrays share
    memory. Not a value: left in the result, it is refused."""
    __slots__ = ("buffer", "owned")

    def __init__(self, buffer: np.ndarray, owned: bool = True):
        self.buffer, self.owned = buffer, owned     # uint8 [n]

    def __len__(self) -> int:
        return len(self.buffer)

    def describe(self) -> str:
        return f"{len(self.buffer)} bytes"

    def equals(self, data: bytes) -> bool:
        return len(self.buffer) == len(data) and self.buffer.tobytes() == data

    def take(self) -> np.ndarray:
        """The buffer itself the first time, a copy afterwards."""
        if self.owned:
            self.owned = False
            return self.buffer
        return self.buffer.copy()


class _Reader:
    def __init__(self, file: BinaryIO, size: int, globals_: dict, on_array=None, present: int | None = None):
        """`size`: the bytes the file says it has (announced lengths must fit in them);
        `present`: the bytes it holds (the limits follow them; `size` when not told)."""
        present = size if present is None else present
        self.file, self.size, self.pos, self.globals = file, size, 0, globals_
        self.present = present
        self.on_array = on_array
        # The current FRAME (protocol 4-5 group their small opcodes in frames of about 64 KiB):
        # read whole, then parsed by index, which is most of this reader's speed. `pos` is the
        # file offset after the frame; array bytes outside frames are read from the file directly.
        self.frame, self.frame_at = b"", 0
        self.stack: list = []
        self.marks: list[int] = []
        self.memo: dict[int, object] = {}
        # The array already built from a state or from bytes (the authors' jax arrays are rebuilt
        # from a state at every use): the same bytes used again in the same way give the same
        # array, not a copy; a shared array is then counted at every use (`absorb`).
        self.arrays: dict = {}
        # id -> [object, depth, parts, sealed, array bytes] for every container built (keeps ids
        # unique); parts and array bytes count a shared item at each use.
        self.info: dict[int, list] = {}
        self.limit = BUDGET_FACTOR * present + BUDGET_SLACK
        self.budget = self.limit
        self.max_parts = min(present + 1000, MAX_PARTS)

    # -- bookkeeping ---------------------------------------------------------------------------
    def charge(self, nbytes: int):
        self.budget -= nbytes
        if self.budget < 0:
            sparse = f" (a sparse file: {self.present:,} of its {self.size:,} bytes are stored)" \
                if self.present < self.size else ""
            raise PickleRefused(f"builds more than {BUDGET_FACTOR}x the file's size in memory{sparse}")

    def new_container(self, value, items=()):
        entry = self.info[id(value)] = [value, 1, 1, False, 0]
        self.absorb(entry, items, _CONTAINER_COST)
        return value

    def add(self, container, items, kind: type, opcode: str):
        """Items appended (`kind` list) or set (`kind` dict: a dict or a mapping stand-in) into
        an open container built by this reader; anything else (a tuple, a record, an array, a
        value never built here) is refused before it is touched."""
        entry = self.info.get(id(container))
        if entry is None or entry[0] is not container or not isinstance(container, kind) \
                or (kind is list and type(container) is not list):
            raise PickleRefused(f"{opcode} on {describe(container)} (only a {kind.__name__} takes them)")
        self.absorb(entry, items)

    def absorb(self, entry: list, items, cost: int = 0):
        """Count `items` into a container's [object, depth, size, sealed] entry, within the limits
        (`cost`: bytes charged besides the items'). Each item is sealed: from now on it cannot
        change, so nothing can ever contain itself."""
        info, depth, size, weight = self.info, entry[1], entry[2], entry[4]
        for item in items:
            item_entry = info.get(id(item))
            if item_entry is not None and item_entry[0] is item:
                item_entry[3] = True
                depth, size, weight = max(depth, item_entry[1] + 1), size + item_entry[2], weight + item_entry[4]
            elif type(item) is _Pending:
                raise PickleRefused(f"a numpy {item.kind} used before its state was set")
            else:
                size += 1
                if type(item) is np.ndarray:
                    weight += item.nbytes
        if entry[3]:      # also when an item was the container itself
            raise PickleRefused("a list or dict changed after it was stored in another (a cycle)")
        entry[1], entry[2], entry[4] = depth, size, weight
        self.charge(cost + 8 * len(items))
        if depth > MAX_DEPTH:
            raise PickleRefused(f"containers nested more than {MAX_DEPTH} deep")
        if size > self.max_parts:
            raise PickleRefused(f"a value with more parts than the file has bytes or than {MAX_PARTS:,} (shared "
                                "references standing for a much larger structure)")
        if weight > self.limit:
            raise PickleRefused(f"a value whose arrays, counted at every use, come to more than {BUDGET_FACTOR}x "
                                "the file's size (one array shared by many leaves: each use may become a copy)")

    # -- input ---------------------------------------------------------------------------------
    def at(self) -> int:
        """The file offset of the next byte to parse."""
        return self.pos - len(self.frame) + self.frame_at

    def announced(self, n: int):
        """`n` more bytes are about to be read: refused if the file has fewer."""
        if n < 0 or self.at() + n > self.size:
            raise PickleRefused(f"truncated: {n} bytes announced at byte {self.at()}, {self.size - self.at()} left")

    def from_frame(self, n: int) -> int | None:
        """The frame offset of the next `n` bytes if the current frame holds them; None once the
        frame is used up (the bytes then come from the file); refused if they would cross its end."""
        at = self.frame_at
        if at == len(self.frame):
            return None
        if n < 0 or at + n > len(self.frame):
            raise PickleRefused(f"{n} bytes announced across the end of a frame at byte {self.at()}")
        self.frame_at = at + n
        return at

    def read_file(self, n: int) -> bytes:
        self.announced(n)
        chunk = self.file.read(n)
        self.pos += len(chunk)
        if len(chunk) != n:
            raise PickleRefused(f"truncated at byte {self.pos} (the file changed while being read)")
        return chunk

    def read(self, n: int) -> bytes:
        at = self.from_frame(n)
        return self.read_file(n) if at is None else self.frame[at:at + n]

    def read_raw(self, n: int) -> _Raw:
        """`n` bytes into a fresh buffer, with no intermediate copy."""
        self.announced(n)
        self.charge(n + 128)
        buffer = np.empty(n, np.uint8)
        at = self.from_frame(n)
        if at is not None:
            buffer[:] = memoryview(self.frame)[at:at + n]
            return _Raw(buffer)
        got = self.file.readinto(memoryview(buffer)) if n else 0
        self.pos += got or 0
        if got != n:
            raise PickleRefused(f"truncated at byte {self.pos} (the file changed while being read)")
        return _Raw(buffer)

    def read_frame(self, n: int):
        if self.frame_at != len(self.frame):
            raise PickleRefused("a FRAME before the end of the previous one")
        self.announced(n)
        self.charge(n)
        self.frame, self.frame_at = self.read_file(n), 0

    def read_line(self) -> str:
        """A GLOBAL's module or name: a short line."""
        at = self.frame_at
        if at < len(self.frame):
            end = self.frame.find(b"\n", at, at + MAX_NAME + 1)
            line = self.frame[at:end + 1] if end >= 0 else b""
            self.frame_at = end + 1 if end >= 0 else at
        else:
            line = self.file.readline(MAX_NAME + 1)
            self.pos += len(line)
        if not line.endswith(b"\n"):
            raise PickleRefused("GLOBAL without a short name line")
        return line[:-1].decode("utf-8", "replace")

    def byte(self) -> int:
        """A one-byte argument (the commonest kind)."""
        at = self.frame_at
        if at < len(self.frame):
            self.frame_at = at + 1
            return self.frame[at]
        return self.read(1)[0]

    def unpack(self, layout: struct.Struct):
        if layout is _U8:
            return self.byte()
        at = self.frame_at
        if at + layout.size <= len(self.frame):
            self.frame_at = at + layout.size
            return layout.unpack_from(self.frame, at)[0]
        return layout.unpack(self.read(layout.size))[0]

    def built(self, array: np.ndarray) -> np.ndarray:
        if self.on_array is not None:
            self.on_array(array)
        return array

    def floor(self) -> int:
        """Where the items an opcode may take start: above the last MARK."""
        return self.marks[-1] if self.marks else 0

    def pop(self):
        """The top item, which must lie above the last MARK (an opcode never takes a marked
        item; pickle's own stack keeps them apart)."""
        if len(self.stack) <= self.floor():
            raise PickleRefused("an opcode takes an item from an empty stack")
        return self.stack.pop()

    def top(self):
        if len(self.stack) <= self.floor():
            raise PickleRefused("an opcode needs an item on the stack and there is none")
        return self.stack[-1]

    def pop_mark(self) -> list:
        if not self.marks:
            raise PickleRefused("an opcode needs a MARK and there is none")
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    # -- the loop ------------------------------------------------------------------------------
    def run(self):
        head = self.read_file(2) if self.size >= 2 else b""
        if len(head) < 2 or head[0] != 0x80 or not 2 <= head[1] <= 5:
            raise PickleRefused("not a pickle of protocol 2 to 5 (checkpoints are written with 2-5)")
        for _ in range(MAX_OPCODES):
            at, frame = self.frame_at, self.frame
            if at < len(frame):
                code, self.frame_at = frame[at], at + 1
            else:
                byte = self.file.read(1)
                self.pos += len(byte)
                if not byte:
                    raise PickleRefused(f"truncated: the file ends at byte {self.pos} without a STOP")
                code = byte[0]
            handler = _HANDLERS[code]
            if handler is None:
                raise PickleRefused(f"opcode {bytes([code])!r} at byte {self.at() - 1} is not one a checkpoint uses")
            try:
                if handler(self) is _STOP:
                    return self.finish()
            except PickleRefused as error:
                raise PickleRefused(f"{error} (opcode at byte {self.at() - 1})") from None
            except (AttributeError, IndexError, KeyError, TypeError, ValueError, OverflowError, struct.error) as error:
                # Every opcode checks its operands; this is the net under those checks.
                raise PickleRefused(f"malformed pickle near byte {self.at()} ({type(error).__name__} "
                                    f"on opcode {bytes([code])!r})") from None
        raise PickleRefused(f"more than {MAX_OPCODES} opcodes (checkpoints use thousands)")

    def finish(self):
        if len(self.stack) != 1 or self.marks:
            raise PickleRefused("the pickle ends with a malformed stack")
        if self.at() != self.size or self.file.read(1):
            raise PickleRefused(f"{self.size - self.at()} bytes after the end of the pickle")
        root = self.stack[0]
        _check_plain(root)
        return root


_STOP, _MISSING = object(), object()
_U8, _U16, _U32, _I32, _U64, _F64 = (struct.Struct(f) for f in ("<B", "<H", "<I", "<i", "<Q", ">d"))


def _check_plain(root):
    """Every value reachable from the result is data (no global, dtype, bytes or half-built array)."""
    seen, todo = set(), [root]
    while todo:
        value = todo.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, dict):
            todo.extend(value.values())
        elif isinstance(value, (list, tuple)):
            todo.extend(value)
        elif type(value) is _Raw or not (value is None or isinstance(value, (bool, int, float, str, np.ndarray,
                                                                                np.generic))):
            raise PickleRefused(f"{describe(value)} stored as a value")


# -- opcodes: one small function each ---------------------------------------------------------
def _proto(r):
    r.read(1)


def _frame(r):
    r.read_frame(r.unpack(_U64))


def _stop(r):
    return _STOP


def _mark(r):
    r.charge(_SLOT)
    r.marks.append(len(r.stack))


def _pop(r):
    # As pickle's POP: the top item, or the last MARK when nothing lies above it.
    if len(r.stack) > r.floor():
        r.stack.pop()
    else:
        r.pop_mark()


def _pop_mark(r):
    r.pop_mark()


def _push(value):
    def handler(r):
        r.charge(_SLOT)
        r.stack.append(value)
    return handler


def _int(layout: struct.Struct):
    cost = _SLOT if layout is _U8 else _NUMBER      # 0-255 are CPython's shared small ints

    def handler(r):
        r.charge(cost)
        r.stack.append(r.unpack(layout))
    return handler


def _long1(r):
    n = r.unpack(_U8)
    if n > MAX_INT_BYTES:
        raise PickleRefused(f"an integer of {n} bytes (at most {MAX_INT_BYTES})")
    r.charge(_NUMBER)
    r.stack.append(int.from_bytes(r.read(n), "little", signed=True))


def _float(r):
    r.charge(_NUMBER)
    r.stack.append(r.unpack(_F64))


def _text(layout: struct.Struct):
    def handler(r):
        n = r.unpack(layout)
        r.charge(n + 64)
        try:
            r.stack.append(r.read(n).decode("utf-8", "surrogatepass"))
        except UnicodeDecodeError:
            raise PickleRefused("a string that is not UTF-8") from None
    return handler


def _bytes(layout: struct.Struct):
    return lambda r: r.stack.append(r.read_raw(r.unpack(layout)))


def _empty(factory):
    return lambda r: r.stack.append(r.new_container(factory()))


def _tuple(n: int | None):
    def handler(r):
        if n is None:
            items = r.pop_mark()
        else:
            if len(r.stack) - r.floor() < n:
                raise PickleRefused("a tuple opcode with too few items on the stack")
            items = r.stack[len(r.stack) - n:] if n else []
            del r.stack[len(r.stack) - n:]
        value = tuple(items)
        r.stack.append(r.new_container(value, value) if value else value)
    return handler


def _append(r):
    item = r.pop()
    target = r.top()
    r.add(target, [item], list, "APPEND")
    target.append(item)


def _appends(r):
    items = r.pop_mark()
    target = r.top()
    r.add(target, items, list, "APPENDS")
    target.extend(items)


def _set_items(target, items: list):
    for key in items[::2]:
        if type(key) is not str:
            raise PickleRefused(f"a dict key that is {describe(key)} (keys must be strings)")
    for key, value in zip(items[::2], items[1::2]):
        target[key] = value


def _setitem(r):
    value = r.pop()
    key = r.pop()
    target = r.top()
    r.add(target, [key, value], dict, "SETITEM")
    _set_items(target, [key, value])


def _setitems(r):
    items = r.pop_mark()
    if len(items) % 2:
        raise PickleRefused("SETITEMS with an odd number of items")
    target = r.top()
    r.add(target, items, dict, "SETITEMS")
    _set_items(target, items)


def _put(layout: struct.Struct | None):
    def handler(r):
        key = len(r.memo) if layout is None else r.unpack(layout)
        r.charge(_MEMO_ENTRY)
        value = r.memo[key] = r.top()
        if type(value) is _Pending:
            value.memo_keys.append(key)
    return handler


def _get(layout: struct.Struct):
    def handler(r):
        key = r.unpack(layout)
        value = r.memo.get(key, _MISSING)
        if value is _MISSING:
            raise PickleRefused(f"memo entry {key} is read before it is written")
        r.charge(_SLOT)
        r.stack.append(value)
    return handler


def _lookup(r, module, name):
    if not (type(module) is str and type(name) is str):
        raise PickleRefused("STACK_GLOBAL with names that are not strings")
    known = r.globals.get((module, name))
    if known is None:
        shown = f"{printable(module)}.{printable(name)}"
        raise PickleRefused(f"refusing to load {shown}: a checkpoint (this project's or the authors') "
                            "holds only plain containers, arrays and the authors' TrainState/Box/optax "
                            "states, so this file is either from another program or unsafe")
    r.charge(_SLOT)
    r.stack.append(known)


def _global(r):
    module = r.read_line()
    _lookup(r, module, r.read_line())


def _stack_global(r):
    name = r.pop()
    module = r.pop()
    _lookup(r, module, name)


def _reduce(r):
    args = r.pop()
    target = r.pop()
    if not isinstance(target, Global) or type(args) is not tuple:
        raise PickleRefused(f"REDUCE of {describe(target)}")
    r.stack.append(_call(r, target, args))


def _newobj(r):
    args = r.pop()
    target = r.pop()
    if not isinstance(target, Global) or target.kind not in ("record", "mapping") or type(args) is not tuple:
        raise PickleRefused(f"NEWOBJ of {describe(target)}")
    r.stack.append(_call(r, target, args))


def _build(r):
    state = r.pop()
    target = r.top()
    if isinstance(target, _Pending):
        built = _array_from_state(r, state) if target.kind == "array" else _dtype_from_state(target.code, state)
        r.stack[-1] = built
        for key in target.memo_keys:
            r.memo[key] = built
        return
    entry = r.info.get(id(target))
    if isinstance(target, dict) and type(target) is not dict and type(state) is dict \
            and entry is not None and entry[0] is target:
        if entry[3]:
            raise PickleRefused(f"a second BUILD of {type(target).__name__}")
        entry[3] = True   # a mapping's state (Box's options) is dropped; after it, no more items
        return
    raise PickleRefused(f"BUILD on {describe(target)} with {describe(state)}")


# -- what a REDUCE or NEWOBJ of a known global builds -----------------------------------------
def _call(r, target: Global, args: tuple):
    kind = target.kind
    if kind == "record":
        if len(args) != len(target.cls._fields):
            raise PickleRefused(f"{target.name} with {len(args)} fields, expected {len(target.cls._fields)}")
        return r.new_container(target.cls(*args), args)
    if kind == "mapping" and not args:
        return r.new_container(target.cls())
    if kind == "reconstruct":
        _check_reconstruct_args(args, target)
        r.charge(_PENDING)
        return _Pending("array")
    if kind == "dtype":
        # Operand types before any comparison: `==` on a file's array compares elementwise.
        if len(args) != 3 or args[1] is not False or args[2] is not True:
            raise PickleRefused(f"numpy.dtype with arguments {describe(args)}")
        _plain_dtype(args[0])
        r.charge(_PENDING)
        return _Pending("dtype", args[0])
    if kind == "frombuffer":
        if len(args) != 4 or type(args[3]) is not str or args[3] not in ("C", "F"):
            raise PickleRefused(f"{target.name} with arguments {describe(args)}")
        buffer, dtype, shape, order = args
        return r.built(_new_array(r, buffer, dtype, shape, order == "F"))
    if kind == "scalar":
        if len(args) != 2 or not isinstance(args[0], np.dtype) or type(args[1]) is not _Raw \
                or len(args[1]) != args[0].itemsize:
            raise PickleRefused(f"a numpy scalar from {describe(args)}")
        r.charge(_SCALAR)
        return args[1].buffer.view(args[0])[0]
    if kind == "empty_bytes" and not args:
        r.charge(128)
        return _Raw(np.empty(0, np.uint8))
    if kind == "encode":
        if len(args) != 2 or type(args[0]) is not str or type(args[1]) is not str \
                or args[1] not in ("latin1", "latin-1"):
            raise PickleRefused(f"_codecs.encode of {describe(args)} (only protocol 2's latin1 bytes)")
        r.charge(len(args[0]) + 64)
        try:
            return _Raw(np.frombuffer(args[0].encode("latin1"), np.uint8), owned=False)
        except UnicodeEncodeError:
            raise PickleRefused("protocol 2 bytes that are not latin1") from None
    if kind == "jax_array":
        if len(args) != 4 or not (isinstance(args[0], Global) and args[0].kind == "reconstruct") \
                or type(args[3]) is not dict:
            raise PickleRefused(f"a jax array from {describe(args)}")
        _check_reconstruct_args(args[1], args[0])
        return _array_from_state(r, args[2])
    raise PickleRefused(f"{target.name} called with {describe(args)}")


def _check_reconstruct_args(args, target: Global):
    if not (type(args) is tuple and len(args) == 3 and isinstance(args[0], Global) and args[0].kind == "ndarray"
            and type(args[1]) is tuple and len(args[1]) == 1 and type(args[1][0]) is int and args[1][0] == 0
            and type(args[2]) is _Raw and args[2].equals(b"b")):
        raise PickleRefused(f"{target.name} with arguments {describe(args)} (numpy writes (ndarray, (0,), b'b'))")


def _dtype_from_state(code, state) -> np.dtype:
    if not (type(state) is tuple and len(state) == 8
            and type(state[0]) is int and all(type(v) is int for v in state[5:])
            and state[0] == 3 and state[2] is None and state[3] is None and state[4] is None
            and state[5:] == (-1, -1, 0) and type(state[1]) is str):
        raise PickleRefused(
            f"a dtype state {describe(state)} (plain dtypes have (3, byteorder, None, None, None, -1, -1, 0))")
    return _plain_dtype(code, state[1])


def _array_from_state(r, state) -> np.ndarray:
    """numpy's ndarray state (1, shape, dtype, is_fortran, raw bytes) -> a fresh array."""
    if not (type(state) is tuple and len(state) == 5 and type(state[0]) is int and state[0] == 1
            and type(state[3]) is bool):
        raise PickleRefused(f"an array state {describe(state)} (numpy writes (1, shape, dtype, fortran, bytes))")
    known = r.arrays.get(id(state))
    if known is not None and known[0] is state:
        return known[1]
    _, shape, dtype, fortran, raw = state
    array = _new_array(r, raw, dtype, shape, fortran)
    # numpy's ndarray.__setstate__ turns non-native byte order into native (the values are
    # the same); `_frombuffer` (protocol 5) keeps it. Match both.
    if not array.dtype.isnative:
        r.charge(array.nbytes + 128)        # the native copy
        array = array.astype(array.dtype.newbyteorder("="), order="K")
    r.arrays[id(state)] = (state, array)
    return r.built(array)


def _new_array(r, raw, dtype, shape, fortran: bool) -> np.ndarray:
    if type(raw) is not _Raw:
        raise PickleRefused(f"array data that is {describe(raw)}")
    if not isinstance(dtype, np.dtype):
        raise PickleRefused(f"an array whose dtype is {describe(dtype)}")
    if type(shape) is not tuple or len(shape) > MAX_DEPTH or not all(type(n) is int and n >= 0 for n in shape):
        raise PickleRefused(f"an array shape {describe(shape)}")
    count = 1
    for n in shape:
        count *= n
    if count * dtype.itemsize != len(raw):
        raise PickleRefused(
            f"an array of shape {shape} and dtype {dtype} with {len(raw)} bytes of data "
            f"(expected {count * dtype.itemsize})"
        )
    key = (id(raw), dtype, shape, fortran)
    known = r.arrays.get(key)
    if known is not None and known[0] is raw:
        return known[1]
    if not raw.owned:
        r.charge(len(raw) + 128)        # a copy, charged before it is made
    array = raw.take().view(dtype).reshape(shape, order="F" if fortran else "C")
    r.arrays[key] = (raw, array)
    return array


_OPCODES = {
    b"\x80": _proto,
    b"\x95": _frame,
    b".": _stop,
    b"(": _mark,
    b"0": _pop,
    b"1": _pop_mark,
    b"N": _push(None),
    b"\x88": _push(True),
    b"\x89": _push(False),
    b"J": _int(_I32),
    b"K": _int(_U8),
    b"M": _int(_U16),
    b"\x8a": _long1,
    b"G": _float,
    b"\x8c": _text(_U8),
    b"X": _text(_U32),
    b"\x8d": _text(_U64),
    b"C": _bytes(_U8),
    b"B": _bytes(_U32),
    b"\x8e": _bytes(_U64),
    b"\x96": _bytes(_U64),
    b"}": _empty(dict),
    b"]": _empty(list),
    b")": _tuple(0),
    b"t": _tuple(None),
    b"\x85": _tuple(1),
    b"\x86": _tuple(2),
    b"\x87": _tuple(3),
    b"a": _append,
    b"e": _appends,
    b"s": _setitem,
    b"u": _setitems,
    b"\x94": _put(None),
    b"q": _put(_U8),
    b"r": _put(_U32),
    b"h": _get(_U8),
    b"j": _get(_U32),
    b"c": _global,
    b"\x93": _stack_global,
    b"R": _reduce,
    b"\x81": _newobj,
    b"b": _build,
}
_HANDLERS = [_OPCODES.get(bytes([code])) for code in range(256)]  # indexed by the opcode's byte


def read_pickle(file: BinaryIO | bytes, globals_: dict, on_array=None) -> object:
    """The value pickled in `file` (an open binary file, or bytes), built under the rules above;
    `globals_` maps (module, name) to the `Global` it stands for. `on_array(array)`, if given, is
    called on every array as it is built, while its bytes are still in the cache (a check of
    every value then costs a fraction of a pass over the loaded payload). Raises PickleRefused
    (one line) for anything else."""
    if isinstance(file, bytes):
        return _Reader(io.BytesIO(file), len(file), globals_, on_array).run()
    size, present = _sizes(file)
    return _Reader(file, size, globals_, on_array, present).run()


def _sizes(file: BinaryIO) -> tuple[int, int]:
    """(the bytes the file says it has from here, the bytes it holds). A sparse file (an 8 KB
    file that says it is 6 GB) holds only the blocks the file system stored (`st_blocks`); its
    holes read as zeros that no limit should be proportional to. Where the file system reports
    no blocks (some network file systems say 0), the size is all there is to go by."""
    status = os.fstat(file.fileno())
    size = max(status.st_size - file.tell(), 0)
    stored = getattr(status, "st_blocks", 0) * 512
    return size, (min(size, stored) if stored > 0 else size)
