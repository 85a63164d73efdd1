"""Gather every `*.eval.json` under a results folder and print the paper's tables.

    python scripts/tables.py results/smoke
    python scripts/tables.py results/paper --format md,csv,tex --out results/paper/tables --plots

Per data set and metric: VAE vs D-VAE, and FactorVAE vs FactorDVAE (one column per gamma and
one over all gammas): median and 25th-75th percentile over seeds (numpy linear percentiles).
Then the unsupervised model selection with the straight-through gap (discrete models): the
Spearman rank correlation of the gap with each metric (its p-value exact over all orderings up
to 8 runs, scipy's beyond), and the metric values of the run the gap selects (smallest gap)
against the median and the best run.
Missing or partial results are listed at the end (and on stderr), never silently dropped.

Then, per metric, each discrete model against its Gaussian counterpart (D-VAE vs VAE,
FactorDVAE vs FactorVAE over all gammas): the difference of medians with a bootstrap 95 %
interval and a two-sided Mann-Whitney U p-value (scipy).

Writes (with --out): tables.md, tables.csv, selection.csv, differences.csv, tables.tex; with
--plots, boxplots_<dataset>, metric_<dataset>_<metric> (one figure per metric, every run shown),
gap_<dataset> and (from the runs' *.log.jsonl) curves_<dataset>,
each as .png and .pdf.
"""
from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from scripts.results import COLOURS, DISCRETE, METRICS, MODEL_NAMES, ResultError, gather, save_figure

FORMATS = ("md", "csv", "tex")


# -- statistics -----------------------------------------------------------------------------
def summarize(values) -> dict | None:
    """{'n', 'median', 'p25', 'p75'} of the non-missing values, or None when there are none."""
    values = np.asarray([v for v in values if v is not None], dtype=float)
    if values.size == 0:
        return None
    p25, median, p75 = np.percentile(values, [25, 50, 75])
    return {"n": int(values.size), "median": float(median), "p25": float(p25), "p75": float(p75)}


def columns(records: list[dict], dataset: str) -> list[tuple[str, str, list[dict]]]:
    """[(group, label, records)] of one data set: VAE, D-VAE, then FactorVAE / FactorDVAE per
    gamma and over all gammas. Group 'base' is the first table, 'tc' the second."""
    rows = [r for r in records if r["dataset"] == dataset]
    out = []
    for model in ("vae", "dvae"):
        chosen = [r for r in rows if r["model"] == model]
        if chosen:
            out.append(("base", MODEL_NAMES[model], chosen))
    for model in ("factor_vae", "factor_dvae"):
        chosen = [r for r in rows if r["model"] == model]
        for gamma in sorted({r["gamma"] for r in chosen}):
            out.append(("tc", f"{MODEL_NAMES[model]} γ={gamma:g}", [r for r in chosen if r["gamma"] == gamma]))
        if chosen:
            out.append(("tc", f"{MODEL_NAMES[model]} all γ", chosen))
    return out


def build_tables(records: list[dict]) -> list[dict]:
    """[{dataset, group, columns: [labels], cells: {metric: [summary | None per column]}}]."""
    tables = []
    for dataset in sorted({r["dataset"] for r in records}):
        cols = columns(records, dataset)
        for group, title in (("base", "VAE vs D-VAE"), ("tc", "FactorVAE vs FactorDVAE")):
            chosen = [c for c in cols if c[0] == group]
            if not chosen:
                continue
            cells = {m: [summarize(r["values"].get(m) for r in recs) for _, _, recs in chosen] for m in METRICS}
            tables.append({"dataset": dataset, "group": group, "title": title,
                           "columns": [label for _, label, _ in chosen], "cells": cells})
    return tables


# The pairs the paper compares: each Gaussian model against its discrete counterpart.
PAIRS = (("vae", "dvae"), ("factor_vae", "factor_dvae"))


