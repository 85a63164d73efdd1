"""Scores that need only (factors, codes), from a run's codes record (evaluation/codes_record.py)
rather than its checkpoint: InfoMEC (on the codes, and on the argmax codes of a categorical
latent), and MIG, Modularity, SAP and DCI on the recorded sample.

The record's sample is not the protocol's: the six metrics' protocol draws its own points from
the shared RandomState, so MIG, Modularity, SAP and DCI here are those metrics *on the recorded
sample* (MIG and Modularity on all of it; SAP and DCI trained on its first half, tested on the
second), comparable between records, not with the protocol's numbers. InfoMEC is the
protocol's own: the protocol computes it on this same sample.
"""
from __future__ import annotations

import numpy as np

from metrics import utils
from metrics.dci import dci_from_codes
from metrics.infomec import compute_infomec
from metrics.mig import mig_from_codes
from metrics.modularity import modularity
from metrics.sap import avg_diff_top_two, score_matrix

INFOMEC_KEYS = ("infom", "infoe", "infoc")


def infomec_results(factors: np.ndarray, codes: np.ndarray, discrete: bool, suffix: str = "") -> dict:
    """InfoM, InfoE, InfoC of codes [n, L] against factors [n, F] as flat result keys (with
    `suffix`), plus the active latents; non-finite values (no active latent) become None."""
    result = compute_infomec(factors, codes, discrete)
    out = {f"{key}{suffix}": (float(result[key]) if np.isfinite(result[key]) else None) for key in INFOMEC_KEYS}
    out[f"infomec_active_latents{suffix}"] = [bool(a) for a in result["active_latents"]]
    return out


def scores_from_record(record: dict, num_bins: int = 20) -> dict:
    """Flat scores of one record (as `read_codes_record` returns it)."""
    factors, codes = record["factors"], record["codes"]
    results = infomec_results(factors, codes, record["header"]["discrete"])
    if record["argmax_codes"] is not None:
        results.update(infomec_results(factors, record["argmax_codes"], True, suffix="_argmax"))
    mus, ys = codes.T, factors.T           # disentanglement_lib's layout: [codes, n], [factors, n]
    half = codes.shape[0] // 2
    discretized = utils.histogram_discretize(mus, num_bins)
    dci = dci_from_codes(mus[:, :half], ys[:, :half], mus[:, half:], ys[:, half:])
    results.update({
        "mig": mig_from_codes(mus, ys, num_bins)["discrete_mig"],
        "modularity": modularity(utils.discrete_mutual_info(discretized, ys)),
        "sap_score": avg_diff_top_two(score_matrix(mus[:, :half], ys[:, :half], mus[:, half:], ys[:, half:])),
        "dci_disentanglement": dci["disentanglement"], "dci_completeness": dci["completeness"],
        "dci_informativeness_train": dci["informativeness_train"],
        "dci_informativeness_test": dci["informativeness_test"],
    })
    return results
