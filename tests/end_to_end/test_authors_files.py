"""The authors' checkpoints through every tool: evaluated (equal to their converted twin), by
eval.py's command line, tabled, seen by the sweep, plotted and resumed bit for bit (their format:
tests/checkpoints/test_authors_format.py)."""
import json

import jax
import numpy as np
import pytest

import eval as ev
import run
from analysis import model_figures
from checkpoints.checkpoint import load_checkpoint
from evaluation.evaluate import EvalOptions, evaluate_checkpoint
from evaluation.protocol import result_path
from scripts import tables
from sweeps import status as sweep_status
from tests.authors_fixtures import authors_files, cosine_scale
from training.convert import convert
from training.loop import train


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return authors_files(tmp_path_factory.mktemp("authors"))


SMALL = {"mig": {"num_train": 300}, "modularity": {"num_train": 300, "num_test": 100},
         "sap": {"num_train": 300, "num_test": 100},
         "factor_vae": {"num_train": 30, "num_eval": 20, "num_variance_estimate": 300},
         "beta_vae": {"num_train": 30, "num_eval": 20}, "dci": {"num_train": 200, "num_test": 100},
         "st_gap": {"num_batches": 2, "batch_size": 16}, "elbo": {"num_batches": 2, "batch_size": 16}}


@pytest.fixture(scope="module")
def evaluated(files, tiny_data):
    """The authors' two files evaluated, and the converted twin of the D-VAE (MIG, DCI and the
    gap: the read-out, the RandomState's sequence and the gap's sampling; all six metrics take
    twice as long)."""
    twin = convert(files["dvae"], files["dvae"].parent / "twin" / "dsprites_procedural_seed3.pkl")
    return {
        name: evaluate_checkpoint(
            path,
            EvalOptions(metrics=["mig", "dci", "st_gap"], settings=SMALL, progress=False),
            data=tiny_data,
            log=lambda *_: None,
        )
        for name, path in [("dvae", files["dvae"]), ("factor_vae", files["factor_vae"]), ("twin", twin)]
    }


def test_eval_of_authors_file_equals_its_converted_twin(evaluated, files):
    ours, twin = evaluated["dvae"], evaluated["twin"]
    assert set(ours["results"]) >= {"mig", "dci_disentanglement", "st_gap"}
    assert ours["results"] == twin["results"]  # exactly: same read-out, same RandomState
    written = json.loads(result_path(files["dvae"]).read_text())
    assert written["source"] == "authors" and written["seed"] == 3 and written["step"] == 3
    assert written["model"] == "dvae" and result_path(files["dvae"]).name == "dsprites_procedural.eval.json"
    factor = json.loads(result_path(files["factor_vae"]).read_text())
    assert (factor["source"], factor["model"], factor["gamma"]) == ("authors", "factor_vae", 30.0)
    assert "st_gap" not in factor["results"]  # Gaussian: no gap


def test_eval_command_line_on_authors_file(files, tiny_data, capsys, tmp_path):
    copy = tmp_path / files["factor_vae"].name
    copy.write_bytes(files["factor_vae"].read_bytes())
    assert ev.main(["--save_file", str(copy), "--metrics", "mig", "--fast", "--no_progress"], data=tiny_data) == 0
    assert json.loads(result_path(copy).read_text())["source"] == "authors"
    assert "factor_vae on dsprites_procedural, gamma 30.0, seed 3, step 3" in capsys.readouterr().out


def test_tables_and_sweep_read_them(evaluated, files, capsys):
    assert tables.main([str(files["dvae"].parent)]) == 0
    out = capsys.readouterr().out
    assert "D-VAE" in out and "FactorVAE γ=30" in out
    assert sweep_status.checkpoint_step(files["dvae"]) == 3


def test_visualize_authors_files(files, tiny_data, tmp_path):
    paths = model_figures.visualize(
        files["dvae"], out=tmp_path, compare=files["factor_vae"], data=tiny_data, steps=4, num_images=3, num_points=100
    )
    names = {p.name for p in paths}
    assert "dsprites_procedural_seed3_traversals.png" in names
    assert "dsprites_procedural_seed3_vs_dsprites_procedural_gauss_factor30.0_seed3_scatter.png" in names
    assert all(p.stat().st_size > 1000 for p in paths)


@pytest.mark.parametrize("kind", ["dvae", pytest.param("factor_vae", marks=pytest.mark.slow)])
def test_resume_continues_schedule_and_adam_bit_for_bit(files, kind, tiny_data, tmp_path):
    """2 steps from the authors' file == 2 steps from its converted twin, and they continue
    its step count, Adam count and (D-VAE) the noise schedule of its 8 steps."""
    twin = convert(files[kind], tmp_path / "twin.pkl")
    states = []
    for name, path in [("authors", files[kind]), ("twin", twin)]:
        args = run.parse_args(["--resume", str(path), "--save_path", str(tmp_path / name), "--steps_per_dispatch", "2"])
        config = run.config_from_args(args)
        assert (config.seed, config.steps) == (3, 8)
        states.append(train(config, data=tiny_data, resume=path, progress=False, until=5, log=lambda *_: None))
    a, b = states
    assert int(a.step) == 5 and int(a.opt_state[0].count) == 5
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    if kind == "dvae":  # the last step (index 4) used the scale of their schedule at t = 4 of T = 8
        assert float(a.state["codebook"]["scale"]) == pytest.approx(cosine_scale(4, 0.5, 2.0, 8), abs=1e-6)
    assert load_checkpoint(config.replace(save_path=str(tmp_path / "authors")).checkpoint_path())["step"] == 5
