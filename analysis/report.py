"""A study's tables as text: markdown (tables.md), CSV and LaTeX, from the rows of
analysis/tables.py (one training budget's; analysis/budget_report.py puts several together).
InfoMEC's rows and columns, and the selection pools across latent types, appear only where the
rows hold them, so an older study's text is unchanged."""
from __future__ import annotations

import csv
import io

import numpy as np

from analysis.results import INFOMEC, INFOMEC_ARGMAX, METRICS, MODEL_NAMES, NAMES
from analysis.statistics import EXACT_SPEARMAN_MAX_N, SPEARMAN_RESAMPLES
from models.registry import REGISTRY


def cell_text(summary, digits=2, dash="–") -> str:
    if summary is None:
        return "n/a"
    return f"{summary['median']:.{digits}f} ({summary['p25']:.{digits}f}{dash}{summary['p75']:.{digits}f})"


def number_text(value, digits=2) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def family_text(rows) -> str:
    """The family Holm's method adjusts over, as the text says it: "the six metrics" while the
    rows hold only the six metrics (the older studies' tables), else both families named
    (analysis/tables.with_holm adjusts the six metrics and InfoMEC's three scores apart)."""
    if all(r["metric"] in METRICS for r in rows):
        return "the six metrics"
    return "the six metrics, and apart over InfoM, InfoE and InfoC (where the runs have them),"


INTRO = "Cells: median (25th–75th percentile) over seeds; n = number of runs per column."


def to_markdown(tables, selection, problems, digits=2, differences=(), effects=(), regrets=(), tc=(), runs=(),
                scores=(), within=()) -> str:
    body = markdown_body(tables, selection, digits, differences, effects, regrets, tc, runs, scores, within)
    return "\n".join([INTRO, ""] + body + problems_text(problems))


def markdown_body(tables, selection, digits=2, differences=(), effects=(), regrets=(), tc=(), runs=(), scores=(),
                  within=()) -> list[str]:
    """The sections of one set of rows (one training budget's), without the opening line and
    the list of problems."""
    lines = []
    for table in tables:
        lines += [f"### {table['dataset']}: {table['title']}", ""]
        ns = [max((s["n"] for s in col if s), default=0)
              for col in zip(*table["cells"].values())]
        header = ["metric"] + [f"{c} (n={n})" for c, n in zip(table["columns"], ns)]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for metric, cells in table["cells"].items():
            lines.append("| " + " | ".join([NAMES[metric]] + [cell_text(c, digits) for c in cells]) + " |")
        lines.append("")
    lines += differences_markdown(differences, digits)
    lines += gamma_markdown(effects, digits)
    lines += tc_markdown(tc, digits)
    lines += selection_markdown(selection, digits)
    lines += regrets_markdown(regrets, digits)
    lines += scores_markdown(scores, digits)
    lines += within_markdown(within)
    lines += runs_markdown(runs, digits)
    return lines