def compare(baseline, candidate, num_resamples: int = 10_000, seed: int = 0) -> dict | None:
    """Candidate vs baseline runs of one metric: the difference of medians (candidate minus
    baseline) with a percentile bootstrap 95 % interval (each group resampled with replacement,
    `num_resamples` times, seeded), and the two-sided Mann-Whitney U test (scipy; exact for small
    groups without ties). None when either group is empty."""
    from scipy.stats import mannwhitneyu
    a = np.asarray([v for v in baseline if v is not None], float)
    b = np.asarray([v for v in candidate if v is not None], float)
    if a.size == 0 or b.size == 0:
        return None
    rng = np.random.default_rng(seed)
    resampled = (np.median(rng.choice(b, (num_resamples, b.size)), axis=1)
                 - np.median(rng.choice(a, (num_resamples, a.size)), axis=1))
    low, high = np.percentile(resampled, [2.5, 97.5])
    test = mannwhitneyu(b, a, alternative="two-sided")
    return {"n_baseline": int(a.size), "n_candidate": int(b.size),
            "baseline_median": float(np.median(a)), "candidate_median": float(np.median(b)),
            "difference": float(np.median(b) - np.median(a)), "ci_low": float(low), "ci_high": float(high),
            "u_statistic": float(test.statistic), "p_value": float(test.pvalue)}


def comparisons(records: list[dict]) -> list[dict]:
    """Per data set, pair (VAE/D-VAE, FactorVAE/FactorDVAE over all gammas) and metric: `compare`."""
    out = []
    for dataset in sorted({r["dataset"] for r in records}):
        for baseline, candidate in PAIRS:
            runs = {m: [r for r in records if r["dataset"] == dataset and r["model"] == m] for m in (baseline, candidate)}
            if not all(runs.values()):
                continue
            for metric in METRICS:
                stats = compare([r["values"].get(metric) for r in runs[baseline]],
                                [r["values"].get(metric) for r in runs[candidate]])
                if stats is not None:
                    out.append({"dataset": dataset, "baseline": baseline, "candidate": candidate,
                                "metric": metric, **stats})
    return out


EXACT_SPEARMAN_MAX_N = 8  # 8! = 40,320 orderings: exact and instant


def spearman(x, y) -> tuple[float, float]:
    """Spearman rank correlation (rho, two-sided p); NaN when undefined (n < 2 or constant).

    With few runs the p-value is exact: the share of all n! orderings of y's ranks whose |rho|
    reaches the observed one. scipy's t approximation claims p = 0 at |rho| = 1 even for three
    runs; the exact p there is 2 / n!. Beyond EXACT_SPEARMAN_MAX_N runs, scipy's p-value."""
    import itertools

    from scipy.stats import rankdata, spearmanr
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan"), float("nan")
    rho, p = (float(v) for v in spearmanr(x, y))
    if x.size <= EXACT_SPEARMAN_MAX_N:
        rank_x, rank_y = rankdata(x), rankdata(y)
        orderings = np.array(list(itertools.permutations(rank_y)))             # [n!, n]
        centred_x, centred_y = rank_x - rank_x.mean(), orderings - rank_y.mean()
        rhos = centred_y @ centred_x / np.sqrt((centred_x ** 2).sum() * (centred_y ** 2).sum(axis=1))
        p = float(np.mean(np.abs(rhos) >= abs(rho) - 1e-12))
    return rho, p


