"""Gather every `*.eval.json` under one or more results folders and print the paper's tables.

    python scripts/tables.py results/smoke
    python scripts/tables.py results/paper --format md,csv,tex --out results/paper/tables --plots
    python scripts/tables.py docs/study docs/study_budget --format md,csv --out docs/study_budget/tables_all --plots

Per data set and metric: VAE vs D-VAE, and FactorVAE vs FactorDVAE (one column per gamma and
one over all gammas): median and 25th-75th percentile over seeds (numpy linear percentiles).
Then each discrete model against its Gaussian counterpart (over all gammas and at each gamma),
and each TC model against the same latent without TC: the difference of medians with a
bootstrap 95 % interval, the two-sided Mann-Whitney U test, and its p adjusted by Holm over the
six metrics of one comparison. The effect of gamma (gamma 0 = the model without TC) per latent
type. The unsupervised model selection with the straight-through gap: its Spearman correlation
with each metric (permutation p, exact up to 8 runs, seeded Monte Carlo beyond), and the regret
of each rule (analysis/selection.py: smallest gap, lowest negative ELBO, largest UDR where
recorded, the oracle) among all runs of a latent type, when choosing gamma, and when choosing
the seed; each score's median per gamma and its Spearman correlation with gamma; and each rule's
agreement with each metric within a setting (mean over the gammas of the within-gamma Spearman
correlation, permutation p permuting only within each gamma, Holm over the six metrics of one
rule and latent type). Missing or partial results are listed at the end (and on stderr), never
silently dropped. The library behind it is analysis/.

InfoM, InfoE and InfoC stand beside the six metrics wherever a run has them (Holm adjusts
them as a family of their own, apart from the six metrics); the runs' table adds InfoMEC on
the argmax codes of a categorical latent.
With QLAE's runs, selection also runs over the pools 'all discrete' (D-VAE, FactorDVAE, QLAE)
and 'all runs', each setting one model at one gamma, with one more rule over every model: the
lowest reconstruction per image (the ELBO's reconstruction term, QLAE's loss summed per image;
analysis/pools.py says why a study without QLAE shows none of it).

Training budgets: a run's budget is its training steps (`config.steps`, else `step`). When the
records span more than one budget (several folders, or one folder holding both), every table
and figure above is computed per budget (markdown sections "10,000 steps", ...; a `budget`
column in every CSV; figure names ending `_<steps>steps`), never pooling two budgets, and two
more parts follow (analysis/budgets.py): each setting (model, gamma) at the larger budget
against the smaller (Holm over the scores of one setting), and the verdicts of every comparison
at each budget with their change (keeps, loses, reverses, gains, stays undecided; too few runs
where no outcome of that many runs could have decided it).

Writes (with --out): tables.md, tables.csv, selection.csv, differences.csv, regrets.csv, tc_effects.csv, runs.csv,
scores_by_gamma.csv, within.csv, tables.tex; with --plots, boxplots_<dataset>,
metric_<dataset>_<metric> (one figure per metric, every run shown), gamma_<dataset>,
gap_<dataset> and (from the runs' *.log.jsonl) curves_<dataset>, each as .png and .pdf. With
several budgets also budget.csv and verdicts.csv, and the figures budget_<dataset> (each score
against the budget, every run a point, per setting a median line) and verdicts_<dataset> (a grid
of comparisons by scores, coloured by the change of verdict).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.budget_figures import plot_budget, plot_verdicts
from analysis.budget_report import BUDGET_CSV_KEYS, budgets_markdown, with_budget
from analysis.budgets import budget_comparison, verdicts
from analysis.curves import plot_curves
from analysis.figures import plot
from analysis.report import csv_keys, rows_csv, to_csv, to_latex, to_markdown
from analysis.results import ResultError
from analysis.study import budget_suffix, budget_text, by_budget, gather_all, log_paths, rows_by_budget, tagged
from configs.text import error_line, printable

FORMATS = ("md", "csv", "tex")
# The CSV files written beside tables.csv: file name -> the rows' name in analysis/study.py.
CSV_FILES = {"selection": "selection", "differences": "differences", "regrets": "regrets", "tc_effects": "tc",
             "runs": "runs", "scores_by_gamma": "scores", "within": "within"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results_dirs", nargs="+", metavar="results_dir",
                        help="folder(s) searched recursively for *.eval.json (and *.pkl)")
    parser.add_argument("--format", default="md", help="comma-separated subset of md,csv,tex (printed and/or written)")
    parser.add_argument("--out", default=None, help="folder for tables.md/.csv/.tex, selection.csv and plots")
    parser.add_argument("--plots", action="store_true", help="box plots and gap-vs-metric scatters (PNG, PDF)")
    parser.add_argument("--digits", type=int, default=2)
    parser.add_argument("--strict", action="store_true", help="exit 1 when results are missing or partial")
    return parser.parse_args(argv)


def one_budget(rows: dict, problems, digits: int) -> tuple[dict, dict]:
    """(texts {format: make text}, CSV files {name: (rows, columns)}) of one training budget."""
    texts = {
        "md": lambda: to_markdown(rows["tables"], rows["selection"], problems, digits, rows["differences"],
                                  rows["effects"], rows["regrets"], rows["tc"], rows["runs"], rows["scores"],
                                  rows["within"]),
        "csv": lambda: to_csv(rows["tables"]),
        "tex": lambda: to_latex(rows["tables"], rows["selection"], digits, rows["differences"]),
    }
    files = {name: (rows[key], csv_keys(name, rows[key])) for name, key in CSV_FILES.items()}
    return texts, files


def several_budgets(per_budget: dict, comparison, verdict_rows, problems, digits: int) -> tuple[dict, dict]:
    """The same for several budgets: each budget's tables under its heading, a `budget` column
    in every CSV, and budget.csv and verdicts.csv."""
    texts = {
        "md": lambda: budgets_markdown(per_budget, comparison, verdict_rows, problems, digits),
        "csv": lambda: to_csv(tagged(per_budget, "tables")),
        "tex": lambda: "\n".join(to_latex(rows["tables"], rows["selection"], digits, rows["differences"],
                                           heading=budget_text(budget)) for budget, rows in per_budget.items()),
    }
    files = {}
    for name, key in CSV_FILES.items():
        rows = tagged(per_budget, key)
        files[name] = (rows, with_budget(csv_keys(name, rows)))
    files.update(budget=(comparison, BUDGET_CSV_KEYS["budget"]), verdicts=(verdict_rows, BUDGET_CSV_KEYS["verdicts"]))
    return texts, files


def write_texts(texts: dict, files: dict, formats, out: Path | None) -> None:
    for fmt in formats:
        text = texts[fmt]()
        if out:
            (out / f"tables.{fmt}").write_text(text if text.endswith("\n") else text + "\n")
            if fmt == "csv":
                for name, (rows, keys) in files.items():
                    (out / f"{name}.csv").write_text(rows_csv(rows, keys))
        else:
            print(text)
            if fmt == "csv":
                print(rows_csv(*files["selection"]))
    if out:
        extra = f" and {', '.join(f'{name}.csv' for name in files)}" if "csv" in formats else ""
        print(f"wrote {', '.join(f'tables.{f}' for f in formats)}{extra} to {out}")


def write_plots(records, args, figures: Path, verdict_rows) -> list[Path]:
    """The figures: as for one study when the records have one budget; else each budget's with
    its suffix, and the budget and verdict figures."""
    groups = by_budget(records)
    if len(groups) == 1:
        return plot(records, figures) + plot_curves(args.results_dirs, figures)
    written = []
    for budget, group in groups.items():
        suffix, heading = budget_suffix(budget), f" ({budget_text(budget)})"
        written += plot(group, figures, suffix, heading)
        written += plot_curves(args.results_dirs, figures, suffix, heading, only=log_paths(group))
    return written + plot_budget(records, figures) + plot_verdicts(verdict_rows, figures)


def print_problems(problems) -> None:
    """One line each on stderr, escaped (a problem names a file: anyone's text), not cut."""
    for problem in problems:
        print(f"  {printable(problem, None)}", file=sys.stderr)


def main(argv=None) -> int:
    args = parse_args(argv)
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        print(error_line(f"unknown format(s) {bad or [args.format]}; choose from {','.join(FORMATS)}"), file=sys.stderr)
        return 2
    try:
        records, problems = gather_all(args.results_dirs)
    except ResultError as error:
        print(error_line(error), file=sys.stderr)
        return 2
    if not records:
        print(error_line(f"no *.eval.json under {', '.join(args.results_dirs)}"), file=sys.stderr)
        print_problems(problems)
        return 2
    per_budget = rows_by_budget(records)
    verdict_rows = verdicts(per_budget) if len(per_budget) > 1 else []
    if len(per_budget) == 1:
        texts, files = one_budget(next(iter(per_budget.values())), problems, args.digits)
    else:
        texts, files = several_budgets(per_budget, budget_comparison(records), verdict_rows, problems, args.digits)
    out = Path(args.out) if args.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    write_texts(texts, files, formats, out)
    if args.plots:
        for path in write_plots(records, args, out or Path(args.results_dirs[0]) / "plots", verdict_rows):
            print(f"wrote {path}")
    if problems:
        print(f"{len(problems)} missing or partial result(s):", file=sys.stderr)
        print_problems(problems)
    return 1 if (problems and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
