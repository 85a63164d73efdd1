"""Hand-written eval JSON files in eval.py's layout, and Holm's correction by its definition,
for the tests of analysis/ and scripts/tables.py."""
import json

METRIC_KEYS = ["mig", "modularity", "sap_score", "factor_vae_metric", "beta_vae_sklearn", "dci_disentanglement"]


def write_result(folder, dataset, model, seed, gamma=0.0, values=None, gap=None, flat=False, protocol="paper",
                 steps=None):
    """One eval JSON; `steps`: the training budget, written as `config.steps` and `step`."""
    tc = model.startswith("factor_")
    stem = (dataset + ("_gauss" if model in ("vae", "factor_vae") else "") + ("_qlae" if model == "qlae" else "")
            + (f"_factor{float(gamma)}" if tc else ""))
    results = dict(values or {})
    if gap is not None:
        results.update(st_gap=gap, st_loss_hard=100.0 + gap, st_loss_soft=100.0)
    body = {"format_version": 1, "dataset": dataset, "model": model, "gamma": gamma, "seed": seed, "step": 300,
            "protocol": protocol}
    if steps is not None:
        body.update(step=steps, config={"steps": steps})
    body.update(results if flat else {"results": results})
    path = folder / f"{stem}_seed{seed}.eval.json"
    path.write_text(json.dumps(body))
    return path


def all_metrics(x):
    return {k: x + i for i, k in enumerate(METRIC_KEYS)}


def holm_by_brute_force(p_values):
    """Holm, written as its definition instead of a running maximum: adjusted p_i = max over
    p_j <= p_i of min(1, (m - rank_j) * p_j), ranks from 0 in sorted order."""
    ranked = sorted(p_values)
    return [max(min(1.0, (len(ranked) - k) * q) for k, q in enumerate(ranked) if q <= p) for p in p_values]


def write_study(folder):
    """VAE and D-VAE with 5 seeds, FactorVAE/FactorDVAE with gamma 10 and 20 and 3 seeds:
    (folder, the values written that the tests check against)."""
    vae_mig = [0.10, 0.30, 0.20, 0.50, 0.40]
    dvae_mig = [0.15, 0.05, 0.35, 0.25, 0.45]
    dvae_gap = [3.0, 5.0, 1.0, 2.0, 4.0]
    for s in range(5):
        write_result(folder, "ds", "vae", s + 1, values={**all_metrics(0.0), "mig": vae_mig[s]})
        write_result(folder, "ds", "dvae", s + 1, values={**all_metrics(0.0), "mig": dvae_mig[s]}, gap=dvae_gap[s])
    for gamma in (10.0, 20.0):
        for s in range(3):
            write_result(folder, "ds", "factor_vae", s + 1, gamma, values=all_metrics(gamma / 100 + s / 10))
            write_result(folder, "ds", "factor_dvae", s + 1, gamma, values=all_metrics(gamma / 10 + s / 10),
                         gap=float(gamma + s))
    return folder, {"vae_mig": vae_mig, "dvae_mig": dvae_mig, "dvae_gap": dvae_gap}