def model_selection(records: list[dict]) -> list[dict]:
    """Per data set and candidate pool (D-VAE, FactorDVAE, all discrete), per metric: Spearman
    of st_gap with the metric, and the metric of the smallest-gap run vs the median and best."""
    out = []
    for dataset in sorted({r["dataset"] for r in records}):
        pools = [(MODEL_NAMES[m], [m]) for m in DISCRETE] + [("all discrete", list(DISCRETE))]
        for pool, models in pools:
            runs = [r for r in records if r["dataset"] == dataset and r["model"] in models]
            if pool == "all discrete" and len({r["model"] for r in runs}) < 2:
                continue
            for metric in METRICS:
                pairs = [r for r in runs if r["values"].get("st_gap") is not None and r["values"].get(metric) is not None]
                if not pairs:
                    continue
                gaps = np.array([r["values"]["st_gap"] for r in pairs])
                scores = np.array([r["values"][metric] for r in pairs])
                rho, p = spearman(gaps, scores)
                pick = int(np.argmin(gaps))
                out.append({"dataset": dataset, "pool": pool, "metric": metric, "n": len(pairs),
                            "spearman": rho, "p_value": p, "selected": float(scores[pick]),
                            "selected_run": Path(pairs[pick]["path"]).name.replace(".eval.json", ""),
                            "median": float(np.median(scores)), "best": float(np.max(scores))})
    return out


# -- formatting -----------------------------------------------------------------------------
def cell_text(summary, digits=2, dash="–") -> str:
    if summary is None:
        return "n/a"
    return f"{summary['median']:.{digits}f} ({summary['p25']:.{digits}f}{dash}{summary['p75']:.{digits}f})"


def _num(value, digits=2) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def to_markdown(tables, selection, problems, digits=2, differences=()) -> str:
    lines = ["Cells: median (25th–75th percentile) over seeds; n = number of runs per column.", ""]
    for table in tables:
        lines += [f"### {table['dataset']}: {table['title']}", ""]
        ns = [max((s["n"] for s in col if s), default=0)
              for col in zip(*table["cells"].values())]
        header = ["metric"] + [f"{c} (n={n})" for c, n in zip(table["columns"], ns)]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for metric, cells in table["cells"].items():
            lines.append("| " + " | ".join([METRICS[metric]] + [cell_text(c, digits) for c in cells]) + " |")
        lines.append("")
    lines += differences_markdown(differences, digits)
    if selection:
        lines += ["### Unsupervised model selection with the straight-through gap", "",
                  "Spearman ρ of st_gap with the metric (negative: a smaller gap goes with a better score; p exact up to 8 runs); "
                  "the metric of the run with the smallest gap vs the median and the best run.", "",
                  "| data set | candidates | metric | n | Spearman ρ | p | selected (min gap) | median | best |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for s in selection:
            lines.append(f"| {s['dataset']} | {s['pool']} | {METRICS[s['metric']]} | {s['n']} | "
                         f"{_num(s['spearman'])} | {_num(s['p_value'], 3)} | {_num(s['selected'], digits)} | "
                         f"{_num(s['median'], digits)} | {_num(s['best'], digits)} |")
        lines.append("")
    lines += problems_text(problems)
    return "\n".join(lines)


def differences_markdown(differences, digits=2) -> list[str]:
    if not differences:
        return []
    lines = ["### Differences of medians (discrete minus Gaussian)", "",
             "Bootstrap 95 % interval of the difference of medians (10,000 resamples, seed 0); "
             "two-sided Mann–Whitney U test.", "",
             "| data set | metric | Gaussian (n) | discrete (n) | difference [95 % CI] | U | p |",
             "|---|---|---|---|---|---|---|"]
    for d in differences:
        lines.append(f"| {d['dataset']} | {METRICS[d['metric']]} | "
                     f"{MODEL_NAMES[d['baseline']]} {_num(d['baseline_median'], digits)} ({d['n_baseline']}) | "
                     f"{MODEL_NAMES[d['candidate']]} {_num(d['candidate_median'], digits)} ({d['n_candidate']}) | "
                     f"{d['difference']:+.{digits + 1}f} [{d['ci_low']:+.{digits + 1}f}, {d['ci_high']:+.{digits + 1}f}] | "
                     f"{d['u_statistic']:g} | {_num(d['p_value'], 3)} |")
    return lines + [""]


def problems_text(problems) -> list[str]:
    if not problems:
        return ["All results complete: every checkpoint has an eval JSON with every metric."]
    return [f"### Missing or partial results ({len(problems)})", ""] + [f"- {p}" for p in problems] + [""]


def to_csv(tables) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["dataset", "table", "metric", "column", "n", "median", "p25", "p75"])
    for table in tables:
        for metric, cells in table["cells"].items():
            for column, s in zip(table["columns"], cells):
                writer.writerow([table["dataset"], table["group"], metric, column] +
                                ([s["n"], f"{s['median']:.6g}", f"{s['p25']:.6g}", f"{s['p75']:.6g}"] if s else [0, "", "", ""]))
    return buffer.getvalue()


