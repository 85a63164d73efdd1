"""A study's rows, split by training budget: every table of analysis/tables.py computed for the
records of one budget (a run's training steps, analysis/results.py), so that two budgets never
share a cell; a study with one budget is exactly one set of rows, as before."""
from __future__ import annotations

from pathlib import Path

from analysis.results import gather
from analysis.tables import (
    build_tables,
    comparisons,
    gamma_effect,
    model_selection,
    run_rows,
    scores_by_gamma,
    selection_regrets,
    tc_effects,
    within_setting,
)

# The row lists of one budget, by the name the report and the CSV files use.
TABLES = {
    "tables": build_tables,
    "selection": model_selection,
    "differences": comparisons,
    "effects": gamma_effect,
    "regrets": selection_regrets,
    "tc": tc_effects,
    "runs": run_rows,
    "scores": scores_by_gamma,
    "within": within_setting,
}


def gather_all(results_dirs) -> tuple[list[dict], list[str]]:
    """`analysis.results.gather` over several folders: (every record, every problem), in the
    folders' order."""
    records, problems = [], []
    for folder in results_dirs:
        found, trouble = gather(folder)
        records += found
        problems += trouble
    return records, problems


def budget_key(budget) -> tuple:
    """Sort key of budgets: ascending, a run without a known budget last."""
    return (budget is None, budget or 0)


def by_budget(records: list[dict]) -> dict:
    """{budget: records} in ascending budget (None, no recorded steps, last)."""
    groups: dict = {}
    for r in records:
        groups.setdefault(r.get("budget"), []).append(r)
    return {b: groups[b] for b in sorted(groups, key=budget_key)}


def budget_text(budget) -> str:
    """'10,000 steps' (the heading of a budget's tables); 'unknown steps' without one."""
    return "unknown steps" if budget is None else f"{budget:,} steps"


def all_rows(records: list[dict]) -> dict:
    """{name: rows} of every table of TABLES over `records` (one budget's)."""
    return {name: build(records) for name, build in TABLES.items()}


def rows_by_budget(records: list[dict]) -> dict:
    """{budget: all_rows of its records}, budgets ascending."""
    return {budget: all_rows(group) for budget, group in by_budget(records).items()}


def tagged(per_budget: dict, name: str) -> list[dict]:
    """The rows `name` of every budget in one list, each with its `budget` (for one CSV)."""
    return [{**row, "budget": budget} for budget, rows in per_budget.items() for row in rows[name]]


def budget_suffix(budget) -> str:
    """The end of a figure's file name for one budget among several: '_30000steps'."""
    return "_unknown_steps" if budget is None else f"_{budget}steps"


def log_paths(records: list[dict]) -> set:
    """The training logs beside the records' eval JSON files (`X.log.jsonl` for `X.eval.json`)."""
    return {Path(r["path"].replace(".eval.json", ".log.jsonl")) for r in records}
