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

With TC runs: FactorVAE vs FactorDVAE at each gamma as well, the effect of gamma (gamma 0 = the
model without TC) per latent type, and the regret of each unsupervised selection rule
(scripts/selection.py: smallest gap, lowest negative ELBO, largest UDR where recorded, the
oracle) among all runs of a latent type, when choosing gamma, and when choosing the seed.

Writes (with --out): tables.md, tables.csv, selection.csv, differences.csv, regrets.csv,
tables.tex; with --plots, boxplots_<dataset>, metric_<dataset>_<metric> (one figure per metric,
every run shown), gamma_<dataset>, gap_<dataset> and (from the runs' *.log.jsonl)
curves_<dataset>, each as .png and .pdf.
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
    `num_resamples` times, seeded), and the two-sided Mann-Whitney U test (scipy, `method="exact"`;
    the normal approximation when ties force it, recorded in `method`). None when either group
    is empty."""
    from scipy.stats import mannwhitneyu
    a = np.asarray([v for v in baseline if v is not None], float)
    b = np.asarray([v for v in candidate if v is not None], float)
    if a.size == 0 or b.size == 0:
        return None
    rng = np.random.default_rng(seed)
    resampled = (np.median(rng.choice(b, (num_resamples, b.size)), axis=1)
                 - np.median(rng.choice(a, (num_resamples, a.size)), axis=1))
    low, high = np.percentile(resampled, [2.5, 97.5])
    # scipy's exact distribution assumes no ties; with ties the normal approximation (with its
    # tie correction) is the honest choice, and the table says which one was used.
    method = "asymptotic (ties)" if np.unique(np.concatenate([a, b])).size < a.size + b.size else "exact"
    test = mannwhitneyu(b, a, alternative="two-sided", method="exact" if method == "exact" else "asymptotic")
    return {"n_baseline": int(a.size), "n_candidate": int(b.size),
            "baseline_median": float(np.median(a)), "candidate_median": float(np.median(b)),
            "difference": float(np.median(b) - np.median(a)), "ci_low": float(low), "ci_high": float(high),
            "u_statistic": float(test.statistic), "p_value": float(test.pvalue), "method": method}


def holm(p_values) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (same order): the k-th smallest is
    multiplied by (m - k + 1), then made non-decreasing in that order and capped at 1. It
    controls the chance of any false claim in the family without assuming independence."""
    order = np.argsort(p_values, kind="stable")
    adjusted, running = [0.0] * len(order), 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - k) * float(p_values[i])))
        adjusted[i] = running
    return adjusted


def comparisons(records: list[dict]) -> list[dict]:
    """Per data set, pair and metric, `compare`: VAE vs D-VAE, FactorVAE vs FactorDVAE at each
    gamma both were trained with (`gamma`), and over all gammas (`gamma` None). `p_holm`: the p
    value adjusted by Holm over the metrics of the same comparison (one question, asked with
    six metrics)."""
    out = []
    for dataset in sorted({r["dataset"] for r in records}):
        for baseline, candidate in PAIRS:
            runs = {m: [r for r in records if r["dataset"] == dataset and r["model"] == m] for m in (baseline, candidate)}
            if not all(runs.values()):
                continue
            shared = sorted({r["gamma"] for r in runs[baseline]} & {r["gamma"] for r in runs[candidate]} - {None})
            groups = [(g, {m: [r for r in rs if r["gamma"] == g] for m, rs in runs.items()}) for g in shared]
            for gamma, chosen in groups + [(None, runs)]:
                family = []
                for metric in METRICS:
                    stats = compare([r["values"].get(metric) for r in chosen[baseline]],
                                    [r["values"].get(metric) for r in chosen[candidate]])
                    if stats is not None:
                        family.append({"dataset": dataset, "baseline": baseline, "candidate": candidate,
                                       "gamma": gamma, "metric": metric, **stats})
                for row, adjusted in zip(family, holm([row["p_value"] for row in family])):
                    out.append({**row, "p_holm": adjusted})
    return out


EXACT_SPEARMAN_MAX_N = 8  # 8! = 40,320 orderings: exact and instant
SPEARMAN_RESAMPLES = 100_000  # Monte Carlo permutations beyond that (seed 0)