def selection_csv(selection) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    keys = ["dataset", "pool", "metric", "n", "spearman", "p_value", "selected", "median", "best", "selected_run"]
    writer.writerow(keys)
    for s in selection:
        writer.writerow([s[k] if not isinstance(s[k], float) else f"{s[k]:.6g}" for k in keys])
    return buffer.getvalue()


def differences_csv(differences) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    keys = ["dataset", "baseline", "candidate", "metric", "n_baseline", "n_candidate", "baseline_median",
            "candidate_median", "difference", "ci_low", "ci_high", "u_statistic", "p_value"]
    writer.writerow(keys)
    for d in differences:
        writer.writerow([d[k] if not isinstance(d[k], float) else f"{d[k]:.6g}" for k in keys])
    return buffer.getvalue()


def _tex_escape(text: str) -> str:
    return (text.replace("_", r"\_").replace("γ", r"$\gamma$").replace("&", r"\&").replace("%", r"\%"))


def to_latex(tables, selection, digits=2) -> str:
    parts = ["% Generated by scripts/tables.py: median (25th--75th percentile) over seeds."]
    for table in tables:
        cols = table["columns"]
        parts += [r"\begin{table}[t]", r"\centering",
                  rf"\caption{{{_tex_escape(table['dataset'])}: {table['title']}. Median (25th--75th percentile) over seeds.}}",
                  r"\begin{tabular}{l" + "c" * len(cols) + "}", r"\toprule",
                  " & ".join(["Metric"] + [_tex_escape(c) for c in cols]) + r" \\", r"\midrule"]
        for metric, cells in table["cells"].items():
            parts.append(" & ".join([METRICS[metric]] + [cell_text(c, digits, dash="--") for c in cells]) + r" \\")
        parts += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    if selection:
        parts += [r"\begin{table}[t]", r"\centering",
                  r"\caption{Model selection with the straight-through gap: Spearman $\rho$ with each metric; "
                  r"the metric of the run with the smallest gap, the median and the best run.}",
                  r"\begin{tabular}{lllrrrrr}", r"\toprule",
                  r"Data set & Candidates & Metric & $n$ & $\rho$ & Selected & Median & Best \\", r"\midrule"]
        for s in selection:
            parts.append(" & ".join([_tex_escape(s["dataset"]), _tex_escape(s["pool"]), METRICS[s["metric"]], str(s["n"]),
                                     _num(s["spearman"]), _num(s["selected"], digits), _num(s["median"], digits),
                                     _num(s["best"], digits)]) + r" \\")
        parts += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(parts)


# -- plots ----------------------------------------------------------------------------------
def distributions(rows: list[dict], metric: str) -> list[tuple[str, list[float]]]:
    """[(model, values over its runs)] of one data set's rows, models in MODEL_NAMES order,
    those without a value for `metric` left out."""
    out = []
    for model in MODEL_NAMES:
        values = [r["values"][metric] for r in rows if r["model"] == model and r["values"].get(metric) is not None]
        if values:
            out.append((model, values))
    return out


def _boxes(ax, groups, points: bool = False) -> None:
    """One box per model; with `points`, every run as a dot on its box (no run hidden)."""
    if not groups:
        return
    box = ax.boxplot([values for _, values in groups], patch_artist=True, showfliers=not points)
    ax.set_xticks(range(1, len(groups) + 1), [MODEL_NAMES[m] for m, _ in groups], rotation=30)
    for position, (patch, (model, values)) in enumerate(zip(box["boxes"], groups), start=1):
        patch.set_facecolor(COLOURS[model])
        patch.set_alpha(0.6)
        if points:  # a fixed spread, so the figure is the same on every run of the script
            offsets = np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else [0.0]
            ax.scatter(position + np.asarray(offsets), values, s=16, color="black", zorder=3)


