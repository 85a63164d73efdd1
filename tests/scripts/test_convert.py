"""scripts/convert.py: an authors' checkpoint written in this project's format, named with its seed
(training/convert.py)."""
import jax
import numpy as np
import pytest

from checkpoints.checkpoint import load_checkpoint
from scripts import convert as convert_cli
from tests.authors_fixtures import GlobalsRecorder, authors_files


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return authors_files(tmp_path_factory.mktemp("authors"))


def test_convert_writes_this_projects_format_with_the_seed(files, tmp_path, capsys):
    assert convert_cli.main([str(files["dvae"])]) == 0
    out = files["dvae"].with_name("dsprites_procedural_seed3.pkl")
    assert f"wrote {out}" in capsys.readouterr().out
    with open(out, "rb") as f:
        recorder = GlobalsRecorder(f)
        raw = recorder.load()
    assert all(n.startswith("numpy") for n in recorder.names), recorder.names  # no stand-ins needed
    original, converted = load_checkpoint(files["dvae"]), load_checkpoint(out)
    assert raw["converted_from"] == str(files["dvae"]) and converted["source"] == "authors"
    for key in ("model", "dataset", "step", "config", "params_disc", "opt_state_disc"):
        assert converted[key] == original[key], key
    for a, b in zip(
        jax.tree_util.tree_leaves((original["params"], original["state"], original["opt_state"], original["rng"])),
        jax.tree_util.tree_leaves((converted["params"], converted["state"], converted["opt_state"], converted["rng"])),
    ):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    explicit = tmp_path / "sub" / "mine.pkl"
    assert convert_cli.main([str(files["factor_vae"]), str(explicit)]) == 0 and explicit.is_file()
    assert convert_cli.main([str(out)]) == 2  # already ours: nothing to convert
    assert "not a checkpoint of the authors' code" in capsys.readouterr().err
