"""What a larger training budget changes, as pure functions of eval records and of the rows of
each budget (analysis/study.py).

- `budget_comparison`: each setting (data set, model, gamma) trained at two budgets, the runs
  of the larger budget against those of the smaller (`compare`: difference of medians, larger
  minus smaller, bootstrap interval, exact Mann-Whitney), with Holm over the scores of one
  setting and pair of budgets (the scores both budgets have data for).
- `verdicts`: each question the tables ask of two models (the pairs of analysis/tables.py, and
  TC against no TC at each gamma), on each score, answered at each budget and compared: the
  verdict at a budget is "candidate higher" or "baseline higher" when the Holm-adjusted p is
  below ALPHA, with the sign of the difference of medians, else "undecided"; the change from
  the smaller budget to the larger is one of CHANGES; and whether the sign of the difference
  flipped, decided or not.

Budgets are compared in consecutive pairs (with three budgets: the first with the second, the
second with the third). The FactorVAE/FactorDVAE comparison over all gammas is left out of the
verdicts: its runs differ when the budgets were trained at different gammas, so its change
would mix the budget with the gammas. Holm's family in a verdict is the scores the question
was asked with at *both* budgets (the six metrics when the smaller budget's study has no
InfoMEC), so that no verdict is lost merely because the larger budget's family grew; the
tables of each budget keep their own scores (InfoMEC's three, a family of their own, where
recorded).
"""
from __future__ import annotations

from math import comb

import numpy as np

from analysis.pools import LATENTS, settings_of
from analysis.results import MODEL_NAMES, score_names
from analysis.statistics import compare
from analysis.study import budget_key
from analysis.tables import with_holm
from models.registry import REGISTRY

ALPHA = 0.05
TOO_FEW = "too few runs"
CHANGES = ("keeps", "loses", "reverses", "gains", "stays undecided", TOO_FEW)


def consecutive(budgets) -> list[tuple]:
    """[(smaller, larger)] of consecutive known budgets, ascending."""
    known = sorted((b for b in set(budgets) if b is not None), key=budget_key)
    return list(zip(known, known[1:]))


def budget_comparison(records: list[dict]) -> list[dict]:
    """Per data set, model, gamma and pair of consecutive budgets it was trained at, per score:
    `compare` of the smaller budget's runs (baseline) against the larger's (candidate), with
    `p_holm` over the scores of that setting and pair of budgets. Rows: {dataset, model, gamma,
    budget_small, budget_large, metric, **compare, p_holm}."""
    out = []
    settings = [(dataset, model, gamma) for dataset in sorted({r["dataset"] for r in records})
                for model, gamma in settings_of([r for r in records if r["dataset"] == dataset])]
    for dataset, model, gamma in settings:
        runs = [r for r in records if (r["dataset"], r["model"], r["gamma"]) == (dataset, model, gamma)]
        for small, large in consecutive(r["budget"] for r in runs):
            groups = [[r for r in runs if r["budget"] == b] for b in (small, large)]
            family = []
            for metric in score_names(runs):
                stats = compare(*([r["values"].get(metric) for r in group] for group in groups))
                if stats is not None:
                    family.append({"dataset": dataset, "model": model, "gamma": gamma, "budget_small": small,
                                   "budget_large": large, "metric": metric, **stats})
            out += with_holm(family)
    return out


def smallest_holm_p(row: dict) -> float:
    """The smallest Holm-adjusted p the row's test could reach whatever the runs: the exact
    two-sided Mann-Whitney p of complete separation, 2 / C(n_baseline + n_candidate,
    n_baseline), times the size of its Holm family (`holm_family`)."""
    return min(1.0, row["holm_family"] * 2 / comb(row["n_baseline"] + row["n_candidate"], row["n_baseline"]))


def verdict(row: dict) -> str:
    """'candidate higher' / 'baseline higher' when Holm's p is below ALPHA (by the sign of the
    difference of medians); TOO_FEW when no outcome of that many runs could reach ALPHA (one run
    a side, say: an interim study's), so that a lack of runs never reads as a lost verdict; else
    'undecided'."""
    if smallest_holm_p(row) >= ALPHA:
        return TOO_FEW
    if not (np.isfinite(row["p_holm"]) and row["p_holm"] < ALPHA) or row["difference"] == 0:
        return "undecided"
    return "candidate higher" if row["difference"] > 0 else "baseline higher"


