"""Selection across latent types (analysis/pools.py, analysis/tables.py): with QLAE's runs the
pools 'all discrete' and 'all runs', whose settings are one model each, and the reconstruction
per image as a rule over every model; none of it for a study without QLAE."""
import csv
import io
import itertools

import numpy as np
import pytest

from analysis import tables
from analysis.results import gather
from scripts import tables as cli
from tests.analysis_fixtures import all_metrics, write_result

# Per model, three seeds: (reconstruction per image in nats, MIG).
RUNS = {
    "vae": ([100.0, 110.0, 120.0], [0.30, 0.20, 0.10]),
    "dvae": ([90.0, 95.0, 99.0], [0.50, 0.60, 0.40]),
    "qlae": ([80.0, 85.0, 130.0], [0.70, 0.90, 0.80]),
}


def write_models(folder, models=("vae", "dvae", "qlae")):
    for model in models:
        recon, mig = RUNS[model]
        for s in range(3):
            values = all_metrics(mig[s])     # every metric ranks the runs as MIG does
            if model == "qlae":
                values.update(recon_loss_per_image=recon[s], recon_loss=recon[s] / 4096)
            else:
                values.update(elbo=recon[s] + 10.0, elbo_recon=recon[s])
            write_result(folder, "ds", model, s + 1, values=values, gap=1.0 + s if model == "dvae" else None)
    return folder


def test_reconstruction_rule_over_all_runs_by_hand(tmp_path):
    records, problems = gather(write_models(tmp_path))
    assert problems == []
    rows = {(r["latent"], r["rule"]): r for r in tables.selection_regrets(records) if r["metric"] == "mig"}
    assert [p for p in dict.fromkeys(k[0] for k in rows)] == ["Gaussian", "discrete", "quantized", "all discrete",
                                                             "all runs"]
    every = rows[("all runs", "recon_image")]
    # The lowest reconstruction of the nine is QLAE seed 1 (80 nats), MIG 0.7; the best MIG is
    # 0.9, so regret 0.2 and rank 3 (0.9 and 0.8 above it); a random pick: 0.9 - 4.5 / 9 = 0.4.
    assert (every["picked"], every["regret"], every["rank"]) == pytest.approx((0.7, 0.2, 3))
    assert every["random_regret"] == pytest.approx(0.4) and every["n"] == 9
    # Choosing the setting: median reconstruction VAE 110, D-VAE 95, QLAE 85 -> QLAE, whose
    # median MIG (0.8) is the best: regret 0. Choosing the seed: VAE 0, D-VAE 0.6 - 0.5,
    # QLAE 0.9 - 0.7: mean 0.1.
    assert every["gamma_picked"] == "QLAE" and every["gamma_regret"] == pytest.approx(0.0)
    assert every["seed_groups"] == 3 and every["seed_regret"] == pytest.approx(0.1)
    # All discrete: the D-VAE's and QLAE's six runs; the same pick.
    assert rows[("all discrete", "recon_image")]["n"] == 6 and rows[("all discrete", "recon_image")]["regret"] == \
        pytest.approx(0.2)
    # The ELBO covers the VAE family only; QLAE's loss per pixel stays in its own pool.
    assert rows[("all runs", "elbo")]["n"] == 6
    assert ("quantized", "recon_loss") in rows and ("all runs", "recon_loss") not in rows


def test_within_each_model_by_hand(tmp_path):
    records, _ = gather(write_models(tmp_path))
    within = {(w["latent"], w["rule"], w["metric"]): w for w in tables.within_setting(records)}
    row = within[("all runs", "recon_image", "mig")]
    # Within each model, the rule's preference (lower reconstruction) against MIG, by hand:
    # VAE: preference ranks 3 2 1, MIG ranks 3 2 1 -> rho 1. D-VAE: preference 3 2 1, MIG
    # 2 3 1: sum d^2 = 2, rho = 1 - 6 * 2 / 24 = 0.5. QLAE: MIG ranks 1 3 2: sum d^2 = 6,
    # rho = 1 - 36 / 24 = -0.5. Mean 1 / 3.
    assert row["group_rhos"] == pytest.approx({"VAE": 1.0, "D-VAE": 0.5, "QLAE": -0.5})
    assert row["rho"] == pytest.approx(1 / 3) and row["groups"] == 3 and row["method"] == "exact"
    # The exact p: each group's rho over its 3! orderings is 1, 0.5, 0.5, -0.5, -0.5, -1; the
    # share of the 6^3 joint orderings whose sum reaches |1 + 0.5 - 0.5| = 1.
    single = [1.0, 0.5, 0.5, -0.5, -0.5, -1.0]
    sums = [sum(c) for c in itertools.product(single, repeat=3)]
    p = np.mean([abs(s) >= 1.0 - 1e-9 for s in sums])
    assert row["p_value"] == pytest.approx(p)
    # Holm over the six metrics of one rule and pool: six equal p values, each min(1, 6p).
    assert row["p_holm"] == pytest.approx(min(1.0, 6 * p))


def test_no_qlae_no_new_pools_or_rule(tmp_path):
    records, _ = gather(write_models(tmp_path, ("vae", "dvae")))
    assert all(r["values"]["recon_image"] is not None for r in records)      # elbo_recon is there
    for rows in (tables.selection_regrets(records), tables.within_setting(records), tables.scores_by_gamma(records)):
        assert {r["latent"] for r in rows} <= {"Gaussian", "discrete"}
        assert all(r["rule"] != "recon_image" for r in rows)
    out = tmp_path / "out"
    assert cli.main([str(tmp_path), "--format", "md,csv", "--out", str(out)]) == 0
    assert "recon_image" not in (out / "runs.csv").read_text().splitlines()[0]
    assert "nats/image" not in (out / "tables.md").read_text()


def test_pools_reach_the_files(tmp_path):
    write_models(tmp_path)
    out = tmp_path / "out"
    assert cli.main([str(tmp_path), "--format", "md,csv", "--out", str(out)]) == 0
    markdown = (out / "tables.md").read_text()
    assert "| ds | all runs | MIG | lowest reconstruction (nats/image) | 9 | 0.70 (3) | 0.200 | 0.400 |" in markdown
    assert "In the pools across latent types" in markdown and "QLAE: -0.50" in markdown
    rows = list(csv.DictReader(io.StringIO((out / "within.csv").read_text())))
    mig = next(r for r in rows if r["latent"] == "all runs" and r["rule"] == "recon_image" and r["metric"] == "mig")
    assert mig["group_rhos"] == "VAE:1;D-VAE:0.5;QLAE:-0.5"
    runs = list(csv.DictReader(io.StringIO((out / "runs.csv").read_text())))
    assert [float(r["recon_image"]) for r in runs] == [x for m in ("vae", "dvae", "qlae") for x in RUNS[m][0]]
