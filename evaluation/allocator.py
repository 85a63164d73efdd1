"""The one process-wide setting evaluation wants: glibc's malloc keeping freed memory.

Set by the entry points that evaluate (eval.py, the sweep's evaluation jobs, the benchmarks),
not by the library: it changes the whole process.
"""
from __future__ import annotations

import ctypes
import ctypes.util

_MALLOC_SET = False


def keep_freed_memory() -> None:
    """Ask glibc's malloc to keep freed memory instead of returning it to the OS at once.

    Once per process. DCI's boosters allocate and free megabyte-sized numpy
    temporaries hundreds of thousands of times; by default each one is a fresh mmap, and the
    page faults cost a sixth of DCI's time (docs/metrics.md). Does nothing where mallopt is
    missing.
    """
    global _MALLOC_SET
    if _MALLOC_SET:
        return
    _MALLOC_SET = True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
        libc.mallopt(m_mmap_threshold, 1 << 30)
        libc.mallopt(m_trim_threshold, (1 << 31) - 1)
        libc.mallopt(m_top_pad, 1 << 28)
    except (OSError, AttributeError):
        pass
