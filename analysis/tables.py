"""The rows of a study's tables, assembled from eval records (analysis/results.py): medians per
model and gamma, each discrete model against its Gaussian counterpart, the effect of gamma, the
gap's correlation with each metric, the regret of each selection rule, each selection score
against gamma, and each rule's agreement within a setting. The scores are the six metrics and,
where a run has them, InfoM, InfoE and InfoC (analysis/results.score_names); the selection
tables run over the pools of analysis/pools.py. The records are one training budget's
(analysis/study.py splits them). Pure functions; formatting is analysis/report.py's, figures
analysis/figures.py's."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis import selection
from analysis.pools import LATENTS, by_gamma, pools, rules_for
from analysis.results import GUMBEL, INFOMEC, INFOMEC_ARGMAX, METRICS, MODEL_NAMES, score_names
from analysis.statistics import compare, holm, spearman, summarize
from models.registry import REGISTRY

# The paper's two tables: the models without the TC penalty ('base'), then those with it ('tc'),
# each in registry order (VAE, D-VAE, QLAE; FactorVAE, FactorDVAE).
GROUPS = {
    "base": tuple(name for name, spec in REGISTRY.items() if not spec.discriminator),
    "tc": tuple(name for name, spec in REGISTRY.items() if spec.discriminator),
}


def columns(records: list[dict], dataset: str) -> list[tuple[str, str, list[dict]]]:
    """[(group, label, records)] of one data set: VAE, D-VAE, then FactorVAE / FactorDVAE per
    gamma and, where a model has more than one, over all gammas (with one it would repeat the
    column before it). Group 'base' is the first table, 'tc' the second."""
    rows = [r for r in records if r["dataset"] == dataset]
    out = []
    for model in GROUPS["base"]:
        chosen = [r for r in rows if r["model"] == model]
        if chosen:
            out.append(("base", MODEL_NAMES[model], chosen))
    for model in GROUPS["tc"]:
        chosen = [r for r in rows if r["model"] == model]
        gammas = sorted({r["gamma"] for r in chosen})
        for gamma in gammas:
            out.append(("tc", f"{MODEL_NAMES[model]} γ={gamma:g}", [r for r in chosen if r["gamma"] == gamma]))
        if len(gammas) > 1:
            out.append(("tc", f"{MODEL_NAMES[model]} all γ", chosen))
    return out


def build_tables(records: list[dict]) -> list[dict]:
    """[{dataset, group, columns: [labels], cells: {score: [summary | None per column]}}]; the
    scores: the six metrics, and InfoMEC where a run of the data set has it."""
    tables = []
    for dataset in sorted({r["dataset"] for r in records}):
        cols = columns(records, dataset)
        scores = score_names([r for r in records if r["dataset"] == dataset])
        for group, models in GROUPS.items():
            present = {r["model"] for r in records if r["dataset"] == dataset}
            title = " vs ".join(MODEL_NAMES[m] for m in models if m in present)
            chosen = [c for c in cols if c[0] == group]
            if not chosen:
                continue
            cells = {m: [summarize(r["values"].get(m) for r in recs) for _, _, recs in chosen] for m in scores}
            tables.append({"dataset": dataset, "group": group, "title": title,
                           "columns": [label for _, label, _ in chosen], "cells": cells})
    return tables


# The pairs compared: within each table, every two models with different latents, the earlier
# in registry order as the baseline: the paper's Gaussian model against its discrete
# counterpart, and QLAE against the VAE and against the D-VAE (learned scalar codebooks against
# the fixed ordered grid).
PAIRS = tuple((baseline, candidate) for models in GROUPS.values() for i, baseline in enumerate(models)
              for candidate in models[i + 1:] if REGISTRY[baseline].latent is not REGISTRY[candidate].latent)


def comparisons(records: list[dict]) -> list[dict]:
    """Per data set, pair and metric, `compare`: VAE vs D-VAE (and QLAE vs VAE, QLAE vs D-VAE),
    FactorVAE vs FactorDVAE at each gamma both were trained with (`gamma`), and over all gammas
    (`gamma` None). `p_holm`: the p
    value adjusted by Holm within each metric family of the same comparison (the six metrics;
    InfoM, InfoE and InfoC where both groups have them: `with_holm`)."""
    out = []
    for dataset in sorted({r["dataset"] for r in records}):
        for baseline, candidate in PAIRS:
            runs = {
                m: [r for r in records if r["dataset"] == dataset and r["model"] == m] for m in (baseline, candidate)
            }
            if not all(runs.values()):
                continue
            shared = sorted({r["gamma"] for r in runs[baseline]} & {r["gamma"] for r in runs[candidate]} - {None})
            groups = [(g, {m: [r for r in rs if r["gamma"] == g] for m, rs in runs.items()}) for g in shared]
            scores = score_names(runs[baseline] + runs[candidate])
            for gamma, chosen in groups + [(None, runs)]:
                family = []
                for metric in scores:
                    stats = compare(
                        [r["values"].get(metric) for r in chosen[baseline]],
                        [r["values"].get(metric) for r in chosen[candidate]],
                    )
                    if stats is not None:
                        family.append(
                            {
                                "dataset": dataset,
                                "baseline": baseline,
                                "candidate": candidate,
                                "gamma": gamma,
                                "metric": metric,
                                **stats,
                            }
                        )
                out += with_holm(family)
    return out


def with_holm(question: list[dict]) -> list[dict]:
    """The rows of one question's tests, each with `p_holm`: its `p_value` adjusted by Holm over
    the defined p-values of its metric family (NaN stays NaN and does not count), and
    `holm_family`: how many defined p-values that family has. The families
    are disentanglement_lib's six metrics and InfoMEC's three scores, adjusted apart: with five
    runs a side the smallest exact Mann-Whitney p is 2/252, and Holm over nine scores would make
    it 0.071, so that no comparison could ever be decided; over six it is 0.048 (the earlier
    studies' family), over InfoMEC's three 0.024."""
    out = [{**row, "p_holm": float("nan")} for row in question]
    for infomec in (False, True):
        members = [i for i, row in enumerate(question) if (row.get("metric") in INFOMEC) == infomec]
        defined = [i for i in members if np.isfinite(question[i]["p_value"])]
        for i in members:
            out[i]["holm_family"] = len(defined)
        for i, adjusted in zip(defined, holm([question[i]["p_value"] for i in defined])):
            out[i]["p_holm"] = adjusted
    return out


def model_selection(records: list[dict]) -> list[dict]:
    """Per data set and candidate pool (D-VAE, FactorDVAE, all discrete: the models with the
    gap), per metric: Spearman of st_gap with the metric (`p_holm`: adjusted over the pool's scores,
    within each metric family: `with_holm`), and the metric of the smallest-gap run vs the median and best."""
    out = []
    for dataset in sorted({r["dataset"] for r in records}):
        pools = [(MODEL_NAMES[m], [m]) for m in GUMBEL] + [("all discrete", list(GUMBEL))]
        for pool, models in pools:
            runs = [r for r in records if r["dataset"] == dataset and r["model"] in models]
            if pool == "all discrete" and len({r["model"] for r in runs}) < 2:
                continue
            family = []
            for metric in score_names(runs):
                pairs = [
                    r for r in runs if r["values"].get("st_gap") is not None and r["values"].get(metric) is not None
                ]
                if not pairs:
                    continue
                gaps = np.array([r["values"]["st_gap"] for r in pairs])
                scores = np.array([r["values"][metric] for r in pairs])
                rho, p = spearman(gaps, scores)
                pick = int(np.argmin(gaps))
                family.append(
                    {
                        "dataset": dataset,
                        "pool": pool,
                        "metric": metric,
                        "n": len(pairs),
                        "spearman": rho,
                        "p_value": p,
                        "selected": float(scores[pick]),
                        "selected_run": Path(pairs[pick]["path"]).name.replace(".eval.json", ""),
                        "median": float(np.median(scores)),
                        "best": float(np.max(scores)),
                    }
                )
            out += with_holm(family)
    return out


def gamma_effect(records: list[dict]) -> list[dict]:
    """Per data set, latent type and metric: the summary of every gamma's runs (gamma 0 = the
    model without TC): [{dataset, latent, metric, cells: {gamma: summary}}]."""
    out = []
    for dataset in sorted({r["dataset"] for r in records}):
        for latent, models in LATENTS:
            groups = by_gamma([r for r in records if r["dataset"] == dataset and r["model"] in models])
            if len(groups) < 2:
                continue
            for metric in score_names([r for rs in groups.values() for r in rs]):
                out.append(
                    {
                        "dataset": dataset,
                        "latent": latent,
                        "metric": metric,
                        "cells": {g: summarize(r["values"].get(metric) for r in rs) for g, rs in groups.items()},
                    }
                )
    return out


def tc_effects(records: list[dict]) -> list[dict]:
    """Does TC help? Per data set, latent type, gamma > 0 and metric, `compare` of the model
    with TC at that gamma against the same latent without TC (gamma 0), with `p_holm` over the
    scores of one (latent, gamma), within each metric family (`with_holm`)."""
    out = []
    for dataset in sorted({r["dataset"] for r in records}):
        for latent, models in LATENTS:
            groups = by_gamma([r for r in records if r["dataset"] == dataset and r["model"] in models])
            if 0.0 not in groups:
                continue
            scores = score_names([r for rs in groups.values() for r in rs])
            for gamma in [g for g in groups if g > 0]:
                family = []
                for metric in scores:
                    stats = compare(
                        [r["values"].get(metric) for r in groups[0.0]], [r["values"].get(metric) for r in groups[gamma]]
                    )
                    if stats is not None:
                        family.append({"dataset": dataset, "latent": latent, "gamma": gamma, "metric": metric, **stats})
                out += with_holm(family)
    return out


def selection_regrets(records: list[dict]) -> list[dict]:
    """Per data set, pool (analysis/pools.py: each latent type, all its gammas and seeds, as a
    user would select; with a QLAE run also 'all discrete' and 'all runs'), metric and rule
    (analysis/selection.py: st_gap, elbo, udr, recon_loss where recorded, recon_image with a
    QLAE run, and the oracle): the regret of picking one run among all, of picking the setting
    (gamma; a model at a gamma in the pools across latent types), and of picking the seed within
    each setting (mean over the settings), each beside the expected regret of a uniformly random
    pick; and how well the rule's score ranks all runs (`rho`, `rho_p`: selection.agreement).
    The pool is the row's `latent`."""
    out = []
    for dataset in sorted({r["dataset"] for r in records}):
        for latent, runs, groups in pools(records, dataset):
            rules = rules_for(runs, records, selection.RULES, latent) + [selection.ORACLE]
            for metric in score_names(runs):
                for rule in rules:
                    overall = selection.regret(runs, rule, metric)
                    if overall is None:
                        continue
                    gamma = selection.gamma_regret(groups, rule, metric)
                    seeds = [w for w in (selection.regret(g, rule, metric) for g in groups.values()) if w]
                    rho, rho_p = selection.agreement(runs, rule, metric)
                    out.append(
                        {
                            "dataset": dataset,
                            "latent": latent,
                            "metric": metric,
                            "rule": rule,
                            **overall,
                            "rho": rho,
                            "rho_p": rho_p,
                            "picked_run": Path(overall["picked_run"]).name.replace(".eval.json", ""),
                            "gamma_n": gamma["n"],
                            "gamma_picked": gamma["picked_gamma"],
                            "gamma_regret": gamma["regret"],
                            "gamma_random_regret": gamma["random_regret"],
                            "seed_groups": len(seeds),
                            "seed_regret": float(np.mean([w["regret"] for w in seeds])),
                            "seed_random_regret": float(np.mean([w["random_regret"] for w in seeds])),
                        }
                    )
    return out