def spearman(x, y) -> tuple[float, float]:
    """Spearman rank correlation (rho, two-sided p); NaN when undefined (n < 2 or constant).

    The p-value is a permutation p-value: the share of orderings of y's ranks whose |rho|
    reaches the observed one. Up to EXACT_SPEARMAN_MAX_N runs over all n! orderings (exact;
    scipy's t approximation claims p = 0 at |rho| = 1 even for three runs, where the exact p is
    2 / n!); beyond, over SPEARMAN_RESAMPLES seeded random orderings, counting the observed one
    ((hits + 1) / (resamples + 1), never 0)."""
    import itertools

    from scipy.stats import rankdata, spearmanr
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan"), float("nan")
    rho = float(spearmanr(x, y)[0])
    rank_x, rank_y = rankdata(x), rankdata(y)
    exact = x.size <= EXACT_SPEARMAN_MAX_N
    if exact:
        orderings = np.array(list(itertools.permutations(rank_y)))             # [n!, n]
    else:
        rng = np.random.default_rng(0)
        orderings = rng.permuted(np.broadcast_to(rank_y, (SPEARMAN_RESAMPLES, x.size)), axis=1)
    centred_x, centred_y = rank_x - rank_x.mean(), orderings - rank_y.mean()
    rhos = centred_y @ centred_x / np.sqrt((centred_x ** 2).sum() * (centred_y ** 2).sum(axis=1))
    hits = int(np.sum(np.abs(rhos) >= abs(rho) - 1e-12))
    return rho, (hits / len(orderings) if exact else (hits + 1) / (len(orderings) + 1))


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


LATENTS = (("Gaussian", ("vae", "factor_vae")), ("discrete", DISCRETE))


def by_gamma(runs: list[dict]) -> dict:
    """{gamma: runs}, the models without TC at gamma 0."""
    groups: dict = {}
    for r in runs:
        groups.setdefault(r["gamma"] or 0.0, []).append(r)
    return dict(sorted(groups.items()))


def gamma_effect(records: list[dict]) -> list[dict]:
    """Per data set, latent type and metric: the summary of every gamma's runs (gamma 0 = the
    model without TC): [{dataset, latent, metric, cells: {gamma: summary}}]."""
    out = []
    for dataset in sorted({r["dataset"] for r in records}):
        for latent, models in LATENTS:
            groups = by_gamma([r for r in records if r["dataset"] == dataset and r["model"] in models])
            if len(groups) < 2:
                continue
            for metric in METRICS:
                out.append({"dataset": dataset, "latent": latent, "metric": metric,
                            "cells": {g: summarize(r["values"].get(metric) for r in rs) for g, rs in groups.items()}})
    return out


def selection_regrets(records: list[dict]) -> list[dict]:
    """Per data set, latent type (all its gammas and seeds, as a user would select), metric and
    rule (scripts/selection.py: st_gap, elbo, udr where recorded, and the oracle): the regret of
    picking one run among all, of picking gamma, and of picking the seed within each gamma (mean
    over the gammas), each beside the expected regret of a uniformly random pick."""
    from scripts import selection
    out = []
    for dataset in sorted({r["dataset"] for r in records}):
        for latent, models in LATENTS:
            runs = [r for r in records if r["dataset"] == dataset and r["model"] in models]
            groups = by_gamma(runs)
            rules = [rule for rule, (key, _) in selection.RULES.items()
                     if any(r["values"].get(key) is not None for r in runs)] + [selection.ORACLE]
            for metric in METRICS:
                for rule in rules:
                    overall = selection.regret(runs, rule, metric)
                    if overall is None:
                        continue
                    gamma = selection.gamma_regret(groups, rule, metric)
                    seeds = [w for w in (selection.regret(g, rule, metric) for g in groups.values()) if w]
                    out.append({"dataset": dataset, "latent": latent, "metric": metric, "rule": rule, **overall,
                                "picked_run": Path(overall["picked_run"]).name.replace(".eval.json", ""),
                                "gamma_n": gamma["n"], "gamma_picked": gamma["picked_gamma"],
                                "gamma_regret": gamma["regret"], "gamma_random_regret": gamma["random_regret"],
                                "seed_groups": len(seeds),
                                "seed_regret": float(np.mean([w["regret"] for w in seeds])),
                                "seed_random_regret": float(np.mean([w["random_regret"] for w in seeds]))})
    return out


