"""Which machine computed a result: the CPU, the threads XLA may use, the backend and versions.

XLA's CPU results are deterministic on one machine with one thread count, but another thread
count changes the last float bits (docs/study_tc.md, "Reproduction"), and over thousands of steps
that makes a different run. So every training process writes this to its run log and every
evaluation to its JSON: a run that does not repeat can then be traced to its machine.
"""
from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The CPU's model name (Linux's /proc/cpuinfo), else what `platform` knows, else 'unknown'."""
    try:
        for line in Path(cpuinfo).read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, which `taskset` narrows), as XLA sees them."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def describe_machine() -> dict:
    """{cpu, cores, backend, devices, jax, jaxlib, numpy, xla_flags}: plain JSON values."""
    import jax
    import jaxlib
    import numpy as np
    return {"cpu": cpu_model(), "cores": usable_cores(), "backend": jax.default_backend(),
            "devices": sorted({d.device_kind for d in jax.devices()}),
            "jax": jax.__version__, "jaxlib": jaxlib.__version__, "numpy": np.__version__,
            "xla_flags": os.environ.get("XLA_FLAGS", "")}


# What XLA's allocator says when a buffer does not fit (jax.errors.JaxRuntimeError's text).
XLA_OUT_OF_MEMORY = ("RESOURCE_EXHAUSTED", "Out of memory")


def out_of_memory(error: BaseException) -> str | None:
    """A one-line account of an allocation that failed: numpy's MemoryError or XLA's
    RESOURCE_EXHAUSTED (a RuntimeError); None for any other error. Settings inside the config's
    bounds can still ask for more memory than this machine has; that is the user's to change,
    not a traceback to read."""
    if isinstance(error, MemoryError):
        what = str(error).splitlines()[0] if str(error) else "an array did not fit"
    elif isinstance(error, RuntimeError) and any(mark in str(error) for mark in XLA_OUT_OF_MEMORY):
        what = str(error).strip().splitlines()[0].rstrip(".")
    else:
        return None
    return f"out of memory: {what}"