def within_setting(records: list[dict]) -> list[dict]:
    """Per data set, pool (analysis/pools.py: each latent type; with a QLAE run also 'all
    discrete' and 'all runs'), rule (st_gap, elbo, udr, recon_loss where any run has it,
    recon_image with a QLAE run) and metric: the rule's agreement with the metric within each
    setting (in a latent type one group per gamma, gamma 0 the model without TC; across latent
    types one group per model and gamma), averaged over the settings, with a permutation p
    inside each setting (selection.within_agreement), and `p_holm` over the scores of one
    rule and pool, within each metric family (`with_holm`) (one question: does the rule rank
    the seeds of a setting as the metrics do). Each row: {dataset, latent (the pool), rule,
    metric, groups (settings with a defined rho), n (their runs), rho (the mean), p_value,
    p_holm, method ('exact' or 'monte carlo'), group_rhos: {gamma or setting label: rho, NaN
    where undefined}}."""
    out = []
    for dataset in sorted({r["dataset"] for r in records}):
        for latent, runs, groups in pools(records, dataset):
            for rule in rules_for(runs, records, selection.RULES, latent):
                family = []
                for metric in score_names(runs):
                    within = selection.within_agreement(groups, rule, metric)
                    family.append(
                        {
                            "dataset": dataset,
                            "latent": latent,
                            "rule": rule,
                            "metric": metric,
                            "groups": within["groups"],
                            "n": within["n"],
                            "rho": within["rho"],
                            "p_value": within["p"],
                            "method": within["method"],
                            "group_rhos": dict(zip(within["settings"], within["group_rhos"])),
                        }
                    )
                out += with_holm(family)
    return out


