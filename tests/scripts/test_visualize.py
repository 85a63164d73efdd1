"""scripts/visualize.py's command line: one-line errors, --latents checked before any work, also
under python -O (the figures: tests/analysis/test_model_figures.py)."""
import pytest

from scripts import visualize
from tests.eval_fixtures import random_checkpoint


def test_cli_errors(tmp_path, capsys):
    assert visualize.main(["--save_file", str(tmp_path / "missing.pkl")]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    # A real checkpoint, so that --latents is the only thing wrong: refused before any work (a
    # single latent would otherwise fail later, in the scatter, also with exit code 2).
    real, out = str(random_checkpoint(tmp_path)), tmp_path / "figures"
    for latents in ("1", "1,2,3"):
        assert visualize.main(["--save_file", real, "--latents", latents, "--out", str(out)]) == 2
        assert "--latents needs two" in capsys.readouterr().err
        assert not out.exists()


@pytest.mark.slow  # a subprocess that imports JAX and builds a model (~13 s)
def test_latents_checked_under_python_O(tmp_path):
    import os
    import subprocess
    import sys

    from tests import ROOT
    env = {**os.environ, "PYTHONPATH": str(ROOT)}   # this checkout's code, not an installed copy
    done = subprocess.run([sys.executable, "-O", str(ROOT / "scripts" / "visualize.py"), "--save_file", "x.pkl",
                           "--latents", "1,2,3"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert done.returncode == 2 and "--latents needs two" in done.stderr
