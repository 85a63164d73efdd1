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
