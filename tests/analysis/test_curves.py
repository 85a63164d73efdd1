"""analysis/curves.py: run logs -> median and 25-75 % bands per model, and the figures."""
import json

import numpy as np
import pytest

from analysis import curves


def write_log(folder, name, losses, migs=()):
    lines = [{"kind": "train", "step": 100 * (i + 1), "recon": v, "kl": 1.0, "elbo": v + 1.0, "loss": v + 1.0,
              "noise_scale": 0.5} for i, v in enumerate(losses)]
    lines += [{"kind": "eval", "step": 200 * (i + 1), "mig": m} for i, m in enumerate(migs)]
    (folder / name).write_text("".join(json.dumps(r) + "\n" for r in lines))


@pytest.mark.parametrize("name, expected", [
    ("dsprites_procedural_seed3.log.jsonl", ("dsprites_procedural", "dvae", None, 3)),
    ("dsprites_procedural_gauss_seed1.log.jsonl", ("dsprites_procedural", "vae", None, 1)),
    ("mpi3d_toy_gauss_factor30.0_seed42.log.jsonl", ("mpi3d_toy", "factor_vae", 30.0, 42)),
    ("color_dsprites_factor10.0_seed2.log.jsonl", ("color_dsprites", "factor_dvae", 10.0, 2)),
])
def test_run_names(name, expected, tmp_path):
    run = curves.parse_run_name(tmp_path / name)
    assert (run["dataset"], run["model"], run["gamma"], run["seed"]) == expected
    assert curves.parse_run_name(tmp_path / "notes.log.jsonl") is None


def test_bands_are_percentiles_over_the_runs_that_reached_a_step(tmp_path):
    write_log(tmp_path, "ds_seed1.log.jsonl", [10.0, 8.0, 6.0], migs=[0.1])
    write_log(tmp_path, "ds_seed2.log.jsonl", [12.0, 9.0], migs=[0.3])
    write_log(tmp_path, "ds_seed3.log.jsonl", [14.0, 7.0])
    runs = curves.gather_logs(tmp_path)
    steps, (p25, median, p75) = curves.band(runs, "train", "recon")
    assert steps.tolist() == [100, 200, 300]
    np.testing.assert_allclose(median, [12.0, 8.0, 6.0])            # step 300: only seed 1 got there
    np.testing.assert_allclose(p25, [11.0, 7.5, 6.0])
    np.testing.assert_allclose(p75, [13.0, 8.5, 6.0])
    steps, (_, median, _) = curves.band(runs, "eval", "mig")
    assert steps.tolist() == [200] and median.tolist() == pytest.approx([0.2])


def test_figures_written_per_data_set(tmp_path):
    write_log(tmp_path, "ds_seed1.log.jsonl", [10.0, 8.0], migs=[0.1])
    write_log(tmp_path, "ds_gauss_seed1.log.jsonl", [11.0, 9.0], migs=[0.2])
    write_log(tmp_path, "other_seed1.log.jsonl", [11.0, 9.0])
    from scripts import visualize
    assert visualize.main(["--curves", str(tmp_path), "--out", str(tmp_path / "fig")]) == 0
    assert sorted(p.name for p in (tmp_path / "fig").iterdir()) == [
        "curves_ds.pdf", "curves_ds.png", "curves_other.pdf", "curves_other.png"]
    assert visualize.main(["--curves", str(tmp_path / "empty")]) == 2


def test_noise_scale_panel_only_for_discrete_models(tmp_path):
    write_log(tmp_path, "ds_gauss_seed1.log.jsonl", [11.0, 9.0], migs=[0.2])    # logs noise_scale too
    gaussian = {("vae", "VAE"): curves.gather_logs(tmp_path)}
    keys = [key for _, key, _ in curves.panels_of(gaussian)]
    assert keys == ["recon", "kl", "elbo", "mig"]
    write_log(tmp_path, "ds_seed1.log.jsonl", [10.0, 8.0])
    runs = curves.gather_logs(tmp_path)
    both = {(r["model"], r["model"]): [r] for r in runs}
    assert [key for _, key, _ in curves.panels_of(both)] == ["recon", "kl", "elbo", "noise_scale", "mig"]
