"""Does a retrained run repeat the committed one? Compare logs and eval JSON, ignoring the clock.

    python scripts/compare_runs.py OLD_FOLDER NEW_FOLDER
    python scripts/compare_runs.py --rev 02ec3f6 docs/study            # old = the folder at a commit
    python scripts/compare_runs.py --rev 02ec3f6 docs/study --names dsprites_procedural_seed1

Every run with a `X.log.jsonl` or `X.eval.json` in both versions is compared
(analysis/reproduction.py): each log line the new version has, by (kind, step), and every value
of the eval JSON except timings. One line per run; values only the new version has (a metric
added since) are listed, not counted as differences. Exit status 1 when any value differs.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from analysis.reproduction import Comparison, compare_evals, compare_logs

SUFFIXES = (".log.jsonl", ".eval.json")


class Folder:
    """The run files of a results folder, on disk or at a git revision."""

    def __init__(self, path: str, rev: str | None = None):
        self.path, self.rev = Path(path), rev
        if rev is None and not self.path.is_dir():
            raise SystemExit(f"compare_runs: {path} is not a folder (expected a results folder)")
        self.files = self._list()

    def _git(self, *args) -> str:
        done = subprocess.run(["git", *args], capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"compare_runs: git {' '.join(args)} failed: {done.stderr.strip().splitlines()[-1:]}")
        return done.stdout

    def _list(self) -> dict[str, str]:
        if self.rev is None:
            names = [p.name for p in self.path.iterdir()]
        else:
            names = [
                Path(line).name for line in self._git("ls-tree", "--name-only", self.rev, f"{self.path}/").splitlines()
            ]
        return {name: name for name in names if name.endswith(SUFFIXES)}

    def read(self, name: str) -> str | None:
        if name not in self.files:
            return None
        if self.rev is None:
            return (self.path / name).read_text()
        return self._git("show", f"{self.rev}:./{self.path / name}")

    def runs(self) -> set[str]:
        return {name.removesuffix(s) for name in self.files for s in SUFFIXES if name.endswith(s)}


def compare_run(old: Folder, new: Folder, run: str) -> dict[str, Comparison]:
    """{'log': ..., 'eval': ...} for the files both versions of `run` have."""
    comparisons = {}
    pairs = [(old.read(run + s), new.read(run + s)) for s in SUFFIXES]
    where = f"{run}{SUFFIXES[0]}"
    try:
        if pairs[0][0] is not None and pairs[0][1] is not None:
            comparisons["log"] = compare_logs(pairs[0][0], pairs[0][1], where=where)
        if pairs[1][0] is not None and pairs[1][1] is not None:
            comparisons["eval"] = compare_evals(json.loads(pairs[1][0]), json.loads(pairs[1][1]))
    except (ValueError, json.JSONDecodeError) as error:
        raise SystemExit(f"compare_runs: {run}: {error}") from None
    return comparisons


def _machines_text(machines) -> str:
    """'CPU (n cores) from step s' per process that trained the run, or 'not recorded'."""
    if not machines:
        return "not recorded"
    return " then ".join(
        f"{m.get('cpu', '?')} ({m.get('cores', '?')} cores) from step {m.get('step', '?')}" for m in machines
    )


def describe(run: str, comparisons: dict[str, Comparison], show: int = 3) -> str:
    parts = []
    for what, c in comparisons.items():
        state = "equal" if c.identical else f"{len(c.differences)} DIFFER"
        text = f"{what} {c.compared} values {state}"
        if c.differences:
            text += " (" + "; ".join(f"{w}: {o!r} -> {n!r}" for w, o, n in c.differences[:show]) + ")"
        if c.added:
            text += f", new only: {', '.join(c.added[:show])}{' ...' if len(c.added) > show else ''}"
        if c.dropped:
            text += f", old only: {', '.join(c.dropped[:show])}{' ...' if len(c.dropped) > show else ''}"
        old_machines, new_machines = (_machines_text(m) for m in c.machines)
        if old_machines != new_machines:
            text += f", machines: old {old_machines}, new {new_machines}"
        parts.append(text)
    return f"{run}: " + ("; ".join(parts) if parts else "nothing to compare")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="OLD NEW, or with --rev the one folder")
    parser.add_argument("--rev", help="compare the folder at this git revision (old) with the working tree (new)")
    parser.add_argument("--names", nargs="*", help="only these runs (default: every run both versions have)")
    args = parser.parse_args(argv)
    if len(args.folders) != (1 if args.rev else 2):
        parser.error("give OLD NEW, or --rev REV and one folder")
    if args.rev:
        old, new = Folder(args.folders[0], rev=args.rev), Folder(args.folders[0])
    else:
        old, new = Folder(args.folders[0]), Folder(args.folders[1])
    runs = sorted(old.runs() & new.runs())
    if args.names:
        unknown = sorted(set(args.names) - set(runs))
        if unknown:
            raise SystemExit(f"compare_runs: no run named {unknown[0]} in both versions")
        runs = sorted(args.names)
    differ = 0
    for run in runs:
        comparisons = compare_run(old, new, run)
        differ += any(not c.identical for c in comparisons.values())
        print(describe(run, comparisons))
    print(f"{len(runs)} runs compared, {differ} with differing values")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
