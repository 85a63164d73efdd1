"""The one atomic writer: checkpoints, eval JSON, run logs, caches and downloads go through it.

A reader never sees half a file, and an interrupted write leaves the previous file intact:
the content goes to a temp file in the destination's folder (same file system, so the final
rename is atomic), is flushed and fsynced, gets the permissions of an ordinary new file
(0666 minus the umask; `mkstemp` would leave 0600, unreadable to collaborators), and is then
renamed over the destination. On any failure the temp file is removed.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(path: str | Path, mode: str = "wb"):
    """`with atomic_write(path, "w") as f: f.write(...)` -> `path` replaced on success only."""
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
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