def plot(records: list[dict], out_dir) -> list[Path]:
    """Per data set: box plots of every metric in one figure (`boxplots_<dataset>`), one figure
    per metric with every run's value (`metric_<dataset>_<metric>`), and gap-vs-metric scatters."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for dataset in sorted({r["dataset"] for r in records}):
        rows = [r for r in records if r["dataset"] == dataset]
        fig, axes = plt.subplots(1, len(METRICS), figsize=(3.0 * len(METRICS), 3.2), squeeze=False)
        for ax, metric in zip(axes[0], METRICS):
            _boxes(ax, distributions(rows, metric))
            ax.set_title(METRICS[metric], fontsize=9)
        fig.suptitle(f"{dataset}: metrics across seeds (TC models: all γ)", fontsize=10)
        fig.tight_layout()
        written += save_figure(fig, out_dir / f"boxplots_{dataset}")

        for metric, title in METRICS.items():
            groups = distributions(rows, metric)
            if not groups:
                continue
            fig, ax = plt.subplots(figsize=(3.6, 3.4))
            _boxes(ax, groups, points=True)
            runs = ", ".join(f"{MODEL_NAMES[m]} n={len(v)}" for m, v in groups)
            ax.set_title(f"{dataset}: {title}\n({runs})", fontsize=9)
            fig.tight_layout()
            written += save_figure(fig, out_dir / f"metric_{dataset}_{metric}")

        discrete = [r for r in rows if r["model"] in DISCRETE and r["values"].get("st_gap") is not None]
        if discrete:
            fig, axes = plt.subplots(1, len(METRICS), figsize=(3.0 * len(METRICS), 3.2), squeeze=False)
            for ax, metric in zip(axes[0], METRICS):
                for m in DISCRETE:
                    pts = [(r["values"]["st_gap"], r["values"][metric]) for r in discrete
                           if r["model"] == m and r["values"].get(metric) is not None]
                    if pts:
                        ax.scatter(*zip(*pts), s=18, color=COLOURS[m], label=MODEL_NAMES[m], alpha=0.8)
                pts = [(r["values"]["st_gap"], r["values"][metric]) for r in discrete if r["values"].get(metric) is not None]
                rho = spearman(*zip(*pts))[0] if len(pts) > 1 else float("nan")
                ax.set_title(f"{METRICS[metric]} (ρ={_num(rho)})", fontsize=9)
                ax.set_xlabel("straight-through gap", fontsize=8)
            axes[0][0].legend(fontsize=7)
            fig.suptitle(f"{dataset}: straight-through gap vs metric (discrete models)", fontsize=10)
            fig.tight_layout()
            written += save_figure(fig, out_dir / f"gap_{dataset}")
    return written


# -- command line ---------------------------------------------------------------------------
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
    texts = {"md": lambda: to_markdown(tables, selection, problems, args.digits, differences),
             "csv": lambda: to_csv(tables),
             "tex": lambda: to_latex(tables, selection, args.digits)}
    out = Path(args.out) if args.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        text = texts[fmt]()
        if out:
            (out / f"tables.{fmt}").write_text(text if text.endswith("\n") else text + "\n")
            if fmt == "csv":
                (out / "selection.csv").write_text(selection_csv(selection))
                (out / "differences.csv").write_text(differences_csv(differences))
        else:
            print(text)
            if fmt == "csv":
                print(selection_csv(selection))
    if out:
        print(f"wrote {', '.join(f'tables.{f}' for f in formats)}{' and selection.csv' if 'csv' in formats else ''} to {out}")
    if args.plots:
        from scripts.curves import plot_curves
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