def selection_markdown(selection, digits=2) -> list[str]:
    if not selection:
        return []
    lines = ["### Unsupervised model selection with the straight-through gap", "",
             "Spearman ρ of st_gap with the metric (negative: a smaller gap goes with a better score; permutation p, "
             f"exact up to {EXACT_SPEARMAN_MAX_N} runs, {SPEARMAN_RESAMPLES:,} seeded random orderings beyond); "
             f"p (Holm): adjusted by Holm's method over {family_text(selection)} of the same candidates; "
             "the metric of the run with the smallest gap vs the median and the best run.", "",
             "| data set | candidates | metric | n | Spearman ρ | p | p (Holm) | selected (min gap) | median | best |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for s in selection:
        lines.append(f"| {s['dataset']} | {s['pool']} | {NAMES[s['metric']]} | {s['n']} | "
                     f"{number_text(s['spearman'])} | {number_text(s['p_value'], 3)} | {number_text(s['p_holm'], 3)} | "
                     f"{number_text(s['selected'], digits)} | "
                     f"{number_text(s['median'], digits)} | {number_text(s['best'], digits)} |")
    return lines + [""]


def gamma_cell(d, dash: str) -> str:
    """The γ of a comparison: `dash` for a pair without the TC penalty, 'all' over all gammas."""
    if not REGISTRY[d["baseline"]].discriminator:
        return dash
    return "all" if d["gamma"] is None else f"{d['gamma']:g}"


def difference_test_cells(d, digits=2) -> str:
    """The closing cells of a test row: difference [95 % CI] | U | p | p (Holm) | test."""
    return (f"{d['difference']:+.{digits + 1}f} [{d['ci_low']:+.{digits + 1}f}, {d['ci_high']:+.{digits + 1}f}] | "
            f"{d['u_statistic']:g} | {number_text(d['p_value'], 3)} | {number_text(d['p_holm'], 3)} | {d['method']} |")


def differences_markdown(differences, digits=2) -> list[str]:
    if not differences:
        return []
    # The paper's pairs are Gaussian against discrete; QLAE's are against the VAE and the D-VAE.
    paper = all(not REGISTRY[d["baseline"]].discrete for d in differences)
    first, second = ("Gaussian", "discrete") if paper else ("baseline", "candidate")
    lines = [f"### Differences of medians ({second} minus {first})", "",
             "Bootstrap 95 % interval of the difference of medians (10,000 resamples, seed 0); "
             "two-sided Mann–Whitney U test (exact unless ties force the normal approximation: see 'test'); "
             f"p (Holm): adjusted by Holm's method over {family_text(differences)} of the same comparison.", "",
             f"| data set | γ | metric | {first} (n) | {second} (n) | difference [95 % CI] | U | p | p (Holm) | test |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for d in differences:
        lines.append(
            f"| {d['dataset']} | {gamma_cell(d, '–')} | {NAMES[d['metric']]} | "
            f"{MODEL_NAMES[d['baseline']]} {number_text(d['baseline_median'], digits)} ({d['n_baseline']}) | "
            f"{MODEL_NAMES[d['candidate']]} {number_text(d['candidate_median'], digits)} ({d['n_candidate']}) | "
            + difference_test_cells(d, digits)
        )
    return lines + [""]


def gamma_markdown(effects, digits=2) -> list[str]:
    if not effects:
        return []
    gammas = sorted({g for e in effects for g in e["cells"]})
    lines = [
        "### The effect of γ (γ = 0: VAE / D-VAE, without TC)",
        "",
        "| data set | metric | latent | " + " | ".join(f"γ={g:g}" for g in gammas) + " |",
        "|---|---|---|" + "---|" * len(gammas),
    ]
    for e in effects:
        cells = [
            f"{cell_text(e['cells'].get(g), digits)} (n={e['cells'][g]['n']})" if e["cells"].get(g) else "n/a"
            for g in gammas
        ]
        lines.append(f"| {e['dataset']} | {NAMES[e['metric']]} | {e['latent']} | " + " | ".join(cells) + " |")
    return lines + [""]


def tc_markdown(tc, digits=2) -> list[str]:
    if not tc:
        return []
    lines = [
        "### The effect of TC: each γ against the same latent without TC (γ = 0)",
        "",
        "Difference of medians (with TC minus without) with a bootstrap 95 % interval and the two-sided "
        f"Mann–Whitney U test, as above; p (Holm): over {family_text(tc)} of one latent and γ.",
        "",
        "| data set | latent | γ | metric | γ = 0 (n) | γ (n) | difference [95 % CI] | U | p | p (Holm) | test |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d in tc:
        lines.append(
            f"| {d['dataset']} | {d['latent']} | {d['gamma']:g} | {NAMES[d['metric']]} | "
            f"{number_text(d['baseline_median'], digits)} ({d['n_baseline']}) | "
            f"{number_text(d['candidate_median'], digits)} ({d['n_candidate']}) | " + difference_test_cells(d, digits)
        )
    return lines + [""]


RULE_NAMES = {"st_gap": "smallest gap", "elbo": "lowest −ELBO", "udr": "largest UDR",
              "recon_loss": "lowest reconstruction loss", "recon_image": "lowest reconstruction (nats/image)",
              "oracle": "oracle (the metric)"}
# The note the selection tables add when they hold the pools across latent types.
CROSS_NOTE = ("In the pools across latent types (all discrete: D-VAE, FactorDVAE, QLAE; all runs: every model) a "
              "setting is one model at one γ: 'γ picked' and the groups name the setting. Lowest reconstruction "
              "(nats/image): the reconstruction term of the ELBO for the VAE family, QLAE's reconstruction loss "
              "summed per image, on the same images.")


def setting_text(key) -> str:
    """A setting as the tables name it: a γ (a number), or a model at a γ (a label)."""
    return key if isinstance(key, str) else f"{key:g}"


def cross_note(rows) -> list[str]:
    """CROSS_NOTE and a blank line when the rows hold a pool across latent types, else nothing."""
    return [CROSS_NOTE, ""] if any(r["latent"] in ("all discrete", "all runs") for r in rows) else []


def rho_text(row) -> str:
    return "–" if not np.isfinite(row["rho"]) else f"{row['rho']:+.2f} ({number_text(row['rho_p'], 3)})"


def regrets_markdown(regrets, digits=2) -> list[str]:
    if not regrets:
        return []
    lines = [
        "### Model selection: the regret of each rule",
        "",
        "Regret = best metric in the pool − metric of the pick (lower is better); 'random' = the expected "
        "regret of a uniformly random pick. All runs: one run among every γ and seed of the latent type. "
        "Choosing γ: each γ scored by the median rule score of its runs, judged by the median metric of "
        "its runs. Choosing the seed: within each γ, mean over the γ groups. ρ (p): Spearman correlation of "
        "the rule's preference with the metric over all runs, permutation p (positive: the rule ranks "
        "runs as the metric does).",
        "",
        *cross_note(regrets),
        "| data set | latent | metric | rule | n | pick (rank) | regret | random | ρ (p) | γ picked | γ regret "
        "| γ random | seed regret | seed random |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in regrets:
        lines.append(
            f"| {r['dataset']} | {r['latent']} | {NAMES[r['metric']]} | {RULE_NAMES[r['rule']]} | {r['n']} | "
            f"{number_text(r['picked'], digits)} ({r['rank']}) | {number_text(r['regret'], digits + 1)} | "
            f"{number_text(r['random_regret'], digits + 1)} | {rho_text(r)} | {setting_text(r['gamma_picked'])} | "
            f"{number_text(r['gamma_regret'], digits + 1)} | "
            f"{number_text(r['gamma_random_regret'], digits + 1)} | {number_text(r['seed_regret'], digits + 1)} | "
            f"{number_text(r['seed_random_regret'], digits + 1)} |"
        )
    return lines + [""]


SCORE_NAMES = {"st_gap": "gap", "elbo": "−ELBO (nats)", "udr": "UDR", "recon_loss": "reconstruction (per pixel)",
               "recon_image": "reconstruction (nats/image)"}


def scores_markdown(scores, digits=2) -> list[str]:
    if not scores:
        return []
    gammas = sorted({g for s in scores for g in s["medians"]})
    lines = [
        "### The selection scores against γ",
        "",
        "Median of each score over the runs of each γ (γ = 0: VAE / D-VAE, without TC), and Spearman ρ of "
        "the score, as recorded, with γ over all runs (permutation p, as above; positive: the score grows "
        "with γ). The rules prefer a smaller gap, a lower −ELBO and a larger UDR.",
        "",
        "| data set | latent | score | n | " + " | ".join(f"γ={g:g}" for g in gammas) + " | ρ with γ (p) |",
        "|---|---|---|---|" + "---|" * len(gammas) + "---|",
    ]
    for s in scores:
        places = {"st_gap": 2, "elbo": 2, "recon_image": 2, "recon_loss": digits + 2}.get(s["rule"], digits)
        cells = [number_text(s["medians"].get(g), places) if g in s["medians"] else "n/a" for g in gammas]
        lines.append(
            f"| {s['dataset']} | {s['latent']} | {SCORE_NAMES[s['rule']]} | {s['n']} | "
            + " | ".join(cells)
            + f" | {rho_text({'rho': s['rho'], 'rho_p': s['p_value']})} |"
        )
    return lines + [""]


def within_markdown(within) -> list[str]:
    if not within:
        return []
    lines = [
        "### Model selection within each setting",
        "",
        "Does the rule rank the runs of one setting (one γ of one latent type, γ = 0 the model without TC) "
        "as the metric does? ρ: Spearman correlation of the rule's preference (smaller gap, lower −ELBO, "
        "larger UDR) with the metric within each γ, averaged over the γ groups (each group's ρ in the last "
        "column). p: two-sided permutation test that permutes the runs only within each γ, so that "
        "differences between the γ do not count (exact: the convolution of each group's n! orderings, "
        f"for groups of up to {EXACT_SPEARMAN_MAX_N} runs; else {SPEARMAN_RESAMPLES:,} seeded joint "
        f"permutations; see 'test'); p (Holm): adjusted by Holm's method over {family_text(within)} of one rule "
        "and latent type. The regret table's ρ is the same agreement over all runs, between γ included.",
        "",
        *cross_note(within),
        "| data set | latent | rule | metric | groups (runs) | mean ρ within γ | p | p (Holm) | test | ρ at each γ |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for w in within:
        each = ", ".join(
            (f"{g}: " if isinstance(g, str) else f"γ={g:g}: ") + ("–" if not np.isfinite(r) else f"{r:+.2f}")
            for g, r in w["group_rhos"].items()
        )
        rho = "n/a" if not np.isfinite(w["rho"]) else f"{w['rho']:+.2f}"
        lines.append(
            f"| {w['dataset']} | {w['latent']} | {RULE_NAMES[w['rule']]} | {NAMES[w['metric']]} | "
            f"{w['groups']} ({w['n']}) | {rho} | {number_text(w['p_value'], 3)} | "
            f"{number_text(w['p_holm'], 3)} | {w['method']} | {each} |"
        )
    return lines + [""]


def run_columns(runs, digits=2) -> dict:
    """{key: (header, decimal places)} of the run table: the six metrics, −ELBO, gap, UDR; with
    a QLAE run its reconstruction loss per pixel and the reconstruction per image of every run
    (the rule across families); InfoMEC and its argmax variants where a run has them."""
    columns = {**{k: (name, digits) for k, name in METRICS.items()},
               "elbo": ("−ELBO (nats)", 2), "st_gap": ("gap", 2), "udr": ("UDR", digits)}
    if any(r["recon_loss"] is not None for r in runs):
        columns.update(recon_loss=("recon (per pixel)", digits + 2), recon_image=("recon (nats/image)", 2))
    for key, name in {**INFOMEC, **INFOMEC_ARGMAX}.items():
        if any(r.get(key) is not None for r in runs):
            columns[key] = (name, digits)
    return columns


ARGMAX_NOTE = ("InfoM/InfoE/InfoC (argmax): InfoMEC of a categorical latent (D-VAE, FactorDVAE) read as each "
               "latent's most likely category's codebook value (the argmax code, a discrete code: how the QLAE "
               "line reads a categorical latent), beside InfoMEC of the metrics' read-out.")


def runs_markdown(runs, digits=2) -> list[str]:
    if not runs:
        return []
    # QLAE's runs add their reconstruction loss (it has neither ELBO nor gap), and say that their
    # UDR is computed without the KL filter.
    qlae = any(r["recon_loss"] is not None for r in runs)
    columns = run_columns(runs, digits)
    header = ["data set", "model", "γ", "seed"] + [name for name, _ in columns.values()]
    argmax = any(k in columns for k in INFOMEC_ARGMAX)
    lines = [
        "### Every run",
        "",
        "The runs behind every summary above; '–': the run has no such score "
        "(a Gaussian model has no gap; older results no ELBO or UDR"
        + ("; QLAE has neither ELBO nor gap, and its UDR is computed without the KL filter, which needs a "
           "KL per latent" if qlae else "") + ")." + (" " + ARGMAX_NOTE if argmax else ""),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for r in runs:
        gamma = "–" if r["gamma"] is None else f"{r['gamma']:g}"
        scores = ["–" if r[k] is None else number_text(r[k], d) for k, (_, d) in columns.items()]
        lines.append(
            f"| {r['dataset']} | {MODEL_NAMES[r['model']]} | {gamma} | {r['seed']} | " + " | ".join(scores) + " |"
        )
    return lines + [""]


def problems_text(problems) -> list[str]:
    if not problems:
        return ["All results complete: every checkpoint has an eval JSON with every metric."]
    return [f"### Missing or partial results ({len(problems)})", ""] + [f"- {p}" for p in problems] + [""]


def to_csv(tables) -> str:
    """The summary tables as CSV; with a `budget` column after the data set when the tables
    carry one (several training budgets)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    budget = any("budget" in t for t in tables)
    writer.writerow(["dataset"] + (["budget"] if budget else []) + ["table", "metric", "column", "n", "median", "p25",
                                                                    "p75"])
    for table in tables:
        for metric, cells in table["cells"].items():
            for column, s in zip(table["columns"], cells):
                writer.writerow(
                    [table["dataset"]] + ([table["budget"]] if budget else []) + [table["group"], metric, column]
                    + ([s["n"], f"{s['median']:.6g}", f"{s['p25']:.6g}", f"{s['p75']:.6g}"] if s else [0, "", "", ""])
                )
    return buffer.getvalue()


def _csv_cell(value):
    """Floats to 6 significant digits; a {gamma: float} map as 'gamma:value' pairs joined by ';'."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict):
        return ";".join(f"{setting_text(k)}:{v:.6g}" for k, v in value.items())
    return value


def rows_csv(rows: list[dict], keys: list[str]) -> str:
    """One CSV of `rows` with the columns `keys` (floats to 6 significant digits, maps by gamma
    as 'gamma:value;...')."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(keys)
    for row in rows:
        writer.writerow([_csv_cell(row[k]) for k in keys])
    return buffer.getvalue()


# The columns of a two-sample comparison (analysis/statistics.compare), in both test tables.
TEST_COLUMNS = ["n_baseline", "n_candidate", "baseline_median", "candidate_median", "difference", "ci_low",
                 "ci_high", "u_statistic", "p_value", "p_holm", "method"]
CSV_KEYS = {
    "selection": ["dataset", "pool", "metric", "n", "spearman", "p_value", "p_holm", "selected", "median", "best",
                  "selected_run"],
    "differences": ["dataset", "baseline", "candidate", "gamma", "metric", *TEST_COLUMNS],
    "tc_effects": ["dataset", "latent", "gamma", "metric", *TEST_COLUMNS],
    "runs": ["dataset", "model", "gamma", "seed", "run", *METRICS, "elbo", "st_gap", "udr"],
    "regrets": ["dataset", "latent", "metric", "rule", "n", "picked", "rank", "best", "regret", "random_regret", "rho",
                "rho_p", "picked_run", "gamma_n", "gamma_picked", "gamma_regret", "gamma_random_regret",
                "seed_groups", "seed_regret", "seed_random_regret"],
    "scores_by_gamma": ["dataset", "latent", "rule", "n", "medians", "rho", "p_value"],
    "within": ["dataset", "latent", "rule", "metric", "groups", "n", "rho", "p_value", "p_holm", "method",
               "group_rhos"],
}


def csv_keys(name: str, rows: list[dict]) -> list[str]:
    """The columns of `name`.csv: CSV_KEYS[name], and for the runs the columns of `run_columns`
    beyond them (the reconstruction losses with a QLAE run, InfoMEC where recorded)."""
    if name == "runs":
        return CSV_KEYS[name] + [k for k in run_columns(rows) if k not in CSV_KEYS[name]]
    return CSV_KEYS[name]


def _tex_escape(text: str) -> str:
    return text.replace("_", r"\_").replace("γ", r"$\gamma$").replace("&", r"\&").replace("%", r"\%")


def _tex_table(caption: str, spec: str, header: list[str], rows: list[list[str]]) -> list[str]:
    """One booktabs table: caption, column spec, header cells and body rows (already escaped)."""
    return (
        [
            r"\begin{table}[t]",
            r"\centering",
            rf"\caption{{{caption}}}",
            rf"\begin{{tabular}}{{{spec}}}",
            r"\toprule",
            " & ".join(header) + r" \\",
            r"\midrule",
        ]
        + [" & ".join(row) + r" \\" for row in rows]
        + [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    )


def to_latex(tables, selection, digits=2, differences=(), heading: str = "") -> str:
    """The LaTeX tables; `heading` (e.g. a training budget) opens every caption when given."""
    parts = ["% Generated by scripts/tables.py: median (25th--75th percentile) over seeds."]

    def tex_table(caption, *rest):
        return _tex_table(f"{_tex_escape(heading)}: {caption}" if heading else caption, *rest)

    for table in tables:
        parts += tex_table(
            f"{_tex_escape(table['dataset'])}: {table['title']}. Median (25th--75th percentile) over seeds.",
            "l" + "c" * len(table["columns"]),
            ["Metric"] + [_tex_escape(c) for c in table["columns"]],
            [[NAMES[m]] + [cell_text(c, digits, dash="--") for c in cells] for m, cells in table["cells"].items()],
        )
    if differences:
        paper = all(not REGISTRY[d["baseline"]].discrete for d in differences)
        parts += tex_table(
            ("Differences of medians (discrete minus Gaussian)" if paper else "Differences of medians (each pair: "
             "the first model minus the second)")
            + r" with bootstrap 95\% intervals; two-sided "
            r"Mann--Whitney $U$ test (exact unless ties force the normal approximation); $p_\mathrm{Holm}$: "
            rf"adjusted by Holm's method over {family_text(differences)} of the same comparison.",
            "llllrrrrl",
            ["Data set", r"$\gamma$", "Metric", "Pair", "Difference", r"95\% CI", "$p$", r"$p_\mathrm{Holm}$", "Test"],
            [
                [
                    _tex_escape(d["dataset"]),
                    gamma_cell(d, "--"),
                    NAMES[d["metric"]],
                    f"{MODEL_NAMES[d['candidate']]} vs {MODEL_NAMES[d['baseline']]}",
                    f"{d['difference']:+.{digits + 1}f}",
                    f"[{d['ci_low']:+.{digits + 1}f}, {d['ci_high']:+.{digits + 1}f}]",
                    number_text(d["p_value"], 3),
                    number_text(d["p_holm"], 3),
                    d["method"],
                ]
                for d in differences
            ],
        )
    if selection:
        parts += tex_table(
            r"Model selection with the straight-through gap: Spearman $\rho$ with each metric; "
            r"the metric of the run with the smallest gap, the median and the best run.",
            "lllrrrrrr",
            ["Data set", "Candidates", "Metric", "$n$", r"$\rho$", "$p$", "Selected", "Median", "Best"],
            [
                [
                    _tex_escape(s["dataset"]),
                    _tex_escape(s["pool"]),
                    NAMES[s["metric"]],
                    str(s["n"]),
                    number_text(s["spearman"]),
                    number_text(s["p_value"], 3),
                    number_text(s["selected"], digits),
                    number_text(s["median"], digits),
                    number_text(s["best"], digits),
                ]
                for s in selection
            ],
        )
    return "\n".join(parts)
