"""Run one entry point on many checkpoint files in one process, under a memory cap.

    python -m tests.hostile_driver ENTRY FOLDER OUT    # ENTRY: eval | visualize | resume | convert

run from the repository root (its code is what the entry points import).

For each FOLDER/*.pkl it runs the entry point as its command line would (`python eval.py
--save_file F`, ...), with stderr captured, and writes {file: {"code", "stderr", "stdout",
"seconds", "left"}} to OUT as JSON ("left": files the run left in its output folder). A crash of the
process (a segfault) or a hang is seen by the caller as a missing or late OUT.
"""
import contextlib
import io
import json
import resource
import runpy
import sys
import time
import traceback
from pathlib import Path

from tests import ROOT

MEMORY_CAP = 3 << 30        # bytes of address space: jax needs ~1 GB; a bomb needs far more


def command(entry: str, path: Path, out: Path) -> tuple[str, list[str], dict]:
    """(script, argv, runpy keyword) of the entry point on `path`."""
    return {
        "eval": (str(ROOT / "eval.py"), ["--save_file", str(path), "--no_progress"], {}),
        "visualize": (str(ROOT / "scripts" / "visualize.py"), ["--save_file", str(path), "--out", str(out)], {}),
        "resume": (str(ROOT / "run.py"), ["--resume", str(path), "--no_progress"], {}),
        "convert": (str(ROOT / "scripts" / "convert.py"), [str(path), str(out / "converted.pkl")], {}),
    }[entry]


def run_one(entry: str, path: Path, out: Path) -> dict:
    target, argv, how = command(entry, path, out)
    sys.argv = [target, *argv]
    stderr, stdout, start = io.StringIO(), io.StringIO(), time.perf_counter()
    code = None
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
        try:
            runpy.run_path(target, run_name="__main__")
        except SystemExit as exit_:
            code = exit_.code
        except BaseException:  # noqa: BLE001 - reported to the test as a traceback
            stderr.write(traceback.format_exc())
            code = "exception"
    return {"code": code, "stderr": stderr.getvalue(), "stdout": stdout.getvalue(),
            "seconds": time.perf_counter() - start,
            "left": sorted(p.name for p in out.iterdir())}


def main(entry: str, folder: str, result: str) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    outcome = {}
    for path in sorted(Path(folder).glob("*.pkl")):
        out = Path(folder) / f"out_{entry}_{path.stem}"
        out.mkdir()
        outcome[path.name] = run_one(entry, path, out)
    Path(result).write_text(json.dumps(outcome, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:])
