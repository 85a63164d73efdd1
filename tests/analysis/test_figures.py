"""A study's figures (analysis/figures.py): every plot written, byte for byte the same when
regenerated, and each box holding every run of its model."""
import pytest

from analysis import figures
from analysis.results import gather
from tests.analysis_fixtures import METRIC_KEYS, write_study


@pytest.fixture
def results(tmp_path):
    return write_study(tmp_path)


def test_plots_are_written(results, tmp_path):
    folder, _ = results
    records, _ = gather(folder)
    written = figures.plot(records, tmp_path / "plots")
    names = sorted(p.name for p in written)
    per_metric = [f"metric_ds_{k}.{ext}" for k in METRIC_KEYS for ext in ("pdf", "png")]
    assert names == sorted(["boxplots_ds.pdf", "boxplots_ds.png", "gap_ds.pdf", "gap_ds.png",
                            "gamma_ds.pdf", "gamma_ds.png"] + per_metric)
    import matplotlib.image
    image = matplotlib.image.imread(tmp_path / "plots" / "gap_ds.png")
    assert image.shape[0] > 100 and image.shape[1] > 500
    # Regenerating the same figures rewrites the same bytes (no creation date in the PDF), so a
    # study's committed figures change only when its numbers do.
    again = figures.plot(records, tmp_path / "again")
    for first, second in zip(sorted(written), sorted(again)):
        assert first.read_bytes() == second.read_bytes(), first.name


def test_distributions_hold_every_run_of_each_model(results):
    folder, expected = results
    records, _ = gather(folder)
    groups = dict(figures.distributions(records, "mig"))
    assert list(groups) == ["vae", "dvae", "factor_vae", "factor_dvae"]
    assert sorted(groups["vae"]) == sorted(expected["vae_mig"])
    assert sorted(groups["dvae"]) == sorted(expected["dvae_mig"])
    assert sorted(groups["factor_dvae"]) == sorted(g / 10 + s / 10 for g in (10.0, 20.0) for s in range(3))
    records[0]["values"]["mig"] = None                           # a run without the metric is left out
    assert sum(len(v) for _, v in figures.distributions(records, "mig")) == 5 + 5 + 6 + 6 - 1
