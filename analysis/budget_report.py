"""The markdown of several training budgets (analysis/study.py, analysis/budgets.py): each
budget's tables under its own heading, then each setting at the larger budget against the
smaller, and the verdicts of the tables' comparisons at each budget with how they change."""
from __future__ import annotations

from analysis.budgets import ALPHA, question_label
from analysis.report import (
    INTRO,
    TEST_COLUMNS,
    difference_test_cells,
    family_text,
    markdown_body,
    number_text,
    problems_text,
)
from analysis.results import MODEL_NAMES, NAMES
from analysis.study import budget_text

# The columns of budget.csv and verdicts.csv (tables.csv and the others add `budget` instead).
BUDGET_CSV_KEYS = {
    "budget": ["dataset", "model", "gamma", "budget_small", "budget_large", "metric", *TEST_COLUMNS],
    "verdicts": ["dataset", "kind", "baseline", "candidate", "gamma", "metric", "budget_small", "budget_large",
                 "difference_small", "sign_small", "p_small", "p_holm_small", "verdict_small", "difference_large",
                 "sign_large", "p_large", "p_holm_large", "verdict_large", "change", "sign_flipped"],
}


def with_budget(keys: list[str]) -> list[str]:
    """A CSV's columns with `budget` after the data set (the rows of several budgets in one file)."""
    return keys[:1] + ["budget"] + keys[1:]


def budgets_markdown(per_budget: dict, comparison: list[dict], verdict_rows: list[dict], problems,
                     digits=2) -> str:
    """tables.md of several budgets: `per_budget` {budget: analysis.study.all_rows}."""
    lines = [INTRO, ""]
    for budget, rows in per_budget.items():
        lines += [f"## {budget_text(budget)}", ""]
        lines += markdown_body(rows["tables"], rows["selection"], digits, rows["differences"], rows["effects"],
                               rows["regrets"], rows["tc"], rows["runs"], rows["scores"], rows["within"])
    lines += ["## Training budgets", ""] + comparison_markdown(comparison, digits) + verdicts_markdown(verdict_rows)
    return "\n".join(lines + problems_text(problems))


def _gamma(row) -> str:
    return "–" if row["gamma"] is None else f"{row['gamma']:g}"


def comparison_markdown(rows, digits=2) -> list[str]:
    if not rows:
        return []
    lines = [
        "### Each setting at the larger budget against the smaller",
        "",
        "Difference of medians (larger budget minus smaller) with a bootstrap 95 % interval and the two-sided "
        f"Mann–Whitney U test, as above; p (Holm): over {family_text(rows)} of one setting (model, γ) and pair "
        "of budgets that both budgets have.",
        "",
        "| data set | model | γ | budgets | metric | smaller (n) | larger (n) | difference [95 % CI] | U | p "
        "| p (Holm) | test |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d in rows:
        lines.append(
            f"| {d['dataset']} | {MODEL_NAMES[d['model']]} | {_gamma(d)} | {d['budget_small']:,} → "
            f"{d['budget_large']:,} | {NAMES[d['metric']]} | {number_text(d['baseline_median'], digits)} "
            f"({d['n_baseline']}) | {number_text(d['candidate_median'], digits)} ({d['n_candidate']}) | "
            + difference_test_cells(d, digits)
        )
    return lines + [""]


def _side(row, suffix) -> str:
    sign = {1: "+", -1: "−", 0: "0"}[row[f"sign_{suffix}"]]
    return (f"{row[f'verdict_{suffix}']} ({sign}; p {number_text(row[f'p_{suffix}'], 3)}, "
            f"Holm {number_text(row[f'p_holm_{suffix}'], 3)})")


def verdicts_markdown(rows) -> list[str]:
    if not rows:
        return []
    lines = [
        "### Verdicts at each budget, and how they change",
        "",
        f"Each comparison of the tables above (candidate vs baseline; TC: with TC vs without, at one γ) on each "
        f"score, at each budget: 'candidate higher' / 'baseline higher' when p (Holm) < {ALPHA:g}, by the sign "
        "of the difference of medians; 'too few runs' when no outcome of that many runs could reach it (the "
        "exact test's smallest p, 2 / C(n₁ + n₂, n₁), times the Holm family's size: one run a side, or three, "
        "say); else 'undecided'; the sign (+: candidate's median higher), p and p (Holm) "
        "of each. Change, smaller → larger budget: keeps (the same decided verdict), loses (decided → "
        "undecided), reverses (decided → the opposite), gains (undecided → decided), stays undecided, too few "
        "runs (at either budget: a lack of runs is not a lost verdict); "
        "'sign flipped': the difference of medians changed sign, decided or not. Holm's family here is the "
        "scores the comparison has at both budgets (so a larger budget's extra scores cannot cost a verdict; "
        "the tables above adjust over each budget's own scores). The "
        "FactorVAE/FactorDVAE comparison over all γ is left out (the budgets' γ may differ).",
        "",
        "| data set | comparison | metric | budgets | smaller budget | larger budget | change | sign flipped |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for v in rows:
        lines.append(
            f"| {v['dataset']} | {question_label(v)} | {NAMES[v['metric']]} | {v['budget_small']:,} → "
            f"{v['budget_large']:,} | {_side(v, 'small')} | {_side(v, 'large')} | {v['change']} | "
            f"{'yes' if v['sign_flipped'] else 'no'} |"
        )
    return lines + [""]
