"""Gather every `*.eval.json` under a results folder and print the paper's tables.

    python scripts/tables.py results/smoke
    python scripts/tables.py results/paper --format md,csv,tex --out results/paper/tables --plots

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

Writes (with --out): tables.md, tables.csv, selection.csv, differences.csv, regrets.csv, tc_effects.csv, runs.csv,
scores_by_gamma.csv, within.csv, tables.tex; with --plots, boxplots_<dataset>,
metric_<dataset>_<metric> (one figure per metric, every run shown), gamma_<dataset>,
gap_<dataset> and (from the runs' *.log.jsonl) curves_<dataset>, each as .png and .pdf.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.curves import plot_curves
from analysis.figures import plot
from analysis.report import CSV_KEYS, csv_keys, rows_csv, to_csv, to_latex, to_markdown
from analysis.results import ResultError, gather
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

FORMATS = ("md", "csv", "tex")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results_dir", help="folder searched recursively for *.eval.json (and *.pkl)")
    parser.add_argument("--format", default="md", help="comma-separated subset of md,csv,tex (printed and/or written)")
    parser.add_argument("--out", default=None, help="folder for tables.md/.csv/.tex, selection.csv and plots")
    parser.add_argument("--plots", action="store_true", help="box plots and gap-vs-metric scatters (PNG, PDF)")
    parser.add_argument("--digits", type=int, default=2)
    parser.add_argument("--strict", action="store_true", help="exit 1 when results are missing or partial")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        print(f"error: unknown format(s) {bad or [args.format]}; choose from {','.join(FORMATS)}", file=sys.stderr)
        return 2
    try:
        records, problems = gather(args.results_dir)
    except ResultError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not records:
        print(f"error: no *.eval.json under {args.results_dir}", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 2
    tables = build_tables(records)
    selection = model_selection(records)
    differences = comparisons(records)
    effects = gamma_effect(records)
    regrets = selection_regrets(records)
    tc = tc_effects(records)
    runs = run_rows(records)
    scores = scores_by_gamma(records)
    within = within_setting(records)
    texts = {
        "md": lambda: to_markdown(
            tables, selection, problems, args.digits, differences, effects, regrets, tc, runs, scores, within
        ),
        "csv": lambda: to_csv(tables),
        "tex": lambda: to_latex(tables, selection, args.digits, differences),
    }
    out = Path(args.out) if args.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        text = texts[fmt]()
        if out:
            (out / f"tables.{fmt}").write_text(text if text.endswith("\n") else text + "\n")
            if fmt == "csv":
                for name, rows in (
                    ("selection", selection),
                    ("differences", differences),
                    ("regrets", regrets),
                    ("tc_effects", tc),
                    ("runs", runs),
                    ("scores_by_gamma", scores),
                    ("within", within),
                ):
                    (out / f"{name}.csv").write_text(rows_csv(rows, csv_keys(name, rows)))
        else:
            print(text)
            if fmt == "csv":
                print(rows_csv(selection, CSV_KEYS["selection"]))
    if out:
        extra = (
            " and selection.csv, differences.csv, regrets.csv, tc_effects.csv, runs.csv, scores_by_gamma.csv,"
            " within.csv"
            if "csv" in formats
            else ""
        )
        print(f"wrote {', '.join(f'tables.{f}' for f in formats)}{extra} to {out}")
    if args.plots:
        figures = out or Path(args.results_dir) / "plots"
        for path in plot(records, figures) + plot_curves(args.results_dir, figures):
            print(f"wrote {path}")
    if problems:
        print(f"{len(problems)} missing or partial result(s):", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
    return 1 if (problems and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
