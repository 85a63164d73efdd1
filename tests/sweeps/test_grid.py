"""Sweep files (sweeps/grid.py): expansion into runs, the shipped sweeps, one-line config errors."""
import pytest

from sweeps import grid as sweep_grid
from tests import ROOT
from tests.sweep_fixtures import sweep_values


def test_expansion(tmp_path):
    runs = sweep_grid.expand(sweep_grid.parse_sweep(sweep_values()), tmp_path)
    # vae x 2 seeds, dvae x 2 seeds, factor_dvae x 2 gammas x 2 seeds
    assert len(runs) == 8
    names = [r.name for r in runs]
    assert names[:4] == ["dsprites_procedural_gauss_seed1", "dsprites_procedural_gauss_seed2",
                         "dsprites_procedural_seed1", "dsprites_procedural_seed2"]
    assert "dsprites_procedural_factor20.0_seed2" in names
    factor = [r for r in runs if r.config.tc]
    assert {r.config.gamma for r in factor} == {10.0, 20.0} and all(not r.config.gaussian for r in factor)
    assert all(r.config.steps == 30 and r.config.batch_size == 8 for r in runs)      # [base] applied
    assert all(r.checkpoint.parent == tmp_path for r in runs)
    assert runs[0].eval_json.name == "dsprites_procedural_gauss_seed1.eval.json"
    seeds = sweep_grid.parse_sweep(sweep_values(seeds={"start": 3, "stop": 5})).seeds
    assert seeds == (3, 4, 5)


def test_shipped_configs():
    paper = sweep_grid.load_sweep(ROOT / "configs" / "sweep_paper.toml")
    runs = sweep_grid.expand(paper, "results/paper")
    # The six data sets of the authors' README; noisy / Scream dSprites are not the paper's.
    assert paper.datasets == ("dsprites_full", "color_dsprites", "smallnorb", "cars3d",
                              "shapes3d", "mpi3d_toy")
    assert paper.gammas == (10.0, 20.0, 30.0, 40.0, 50.0, 100.0)
    assert len(runs) == 6 * (2 + 2 * 6) * 10
    assert all(r.config.steps == 300_000 for r in runs)
    smoke = sweep_grid.load_sweep("sweep_smoke.toml")            # bare name: looked up in configs/
    assert smoke.datasets == ("dsprites_procedural",) and smoke.base["steps"] <= 1000


@pytest.mark.parametrize("changes, message", [
    ({"dataset": ["x"]}, "unknown key(s) ['dataset']"),
    ({"datasets": ["dsprites_full", "mnist"]}, "unknown data set(s) ['mnist']"),
    ({"models": ["beta_vae"]}, "unknown model(s) ['beta_vae']"),
    ({"base": {"step": 10}}, "unknown key(s) 'step'"),
    ({"base": {"steps": "ten"}}, "steps must be int"),
    ({"base": {"seed": 3}}, "may not set ['seed']"),
    ({"eval": {"fastest": True}}, "unknown [eval] key(s) ['fastest']"),
    ({"gammas": []}, "gammas must be a non-empty list"),
])
def test_config_errors(changes, message):
    with pytest.raises(sweep_grid.SweepError) as error:
        sweep_grid.parse_sweep(sweep_values(**changes))
    assert message in str(error.value) and "\n" not in str(error.value)
