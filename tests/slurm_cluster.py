"""Finding a reachable Slurm cluster for the tests marked `slurm`.

The cluster is the one named by $SLURM_CONF, else the one `scripts/local_slurm.sh up` writes
(/tmp/lddr-slurm/slurm.conf), else whatever the Slurm clients find on their own (a real
cluster's /etc/slurm/slurm.conf). Without one, the tests skip with the reason, except under
LDDR_REQUIRE_SLURM=1 (CI), where that is a failure.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

LOCAL_CONF = Path(os.environ.get("LDDR_SLURM_DIR", "/tmp/lddr-slurm")) / "slurm.conf"
HINT = "start one with `eval \"$(scripts/local_slurm.sh up)\"`"


@functools.lru_cache(maxsize=None)  # one sinfo per session (an unreachable controller takes ~10 s)
def find_cluster() -> tuple[dict, str | None]:
    """({SLURM_CONF: path} or {}, None) for a cluster with a usable node, or ({}, why not)."""
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return {}, f"no Slurm clients (sbatch, sinfo) on PATH; {HINT}"
    conf = os.environ.get("SLURM_CONF") or (str(LOCAL_CONF) if LOCAL_CONF.is_file() else None)
    env = {**os.environ, **({"SLURM_CONF": conf} if conf else {})}
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return {}, f"sinfo did not answer in 20 s (SLURM_CONF={conf}); {HINT}"
    states = out.stdout.split()
    if out.returncode != 0:
        return {}, f"no Slurm controller reachable (SLURM_CONF={conf}): {' '.join(out.stderr.split())[:200]}; {HINT}"
    if not any(s.rstrip("*~#") in ("idle", "mixed", "allocated", "completing") for s in states):
        return {}, f"no usable Slurm node (states {states}, SLURM_CONF={conf}); {HINT}"
    return ({"SLURM_CONF": conf} if conf else {}), None


def require_cluster() -> dict:
    """The environment additions for the cluster; skips (or fails under LDDR_REQUIRE_SLURM=1)."""
    import pytest
    env, why = find_cluster()
    if why is not None:
        if os.environ.get("LDDR_REQUIRE_SLURM") == "1":
            pytest.fail(f"LDDR_REQUIRE_SLURM=1 but {why}", pytrace=False)
        pytest.skip(why)
    return env