# -- formatting -----------------------------------------------------------------------------
def cell_text(summary, digits=2, dash="–") -> str:
    if summary is None:
        return "n/a"
    return f"{summary['median']:.{digits}f} ({summary['p25']:.{digits}f}{dash}{summary['p75']:.{digits}f})"


def _num(value, digits=2) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def to_markdown(tables, selection, problems, digits=2, differences=(), effects=(), regrets=()) -> str:
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
    lines += gamma_markdown(effects, digits)
    if selection:
        lines += ["### Unsupervised model selection with the straight-through gap", "",
                  "Spearman ρ of st_gap with the metric (negative: a smaller gap goes with a better score; permutation p, "
                  f"exact up to {EXACT_SPEARMAN_MAX_N} runs, {SPEARMAN_RESAMPLES:,} seeded random orderings beyond); "
                  "the metric of the run with the smallest gap vs the median and the best run.", "",
                  "| data set | candidates | metric | n | Spearman ρ | p | selected (min gap) | median | best |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for s in selection:
            lines.append(f"| {s['dataset']} | {s['pool']} | {METRICS[s['metric']]} | {s['n']} | "
                         f"{_num(s['spearman'])} | {_num(s['p_value'], 3)} | {_num(s['selected'], digits)} | "
                         f"{_num(s['median'], digits)} | {_num(s['best'], digits)} |")
        lines.append("")
    lines += regrets_markdown(regrets, digits)
    lines += problems_text(problems)
    return "\n".join(lines)


def differences_markdown(differences, digits=2) -> list[str]:
    if not differences:
        return []
    lines = ["### Differences of medians (discrete minus Gaussian)", "",
             "Bootstrap 95 % interval of the difference of medians (10,000 resamples, seed 0); "
             "two-sided Mann–Whitney U test (exact unless ties force the normal approximation: see 'test'); "
             "p (Holm): adjusted by Holm's method over the six metrics of the same comparison.", "",
             "| data set | γ | metric | Gaussian (n) | discrete (n) | difference [95 % CI] | U | p | p (Holm) | test |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for d in differences:
        gamma = "–" if d["baseline"] == "vae" else ("all" if d["gamma"] is None else f"{d['gamma']:g}")
        lines.append(f"| {d['dataset']} | {gamma} | {METRICS[d['metric']]} | "
                     f"{MODEL_NAMES[d['baseline']]} {_num(d['baseline_median'], digits)} ({d['n_baseline']}) | "
                     f"{MODEL_NAMES[d['candidate']]} {_num(d['candidate_median'], digits)} ({d['n_candidate']}) | "
                     f"{d['difference']:+.{digits + 1}f} [{d['ci_low']:+.{digits + 1}f}, {d['ci_high']:+.{digits + 1}f}] | "
                     f"{d['u_statistic']:g} | {_num(d['p_value'], 3)} | {_num(d['p_holm'], 3)} | {d['method']} |")
    return lines + [""]


def gamma_markdown(effects, digits=2) -> list[str]:
    if not effects:
        return []
    gammas = sorted({g for e in effects for g in e["cells"]})
    lines = ["### The effect of γ (γ = 0: VAE / D-VAE, without TC)", "",
             "| data set | metric | latent | " + " | ".join(f"γ={g:g}" for g in gammas) + " |",
             "|---|---|---|" + "---|" * len(gammas)]
    for e in effects:
        cells = [f"{cell_text(e['cells'].get(g), digits)} (n={e['cells'][g]['n']})" if e["cells"].get(g) else "n/a"
                 for g in gammas]
        lines.append(f"| {e['dataset']} | {METRICS[e['metric']]} | {e['latent']} | " + " | ".join(cells) + " |")
    return lines + [""]


RULE_NAMES = {"st_gap": "smallest gap", "elbo": "lowest −ELBO", "udr": "largest UDR", "oracle": "oracle (the metric)"}


def regrets_markdown(regrets, digits=2) -> list[str]:
    if not regrets:
        return []
    lines = ["### Model selection: the regret of each rule", "",
             "Regret = best metric in the pool − metric of the pick (lower is better); 'random' = the expected "
             "regret of a uniformly random pick. All runs: one run among every γ and seed of the latent type. "
             "Choosing γ: each γ scored by the median rule score of its runs, judged by the median metric of "
             "its runs. Choosing the seed: within each γ, mean over the γ groups.", "",
             "| data set | latent | metric | rule | n | pick (rank) | regret | random | γ picked | γ regret | γ random | seed regret | seed random |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in regrets:
        lines.append(f"| {r['dataset']} | {r['latent']} | {METRICS[r['metric']]} | {RULE_NAMES[r['rule']]} | {r['n']} | "
                     f"{_num(r['picked'], digits)} ({r['rank']}) | {_num(r['regret'], digits + 1)} | "
                     f"{_num(r['random_regret'], digits + 1)} | {r['gamma_picked']:g} | {_num(r['gamma_regret'], digits + 1)} | "
                     f"{_num(r['gamma_random_regret'], digits + 1)} | {_num(r['seed_regret'], digits + 1)} | "
                     f"{_num(r['seed_random_regret'], digits + 1)} |")
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


def rows_csv(rows: list[dict], keys: list[str]) -> str:
    """One CSV of `rows` with the columns `keys` (floats to 6 significant digits)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(keys)
    for row in rows:
        writer.writerow([row[k] if not isinstance(row[k], float) else f"{row[k]:.6g}" for k in keys])
    return buffer.getvalue()


CSV_KEYS = {
    "selection": ["dataset", "pool", "metric", "n", "spearman", "p_value", "selected", "median", "best", "selected_run"],
    "differences": ["dataset", "baseline", "candidate", "gamma", "metric", "n_baseline", "n_candidate",
                    "baseline_median", "candidate_median", "difference", "ci_low", "ci_high", "u_statistic",
                    "p_value", "p_holm", "method"],
    "regrets": ["dataset", "latent", "metric", "rule", "n", "picked", "rank", "best", "regret", "random_regret",
                "picked_run", "gamma_n", "gamma_picked", "gamma_regret", "gamma_random_regret", "seed_groups",
                "seed_regret", "seed_random_regret"],
}


def _tex_escape(text: str) -> str:
    return (text.replace("_", r"\_").replace("γ", r"$\gamma$").replace("&", r"\&").replace("%", r"\%"))


def _tex_table(caption: str, spec: str, header: list[str], rows: list[list[str]]) -> list[str]:
    """One booktabs table: caption, column spec, header cells and body rows (already escaped)."""
    return ([r"\begin{table}[t]", r"\centering", rf"\caption{{{caption}}}", rf"\begin{{tabular}}{{{spec}}}",
             r"\toprule", " & ".join(header) + r" \\", r"\midrule"]
            + [" & ".join(row) + r" \\" for row in rows]
            + [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""])


def to_latex(tables, selection, digits=2, differences=()) -> str:
    parts = ["% Generated by scripts/tables.py: median (25th--75th percentile) over seeds."]
    for table in tables:
        parts += _tex_table(
            f"{_tex_escape(table['dataset'])}: {table['title']}. Median (25th--75th percentile) over seeds.",
            "l" + "c" * len(table["columns"]), ["Metric"] + [_tex_escape(c) for c in table["columns"]],
            [[METRICS[m]] + [cell_text(c, digits, dash="--") for c in cells] for m, cells in table["cells"].items()])
    if differences:
        def gamma(d):
            return "--" if d["baseline"] == "vae" else ("all" if d["gamma"] is None else f"{d['gamma']:g}")
        parts += _tex_table(
            r"Differences of medians (discrete minus Gaussian) with bootstrap 95\% intervals; two-sided "
            r"Mann--Whitney $U$ test (exact unless ties force the normal approximation); $p_\mathrm{Holm}$: "
            r"adjusted by Holm's method over the six metrics of the same comparison.",
            "llllrrrrl", ["Data set", r"$\gamma$", "Metric", "Pair", "Difference", r"95\% CI", "$p$",
                          r"$p_\mathrm{Holm}$", "Test"],
            [[_tex_escape(d["dataset"]), gamma(d), METRICS[d["metric"]],
              f"{MODEL_NAMES[d['candidate']]} vs {MODEL_NAMES[d['baseline']]}", f"{d['difference']:+.{digits + 1}f}",
              f"[{d['ci_low']:+.{digits + 1}f}, {d['ci_high']:+.{digits + 1}f}]", _num(d["p_value"], 3),
              _num(d["p_holm"], 3), d["method"]]
             for d in differences])
    if selection:
        parts += _tex_table(
            r"Model selection with the straight-through gap: Spearman $\rho$ with each metric; "
            r"the metric of the run with the smallest gap, the median and the best run.",
            "lllrrrrrr", ["Data set", "Candidates", "Metric", "$n$", r"$\rho$", "$p$", "Selected", "Median", "Best"],
            [[_tex_escape(s["dataset"]), _tex_escape(s["pool"]), METRICS[s["metric"]], str(s["n"]), _num(s["spearman"]),
              _num(s["p_value"], 3), _num(s["selected"], digits), _num(s["median"], digits), _num(s["best"], digits)]
             for s in selection])
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

        written += plot_gamma(rows, dataset, out_dir)
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


def plot_gamma(rows: list[dict], dataset: str, out_dir: Path) -> list[Path]:
    """`gamma_<dataset>`: each metric against gamma (0 = without TC) for both latent types:
    median line, 25–75 % band, every run a dot. Gammas sit at equal spacing (0, 10, 30, 100)."""
    import matplotlib.pyplot as plt
    effects = [e for e in gamma_effect(rows) if e["dataset"] == dataset]
    if not effects:
        return []
    gammas = sorted({g for e in effects for g in e["cells"]})
    fig, axes = plt.subplots(1, len(METRICS), figsize=(3.0 * len(METRICS), 3.2), squeeze=False)
    for ax, metric in zip(axes[0], METRICS):
        for offset, (latent, models) in zip((-0.08, 0.08), LATENTS):
            colour = COLOURS[models[1]]
            groups = by_gamma([r for r in rows if r["model"] in models])
            xs = [gammas.index(g) + offset for g in groups]
            summaries = [summarize(r["values"].get(metric) for r in rs) for rs in groups.values()]
            kept = [(x, s) for x, s in zip(xs, summaries) if s]
            if not kept:
                continue
            ax.plot([x for x, _ in kept], [s["median"] for _, s in kept], color=colour, label=latent)
            ax.fill_between([x for x, _ in kept], [s["p25"] for _, s in kept], [s["p75"] for _, s in kept],
                            color=colour, alpha=0.2)
            for x, rs in zip(xs, groups.values()):
                values = [r["values"][metric] for r in rs if r["values"].get(metric) is not None]
                ax.scatter([x] * len(values), values, s=10, color=colour, zorder=3)
        ax.set_xticks(range(len(gammas)), [f"{g:g}" for g in gammas])
        ax.set_xlabel("γ (0: no TC)", fontsize=8)
        ax.set_title(METRICS[metric], fontsize=9)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{dataset}: the effect of γ (median, 25–75 %, every run)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, out_dir / f"gamma_{dataset}")


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
    effects = gamma_effect(records)
    regrets = selection_regrets(records)
    texts = {"md": lambda: to_markdown(tables, selection, problems, args.digits, differences, effects, regrets),
             "csv": lambda: to_csv(tables),
             "tex": lambda: to_latex(tables, selection, args.digits, differences)}
    out = Path(args.out) if args.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        text = texts[fmt]()
        if out:
            (out / f"tables.{fmt}").write_text(text if text.endswith("\n") else text + "\n")
            if fmt == "csv":
                for name, rows in (("selection", selection), ("differences", differences), ("regrets", regrets)):
                    (out / f"{name}.csv").write_text(rows_csv(rows, CSV_KEYS[name]))
        else:
            print(text)
            if fmt == "csv":
                print(rows_csv(selection, CSV_KEYS["selection"]))
    if out:
        extra = " and selection.csv, differences.csv, regrets.csv" if "csv" in formats else ""
        print(f"wrote {', '.join(f'tables.{f}' for f in formats)}{extra} to {out}")
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
