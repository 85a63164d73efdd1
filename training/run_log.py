"""The training curve as data: `{run_name}.log.jsonl` beside the checkpoint.

One JSON object per line, appended as the run goes:
  {"kind": "train", "step", "time", "elapsed_s", "steps_per_s", "recon", "kl", "elbo", "loss",
   ["tc", "disc_loss",] "noise_scale"}   every `log_every` steps (losses averaged since the last
                                         record, the noise scale at `step`);
  {"kind": "eval", "step", "time", "elapsed_s", "mig"}   every `eval_every` steps;
  {"kind": "machine", "step", "time", "cpu", "cores", "backend", ...}   when a process starts
                                         or resumes the run (training.machine).
`time` is the Unix time of the record; `elapsed_s` counts training seconds over all sessions
of the run (a resumed run continues the count).

A fresh run starts a fresh file. A resumed run first drops every record past the step its
checkpoint holds, so a run killed after a checkpoint and resumed has exactly one record per
logged step, whatever was appended between the checkpoint and the kill.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from data.atomic import atomic_write


def log_path(checkpoint_path: str | Path) -> Path:
    """`dir/name.pkl` -> `dir/name.log.jsonl`."""
    checkpoint_path = Path(checkpoint_path)
    return checkpoint_path.with_name(checkpoint_path.name.removesuffix(".pkl") + ".log.jsonl")


def read_log(path: str | Path) -> list[dict]:
    """The records of a log file (a torn last line, from a kill mid-write, is ignored)."""
    records = []
    path = Path(path)
    if not path.is_file():
        return records
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


class RunLog:
    """Appends records to one run's log; see the module docstring for the layout."""

    def __init__(self, path: str | Path, resume_step: int | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = [] if resume_step is None else [r for r in read_log(self.path) if r.get("step", 0) <= resume_step]
        self._rewrite(kept)
        self._elapsed_before = max((r.get("elapsed_s", 0.0) for r in kept), default=0.0)
        self._started = time.perf_counter()

    def _rewrite(self, records: list[dict]) -> None:
        with atomic_write(self.path, "w") as f:   # a kill here leaves the old log, not half of it
            f.writelines(json.dumps(r) + "\n" for r in records)

    def note_machine(self, step: int, machine: dict) -> dict:
        """The machine this process trains on, from `step` (a resumed run gets one per process)."""
        return self._append({"kind": "machine", "step": int(step), "time": round(time.time(), 3), **machine})

    def append(self, kind: str, step: int, values: dict) -> dict:
        record = {"kind": kind, "step": int(step), "time": round(time.time(), 3),
                  "elapsed_s": round(self._elapsed_before + time.perf_counter() - self._started, 3),
                  **{k: float(v) for k, v in values.items()}}
        return self._append(record)

    def _append(self, record: dict) -> dict:
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        return record
