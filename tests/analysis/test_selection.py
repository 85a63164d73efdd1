"""Model selection (analysis/selection.py) against hand-derived numbers: each rule's regret and
agreement, gamma chosen by the median score, agreement within each setting."""

import numpy as np
import pytest

from analysis import selection


def run(metric, **scores):
    return {"path": f"/r/{metric}.eval.json", "values": {"mig": metric, **scores}}


def test_regret_of_each_rule_by_hand():
    runs = [run(0.1, st_gap=3.0, elbo=10.0), run(0.5, st_gap=2.0, elbo=5.0), run(0.3, st_gap=1.0, elbo=7.0),
            run(0.9)]                       # no score: only the oracle may pick it
    gap = selection.regret(runs, "st_gap", "mig")       # smallest gap 1.0 -> metric 0.3
    assert gap["picked"] == 0.3 and gap["n"] == 3 and gap["best"] == 0.5
    assert gap["regret"] == pytest.approx(0.2) and gap["rank"] == 2
    assert gap["random_regret"] == pytest.approx(0.5 - 0.3)          # best - mean(0.1, 0.5, 0.3)
    elbo = selection.regret(runs, "elbo", "mig")        # lowest -ELBO 5.0 -> metric 0.5
    assert elbo["picked"] == 0.5 and elbo["regret"] == 0 and elbo["rank"] == 1
    oracle = selection.regret(runs, selection.ORACLE, "mig")
    assert oracle["picked"] == 0.9 and oracle["regret"] == 0 and oracle["n"] == 4
    assert oracle["random_regret"] == pytest.approx(0.9 - np.mean([0.1, 0.5, 0.3, 0.9]))
    assert selection.regret(runs, "udr", "mig") is None                # nobody has a UDR
    # Agreement over the three scored runs. -ELBO 10, 5, 7 -> preference ranks (lower preferred)
    # 1, 3, 2 against MIG ranks 1, 3, 2: rho = +1, and 2 of the 3! orderings reach |rho| = 1.
    assert selection.agreement(runs, "elbo", "mig") == pytest.approx((1.0, 2 / 6))
    # Gap 3, 2, 1 -> preference ranks 1, 2, 3 against 1, 3, 2: d = 0, -1, 1, rho = 1 - 6*2/24 = 0.5;
    # three runs allow only rho = +-1 and +-0.5, so every ordering reaches |rho| = 0.5: p = 1.
    assert selection.agreement(runs, "st_gap", "mig") == pytest.approx((0.5, 1.0))


def test_choosing_gamma_by_the_median_score_by_hand():
    groups = {0.0: [run(0.1, st_gap=5.0), run(0.2, st_gap=5.0)],
              10.0: [run(0.4, st_gap=1.0), run(0.6, st_gap=3.0)],
              30.0: [run(0.3, st_gap=4.0)]}
    # median gaps 5, 2, 4 -> gamma 10; median metrics 0.15, 0.5, 0.3
    out = selection.gamma_regret(groups, "st_gap", "mig")
    assert out["picked_gamma"] == 10.0 and out["picked"] == pytest.approx(0.5)
    assert out["regret"] == pytest.approx(0.0) and out["rank"] == 1
    assert out["random_regret"] == pytest.approx(0.5 - (0.15 + 0.5 + 0.3) / 3)
    groups[30.0] = [run(0.3, st_gap=0.5)]                # now gamma 30 has the smallest median gap
    out = selection.gamma_regret(groups, "st_gap", "mig")
    assert out["picked_gamma"] == 30.0 and out["regret"] == pytest.approx(0.2) and out["rank"] == 2


def test_within_agreement_ignores_differences_between_settings():
    # Within each gamma the smaller gap has the higher MIG (rule agrees, rho +1 in both), but
    # gamma 10 has larger gaps and higher MIG than gamma 0, so over all six runs the rule
    # disagrees: gap ranks 1..6 against MIG ranks 3 2 1 6 5 4, d = -2 0 2 -2 0 2, sum d^2 = 16,
    # rho(gap, MIG) = 1 - 6 * 16 / (6 * 35) = 0.543, so the rule's agreement is -0.543.
    groups = {0.0: [run(0.3, st_gap=1.0), run(0.2, st_gap=2.0), run(0.1, st_gap=3.0)],
              10.0: [run(0.6, st_gap=11.0), run(0.5, st_gap=12.0), run(0.4, st_gap=13.0), run(0.9)]}
    pooled = selection.agreement([r for rs in groups.values() for r in rs], "st_gap", "mig")
    assert pooled[0] == pytest.approx(-(1 - 96 / 210))
    within = selection.within_agreement(groups, "st_gap", "mig")
    assert within["rho"] == pytest.approx(1.0) and within["p"] == pytest.approx(2 / 36)
    assert within["settings"] == [0.0, 10.0] and within["n"] == 6           # the unscored run is left out
    # UDR: larger is preferred, so the same numbers as UDR scores agree the other way round.
    udr = {g: [run(r["values"]["mig"], udr=r["values"].get("st_gap")) for r in rs] for g, rs in groups.items()}
    assert selection.within_agreement(udr, "udr", "mig")["rho"] == pytest.approx(-1.0)
