"""Unsupervised model selection judged by its regret, as pure functions of eval records.

A user trains several models without labels and must pick one. A rule scores each run without
labels and picks the best-scoring one: the smallest straight-through gap (the paper's, discrete
models only), the lowest negative ELBO on a fixed sample (the rule every user has), the largest
UDR once it is recorded, the lowest reconstruction loss on the ELBO's images (QLAE's baseline:
it has no ELBO), the lowest reconstruction per image (`recon_image`, analysis/results.py: the
ELBO's reconstruction term for the VAE family, QLAE's loss summed per image; the one rule every
model has, used where QLAE's runs stand beside the others, analysis/pools.py), and, as the
ceiling, the metric itself (the oracle). For one metric,
the rule's *regret* is the best metric in the pool minus the metric of the run it picks (0 for
the oracle), its *rank* is that run's place by the metric (1 = best), and a uniformly random
pick has the expected regret best - mean: a rule that does not beat that does not beat chance.

Two decisions are judged, the two a user makes:
- choosing among all runs of a population (gamma and seed both varying);
- choosing gamma: every gamma scored by the median rule score of its runs; the outcome is the
  median metric of the chosen gamma's runs against the best gamma's median;
and choosing the seed within one gamma. A rule's agreement with a metric is measured over all runs
(`agreement`) and within each setting (`within_agreement`). Over all runs it also rewards a
rule that merely tells settings apart (the gap and the ELBO both grow with gamma, while several
metrics fall with it); within a setting it asks whether the rule ranks the seeds of one setting
as the metric does, the choice that is left once the setting is fixed.

Records are `analysis.results.read_result` dicts: `values` maps metric and score names to floats
(None when absent).
"""
from __future__ import annotations

import numpy as np

from analysis.statistics import spearman, within_spearman

# rule -> (score key in a record's values, +1 if larger is better, -1 if smaller is better)
RULES = {"st_gap": ("st_gap", -1), "elbo": ("elbo", -1), "udr": ("udr", +1), "recon_loss": ("recon_loss", -1),
         "recon_image": ("recon_image", -1)}
ORACLE = "oracle"


def _usable(runs: list[dict], metric: str, key: str | None) -> list[dict]:
    return [r for r in runs if r["values"].get(metric) is not None
            and (key is None or r["values"].get(key) is not None)]


def pick(runs: list[dict], rule: str, metric: str) -> dict | None:
    """The run `rule` selects among `runs` (ties: the first in order), or None when no run has
    both the rule's score and the metric."""
    key, sign = RULES[rule] if rule != ORACLE else (metric, +1)
    usable = _usable(runs, metric, key)
    if not usable:
        return None
    scores = np.array([sign * r["values"][key] for r in usable])
    return usable[int(np.argmax(scores))]


def regret(runs: list[dict], rule: str, metric: str) -> dict | None:
    """{'n', 'picked', 'picked_run', 'best', 'regret', 'rank', 'random_regret'} over the runs that
    have both the rule's score and the metric (the oracle: every run with the metric).

    `rank` counts the runs strictly better than the picked one, plus one. `random_regret` is the
    expected regret of a uniformly random pick among the same runs (best - mean)."""
    key = RULES[rule][0] if rule != ORACLE else None
    usable = _usable(runs, metric, key)
    chosen = pick(usable, rule, metric)
    if chosen is None:
        return None
    values = np.array([r["values"][metric] for r in usable])
    picked, best = chosen["values"][metric], float(values.max())
    return {"n": len(usable), "picked": picked, "picked_run": chosen.get("path", ""), "best": best,
            "regret": best - picked, "rank": int(np.sum(values > picked)) + 1,
            "random_regret": best - float(values.mean())}


def agreement(runs: list[dict], rule: str, metric: str) -> tuple[float, float]:
    """(rho, p): Spearman's correlation of the rule's score, oriented so that larger is the
    rule's preference, with the metric over the runs that have both (permutation p,
    analysis/statistics.py). Positive: the rule ranks runs as the metric does. NaN for the
    oracle, whose agreement is 1 by definition."""
    if rule == ORACLE:
        return float("nan"), float("nan")
    key, sign = RULES[rule]
    usable = _usable(runs, metric, key)
    return spearman([sign * r["values"][key] for r in usable], [r["values"][metric] for r in usable])


def within_agreement(groups: dict, rule: str, metric: str) -> dict:
    """The rule's agreement with the metric among the runs of one setting, averaged over settings.

    `groups` {setting: runs} ({gamma: runs} of one latent type, gamma 0 the model without TC;
    {model at gamma: runs} across latent types, analysis/pools.py). Within each group,
    Spearman's rho of the rule's score, oriented so that larger is the rule's preference
    (smaller gap, lower -ELBO, larger UDR, lower reconstruction), with the metric over the runs
    that have both; then the mean over the groups where rho is defined, with a permutation p
    that permutes only within each group (analysis/statistics.py: within_spearman). Returns
    within_spearman's dict ({'rho', 'p', 'group_rhos', 'groups', 'n', 'method'}) plus 'settings'
    (the group keys, in the order of 'group_rhos')."""
    key, sign = RULES[rule]
    pairs = []
    for runs in groups.values():
        usable = _usable(runs, metric, key)
        pairs.append(([sign * r["values"][key] for r in usable], [r["values"][metric] for r in usable]))
    return {**within_spearman(pairs), "settings": list(groups)}


def gamma_regret(groups: dict, rule: str, metric: str) -> dict | None:
    """Choosing gamma: `groups` {gamma: runs}. Each gamma is scored by the median of its runs'
    rule scores (the oracle: the median metric) and judged by the median metric of its runs.
    Returns {'n', 'picked_gamma', 'picked', 'best', 'best_gamma', 'regret', 'rank',
    'random_regret'} over the gammas that have at least one usable run."""
    key, sign = RULES[rule] if rule != ORACLE else (metric, +1)
    medians, scores = {}, {}
    for gamma, runs in groups.items():
        usable = _usable(runs, metric, key)
        if usable:
            medians[gamma] = float(np.median([r["values"][metric] for r in usable]))
            scores[gamma] = sign * float(np.median([r["values"][key] for r in usable]))
    if not medians:
        return None
    gammas = list(medians)
    chosen = gammas[int(np.argmax([scores[g] for g in gammas]))]
    outcome = np.array([medians[g] for g in gammas])
    best_gamma = gammas[int(np.argmax(outcome))]
    return {"n": len(gammas), "picked_gamma": chosen, "picked": medians[chosen], "best_gamma": best_gamma,
            "best": float(outcome.max()), "regret": float(outcome.max()) - medians[chosen],
            "rank": int(np.sum(outcome > medians[chosen])) + 1,
            "random_regret": float(outcome.max() - outcome.mean())}


__all__ = ["ORACLE", "RULES", "agreement", "gamma_regret", "pick", "regret", "within_agreement"]