def scores_by_gamma(records: list[dict]) -> list[dict]:
    """Per data set, latent type and selection score (st_gap, elbo, udr, recon_loss where
    recorded, recon_image with a QLAE run): the
    median score of each gamma's runs, and Spearman's rho of the score (as recorded: not
    oriented by the rule) with gamma over all runs that have it, with its permutation p:
    [{dataset, latent, rule, n, medians: {gamma: median}, rho, p_value}]. A score that moves
    with gamma can agree with a metric over all runs merely because the metric moves with gamma
    too; within_setting takes that part out."""
    out = []
    for dataset in sorted({r["dataset"] for r in records}):
        for latent, models in LATENTS:
            groups = by_gamma([r for r in records if r["dataset"] == dataset and r["model"] in models])
            runs = [r for rs in groups.values() for r in rs]
            for rule in rules_for(runs, records, selection.RULES):
                key = selection.RULES[rule][0]
                scored = {
                    g: [r["values"][key] for r in rs if r["values"].get(key) is not None] for g, rs in groups.items()
                }
                scored = {g: v for g, v in scored.items() if v}
                if not scored:
                    continue
                gammas = [g for g, v in scored.items() for _ in v]
                rho, p = spearman(gammas, [x for v in scored.values() for x in v])
                out.append(
                    {
                        "dataset": dataset,
                        "latent": latent,
                        "rule": rule,
                        "n": len(gammas),
                        "medians": {g: float(np.median(v)) for g, v in scored.items()},
                        "rho": rho,
                        "p_value": p,
                    }
                )
    return out


RUN_SCORES = ("elbo", "st_gap", "udr", "recon_loss", "recon_image")
MODEL_ORDER = tuple(REGISTRY)


def run_rows(records: list[dict]) -> list[dict]:
    """Every run, one row each, in table order (data set, model, gamma, seed): its six metrics,
    InfoMEC (and on the argmax codes) where recorded, and its selection scores (negative ELBO,
    straight-through gap, UDR, reconstruction loss per pixel and per image; None where it has
    none), so that a reader can check any summary above against the runs behind it."""

    def order(r):
        return (r["dataset"], MODEL_ORDER.index(r["model"]), r["gamma"] or 0.0, r["seed"] or 0)

    return [
        {
            "dataset": r["dataset"],
            "model": r["model"],
            "gamma": r["gamma"],
            "seed": r["seed"],
            "run": Path(r["path"]).name.replace(".eval.json", ""),
            **{key: r["values"].get(key) for key in (*METRICS, *RUN_SCORES, *INFOMEC, *INFOMEC_ARGMAX)},
        }
        for r in sorted(records, key=order)
    ]
