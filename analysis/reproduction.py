"""Does a retrained run repeat a committed one? Compare their logs and eval JSON, ignoring the
clock.

Training on the CPU is deterministic, so a run trained again from the same commit must give the
same losses and metrics to every digit JSON keeps; only wall-clock fields may change. `git diff`
cannot show that (every log line carries a timestamp), so these functions drop the clock and
compare the rest: log lines by (kind, step), eval JSON by its `results` and the settings that
decide them.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

# Fields that measure time, or say where and when a file was written: they differ between any two
# runs and carry no result.
CLOCK_FIELDS = frozenset({"time", "elapsed_s", "steps_per_s", "seconds"})
EVAL_IGNORED = frozenset({"times", "created", "index_cache", "checkpoint", "versions", "machine"})
# Log lines that describe the machine, not the run (training/machine.py): not compared.
MACHINE_KIND = "machine"


@dataclass
class Comparison:
    """What two versions of one run share and where they differ.

    `differences`: (where, old value, new value) for every compared value that is not equal;
    `added` / `dropped`: keys only the new / only the old version has (e.g. a metric added later);
    `compared`: how many values were compared;
    `machines`: for logs, the machine lines (without their time) of the old and the new version.
    """
    differences: list[tuple[str, object, object]] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    compared: int = 0
    machines: tuple[list[dict], list[dict]] = ((), ())

    @property
    def identical(self) -> bool:
        return not self.differences


def _names(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def _same(old, new) -> bool:
    if isinstance(old, float) and isinstance(new, float) and math.isnan(old) and math.isnan(new):
        return True
    return old == new


def _compare_mappings(old: dict, new: dict, where: str, result: Comparison, ignored=frozenset()) -> None:
    for key in sorted(set(old) | set(new)):
        if key in ignored:
            continue
        name = f"{where}{key}"
        if key not in old:
            result.added.append(name)
        elif key not in new:
            result.dropped.append(name)
        elif isinstance(old[key], dict) and isinstance(new[key], dict):
            _compare_mappings(old[key], new[key], name + ".", result, ignored)
        elif _names(old[key]) and _names(new[key]):
            # a list of names (metrics evaluated, settings given): one added later is an addition
            result.compared += 1
            result.added += [f"{name}: {n}" for n in new[key] if n not in old[key]]
            result.dropped += [f"{name}: {n}" for n in old[key] if n not in new[key]]
        else:
            result.compared += 1
            if not _same(old[key], new[key]):
                result.differences.append((name, old[key], new[key]))


def parse_log(text: str, where: str) -> tuple[dict[tuple[str, int], dict], list[dict]]:
    """A training log (JSON lines) as {(kind, step): the line without its clock fields}, and
    its machine lines (without their time) apart, in order.

    A resumed run repeats the lines after its checkpoint; the last copy of each (kind, step)
    is kept (the copies are equal when training is deterministic).
    """
    lines, machines = {}, []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{where} line {number} is not JSON ({error.msg})") from None
        if not isinstance(record, dict) or "step" not in record:
            raise ValueError(f"{where} line {number}: expected a JSON object with a 'step'")
        key = (str(record.get("kind", "train")), int(record["step"]))
        without_clock = {k: v for k, v in record.items() if k not in CLOCK_FIELDS}
        if key[0] == MACHINE_KIND:
            machines.append(without_clock)
        else:
            lines[key] = without_clock
    return lines, machines


def compare_logs(old_text: str, new_text: str, where: str = "log") -> Comparison:
    """Compare every (kind, step) line the new log has with the old log's (the new one may be a
    run still in progress); a step the old log lacks is reported as added."""
    old, old_machines = parse_log(old_text, f"old {where}")
    new, new_machines = parse_log(new_text, f"new {where}")
    result = Comparison(machines=(old_machines, new_machines))
    for key in sorted(new, key=lambda k: (k[1], k[0])):
        label = f"{key[0]} step {key[1]}: "
        if key not in old:
            result.added.append(label.rstrip(": "))
            continue
        _compare_mappings(old[key], new[key], label, result)
    return result


def compare_evals(old: dict, new: dict) -> Comparison:
    """Compare two eval JSON objects: every result and every setting, not the timings."""
    result = Comparison()
    _compare_mappings(old, new, "", result, ignored=EVAL_IGNORED)
    return result