def change(before: str, after: str) -> str:
    """One of CHANGES, from the verdict at the smaller budget to the one at the larger (TOO_FEW
    when either side had too few runs to decide)."""
    if TOO_FEW in (before, after):
        return TOO_FEW
    if before == "undecided":
        return "stays undecided" if after == "undecided" else "gains"
    if after == "undecided":
        return "loses"
    return "keeps" if after == before else "reverses"


def questions(differences: list[dict], tc: list[dict]) -> dict:
    """{(dataset, kind, baseline, candidate, gamma, metric): row} of one budget: the pairs
    ('pair'; FactorVAE/FactorDVAE per gamma only) and TC against no TC ('tc': the latent's
    model without TC as baseline, with TC as candidate)."""
    out = {}
    for d in differences:
        if REGISTRY[d["baseline"]].discriminator and d["gamma"] is None:
            continue
        out[(d["dataset"], "pair", d["baseline"], d["candidate"], d["gamma"], d["metric"])] = d
    models = dict(LATENTS)
    for d in tc:
        without = next(m for m in models[d["latent"]] if not REGISTRY[m].discriminator)
        with_tc = next(m for m in models[d["latent"]] if REGISTRY[m].discriminator)
        out[(d["dataset"], "tc", without, with_tc, d["gamma"], d["metric"])] = d
    return out


def _side(row: dict, suffix: str) -> dict:
    return {f"difference_{suffix}": row["difference"], f"sign_{suffix}": int(np.sign(row["difference"])),
            f"p_{suffix}": row["p_value"], f"p_holm_{suffix}": row["p_holm"], f"verdict_{suffix}": verdict(row)}


def shared_family(before: dict, after: dict) -> tuple[dict, dict]:
    """The rows of the questions asked at both budgets ({key: row}, as `questions` gives), each
    with `p_holm` (and `holm_family`) recomputed by Holm over the scores of its question present
    at both."""
    shared = [key for key in after if key in before]
    adjusted = ({}, {})
    for question in dict.fromkeys(key[:-1] for key in shared):
        keys = [key for key in shared if key[:-1] == question]
        for side, rows in zip(adjusted, (before, after)):
            for key, row in zip(keys, with_holm([rows[key] for key in keys])):
                side[key] = row
    return adjusted


def verdicts(per_budget: dict) -> list[dict]:
    """`per_budget` {budget: {'differences': rows, 'tc': rows}} (analysis/study.py's rows).
    For each pair of consecutive budgets and each question asked at both, one row: {dataset,
    kind, baseline, candidate, gamma, metric, budget_small, budget_large, difference_, sign_,
    p_, p_holm_, verdict_ (each _small and _large), change, sign_flipped}, in the order of the
    larger budget's tables (pairs, then TC)."""
    asked = {b: questions(rows["differences"], rows["tc"]) for b, rows in per_budget.items()}
    out = []
    for small, large in consecutive(asked):
        before_rows, after_rows = shared_family(asked[small], asked[large])
        for key, after in after_rows.items():
            before = before_rows[key]
            dataset, kind, baseline, candidate, gamma, metric = key
            sides = {**_side(before, "small"), **_side(after, "large")}
            out.append({"dataset": dataset, "kind": kind, "baseline": baseline, "candidate": candidate,
                        "gamma": gamma, "metric": metric, "budget_small": small, "budget_large": large, **sides,
                        "change": change(sides["verdict_small"], sides["verdict_large"]),
                        "sign_flipped": sides["sign_small"] * sides["sign_large"] < 0})
    return out


def question_label(row: dict) -> str:
    """How a verdict row's question reads: 'D-VAE vs VAE', 'FactorDVAE vs FactorVAE γ=10',
    'TC γ=10: FactorDVAE vs D-VAE' (candidate first)."""
    pair = f"{MODEL_NAMES[row['candidate']]} vs {MODEL_NAMES[row['baseline']]}"
    if row["kind"] == "tc":
        return f"TC γ={row['gamma']:g}: {pair}"
    return pair if row["gamma"] is None else f"{pair} γ={row['gamma']:g}"
