"""The one atomic writer: checkpoints, eval JSON, run logs, caches and downloads go through it.

A reader never sees half a file, and an interrupted write leaves the previous file intact:
the content goes to a temp file in the destination's folder (same file system, so the final
rename is atomic), is flushed and fsynced, gets the permissions of an ordinary new file
(0666 minus the umask; `mkstemp` would leave 0600, unreadable to collaborators), and is then
renamed over the destination. On any failure the temp file is removed.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish(temp: str, path: Path, replace: bool) -> None:
    """The finished temp file becomes `path`. Without `replace`, an existing `path` is a
    FileExistsError, decided by the file system at that moment (a hard link is never made over
    an existing name), so a file appearing since any earlier check is not replaced either."""
    if replace:
        os.replace(temp, path)
        return
    try:
        os.link(temp, path)
    except FileExistsError:
        raise
    except OSError:             # a file system without hard links: check, then rename
        if path.exists():
            raise FileExistsError(f"{path} exists") from None
        os.replace(temp, path)
        return
    os.unlink(temp)


@contextmanager
def atomic_write(path: str | Path, mode: str = "wb", replace: bool = True):
    """`with atomic_write(path, "w") as f: f.write(...)` -> `path` replaced on success only;
    with `replace=False` an existing `path` is kept and FileExistsError raised."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes whole files: mode 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, 0o666 & ~_umask())
        _publish(temp, path, replace)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def plain_json(value):
    """numpy / jax scalars and containers -> JSON-able Python values (NaN -> None)."""
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    if hasattr(value, "shape") and np.ndim(value) == 0:
        return plain_json(np.asarray(value).item())
    return str(value)


def write_json_atomic(path, obj) -> Path:
    """`obj` as JSON (numpy values made plain, NaN as null) to `path`, atomically."""
    path = Path(path)
    with atomic_write(path, "w") as f:
        json.dump(plain_json(obj), f, indent=2, allow_nan=False)
        f.write("\n")
    return path
