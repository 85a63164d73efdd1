"""File helpers shared by the loaders: checked npz members, load timing, one-line errors.

Every failure a user can cause (missing file, wrong key, wrong dtype or shape, truncated or
corrupt file) is turned into a `DataError` whose message names the path and what was
expected, so nobody has to read a traceback from inside numpy or zipfile.
"""
from __future__ import annotations

import sys
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from data.base import DataError

# Local file header of a zip member: 30 fixed bytes, then the name and the extra field.
_ZIP_LOCAL_HEADER = 30


def log(message: str) -> None:
    """Loader messages (load times, which file variant was found) go to stderr."""
    print(message, file=sys.stderr, flush=True)


@contextmanager
def timed(what: str):
    """Log how long the block took: `what ... in 3.2 s`."""
    start = time.perf_counter()
    yield
    log(f"{what} in {time.perf_counter() - start:.1f} s")


def one_line(err: BaseException) -> str:
    """An exception's message squeezed onto one line (some libraries put newlines in them)."""
    return " ".join(str(err).split())


def gigabytes(array: np.ndarray) -> str:
    return f"{array.nbytes / 1e9:.2f} GB"


def check_array(array: np.ndarray, path: Path, key: str, dtype=None, shape=None) -> np.ndarray:
    """Check dtype and shape (None entries in `shape` match any size); one-line error otherwise."""
    if dtype is not None and array.dtype != np.dtype(dtype):
        raise DataError(f"{path}: {key!r} has dtype {array.dtype}, expected {np.dtype(dtype)}")
    if shape is not None:
        ok = array.ndim == len(shape) and all(
            want is None or want == got for want, got in zip(shape, array.shape))
        if not ok:
            want = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
            raise DataError(f"{path}: {key!r} has shape {list(array.shape)}, expected {want}")
    return array


def _stored_member_memmap(path: Path, zf: zipfile.ZipFile, member: str):
    """A read-only memmap of an uncompressed .npy member of a zip, or None if not possible.

    `np.load` ignores `mmap_mode` for .npz files; but an npz written by `np.savez` stores its
    members uncompressed, so the array bytes sit contiguously in the file and can be mapped
    directly. That avoids holding a second copy and makes loading a 12 GB file instant.
    """
    info = zf.getinfo(member)
    if info.compress_type != zipfile.ZIP_STORED:
        return None
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        header = f.read(_ZIP_LOCAL_HEADER)
        if len(header) != _ZIP_LOCAL_HEADER or header[:4] != b"PK\x03\x04":
            return None
        name_len = int.from_bytes(header[26:28], "little")
        extra_len = int.from_bytes(header[28:30], "little")
        f.seek(info.header_offset + _ZIP_LOCAL_HEADER + name_len + extra_len)
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            return None
        if dtype.hasobject:
            return None
        offset = f.tell()
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if offset + nbytes > path.stat().st_size:
        raise DataError(f"{path}: member {member!r} is truncated (expected {nbytes} bytes of "
                        f"data); download the file again")
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                     order="F" if fortran else "C")


def read_npz(path: Path, keys, *, mmap: bool = False, allow_pickle: bool = False) -> dict:
    """{key: array} for the given keys of an .npz file, with one-line errors.

    mmap=True maps uncompressed members instead of reading them (falls back to reading).
    allow_pickle is only for dSprites' pickled `metadata` (saved by Python 2, hence latin1).
    """
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise DataError(f"{path}: not a readable .npz file ({one_line(err)}); it may be "
                        f"truncated, download it again") from None
    with zf:
        present = {name[:-4] for name in zf.namelist() if name.endswith(".npy")}
        missing = [k for k in keys if k not in present]
        if missing:
            raise DataError(f"{path}: missing key(s) {missing}, expected {list(keys)} "
                            f"(found {sorted(present)})")
        out = {}
        for key in keys:
            array = _stored_member_memmap(path, zf, key + ".npy") if mmap else None
            if array is None:
                try:
                    with zf.open(key + ".npy") as member:
                        array = np.lib.format.read_array(
                            member, allow_pickle=allow_pickle,
                            pickle_kwargs={"encoding": "latin1"})
                except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
                    raise DataError(f"{path}: cannot read {key!r} ({one_line(err)}); the file "
                                    f"may be truncated or corrupt, download it again") from None
            out[key] = array
    return out


def read_small_npz(path, required, optional=(), max_member_bytes: int = 64 * 2**20) -> dict:
    """{name: array} of an npz written by this project (records of codes), read as a stranger's
    file: exactly the `required` members and any of the `optional` ones, each a plain numeric or
    string array whose header declares at most `max_member_bytes`, read with that bound (a
    member's zip sizes are not trusted), no pickles. A one-line DataError says what is wrong."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = {name.removesuffix(".npy") for name in archive.namelist()}
            unexpected = sorted(names - set(required) - set(optional))
            missing = sorted(set(required) - names)
            if unexpected or missing or len(archive.namelist()) != len(names):
                raise DataError(f"{path}: expected the arrays {', '.join(required)}"
                                + (f" (and optionally {', '.join(optional)})" if optional else "")
                                + f", found {', '.join(sorted(names)[:12]) or 'none'}")
            return {name: _bounded_member(archive, name, path, max_member_bytes) for name in sorted(names)}
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{path}: not a readable npz file ({one_line(error)[:200]})") from None


def _bounded_member(archive: zipfile.ZipFile, name: str, path: Path, max_bytes: int) -> np.ndarray:
    """One .npy member: its header checked, then exactly its declared bytes read."""
    with archive.open(name + ".npy") as member:
        version = np.lib.format.read_magic(member)
        if version not in ((1, 0), (2, 0)):
            raise DataError(f"{path}: {name!r} is not a .npy array of format 1 or 2")
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(member)
        if dtype.hasobject or dtype.kind not in "biufU" or dtype.fields is not None:
            raise DataError(f"{path}: {name!r} has dtype {dtype}, expected a plain number or string array")
        nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if nbytes > max_bytes:
            raise DataError(f"{path}: {name!r} declares {nbytes} bytes, more than such a file holds ({max_bytes})")
        data = member.read(nbytes)
    if len(data) != nbytes:
        raise DataError(f"{path}: {name!r} is truncated ({len(data)} of {nbytes} bytes)")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C").copy()
