"""eval.py's command line: a glob of checkpoints evaluated into a table, one-line errors (also from a
fresh process), settings keywords checked before any work, and a bug surfacing with its traceback
(the evaluation itself: tests/evaluation/test_evaluate.py)."""
import json
import subprocess
import sys

import pytest

import eval as ev
import metrics
from checkpoints.checkpoint import load_checkpoint, save_checkpoint
from evaluation.protocol import result_path
from tests import ROOT

SMALL_GAP = {"st_gap": {"num_batches": 3, "batch_size": 16}}


def test_main_glob_table(eval_checkpoints, eval_data, capsys):
    folder = eval_checkpoints["dvae"].parent
    rc = ev.main(
        [
            "--save_file",
            str(folder / "*.pkl"),
            "--metrics",
            "mig,st_gap",
            "--no_progress",
            "--settings",
            json.dumps({"mig": {"num_train": 200}, **SMALL_GAP}),
        ],
        data=eval_data,
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert out.count("wrote ") == 2 and "st_gap" in out and "not defined for Gaussian models" in out
    result = json.loads(result_path(eval_checkpoints["dvae"]).read_text())
    assert result["metrics"] == ["mig", "st_gap"] and set(result["results"]) == {
        "mig",
        "st_gap",
        "st_loss_hard",
        "st_loss_soft",
    }


def _error_line(capsys, argv, data=None):
    rc = ev.main(argv, data=data)
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    return err


def test_errors_are_one_line(tmp_path, capsys, eval_checkpoints, eval_data, monkeypatch):
    assert "no checkpoint at" in _error_line(capsys, ["--save_file", str(tmp_path / "missing.pkl")])
    assert "no file matches" in _error_line(capsys, ["--save_file", str(tmp_path / "*.pkl")])
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"not a pickle at all")
    assert "junk.pkl" in _error_line(capsys, ["--save_file", str(junk)])
    dvae = str(eval_checkpoints["dvae"])
    assert "unknown metric" in _error_line(capsys, ["--save_file", dvae, "--metrics", "mig,irs"])
    assert "--settings" in _error_line(capsys, ["--save_file", dvae, "--settings", "{oops"])
    # A checkpoint of a data set whose files are missing: the error names the path tried.
    # (dSprites: one channel like the checkpoint's model, so its parameters pass the model check.)
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path))
    payload = load_checkpoint(eval_checkpoints["dvae"])
    payload["config"] = {**payload["config"], "dataset": "dsprites_full"}
    other = save_checkpoint(tmp_path / "dsprites_full_seed1.pkl", {**payload, "dataset": "dsprites_full"})
    err = _error_line(capsys, ["--save_file", str(other), "--metrics", "mig"])
    assert str(tmp_path / "dsprites" / "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz") in err
    # A 3-channel data set's config on this 1-channel model: refused by the model check, before
    # any data is looked for.
    payload["config"] = {**payload["config"], "dataset": "mpi3d_toy"}
    other = save_checkpoint(tmp_path / "mpi3d_toy_seed1.pkl", {**payload, "dataset": "mpi3d_toy"})
    err = _error_line(capsys, ["--save_file", str(other), "--metrics", "mig"])
    assert "params/dec_deconv3/b: a float32 array of shape (1,), the model expects a float32 array of shape (3,)" in err


def test_command_line_error(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "eval.py"), "--save_file", str(tmp_path / "x.pkl")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: no checkpoint at {tmp_path / 'x.pkl'}"


# -- reliability -----------------------------------------------------------------------------
def test_settings_keywords_checked_before_any_work(capsys, eval_checkpoints, monkeypatch):
    monkeypatch.setattr("evaluation.evaluate.load_model", lambda *a, **k: pytest.fail("loaded a checkpoint"))
    for settings, message in [
        ({"dci": {"num_trian": 100}}, "dci has no keyword(s) ['num_trian']"),
        ({"st_gap": {"seed": 3}}, "st_gap has no keyword(s) ['seed']"),
        ({"sap": {"progress": True}}, "sap has no keyword(s) ['progress']"),
    ]:
        err = _error_line(capsys, ["--save_file", str(eval_checkpoints["dvae"]), "--settings", json.dumps(settings)])
        assert message in err and "valid:" in err
    assert "num_train" in metrics.setting_keywords("dci") and "booster" in metrics.setting_keywords("dci")


def test_a_bug_surfaces_with_its_traceback(eval_checkpoints, eval_data, monkeypatch):
    """A TypeError inside a metric is a bug, not 'a bad keyword in --settings'."""

    def broken(*args, **kwargs):
        raise TypeError("a real bug deep inside")

    monkeypatch.setitem(metrics._COMPUTE, "mig", broken)
    with pytest.raises(TypeError, match="a real bug deep inside"):
        ev.main(["--save_file", str(eval_checkpoints["dvae"]), "--metrics", "mig", "--no_progress"], data=eval_data)


def test_a_file_whose_name_looks_like_a_pattern_is_that_file(eval_checkpoints, eval_data, tmp_path, capsys):
    """`run[1].pkl` exists: it is evaluated, not read as the pattern matching `run1.pkl`."""
    from checkpoints.checkpoint import expand_checkpoint_paths

    named = tmp_path / "run[1].pkl"
    named.write_bytes(eval_checkpoints["dvae"].read_bytes())
    (tmp_path / "run1.pkl").write_bytes(b"another file the pattern would match")
    assert expand_checkpoint_paths([str(named)]) == [named]
    assert expand_checkpoint_paths([str(tmp_path / "run[12].pkl")]) == [tmp_path / "run1.pkl"]  # still a pattern
    rc = ev.main(["--save_file", str(named), "--metrics", "mig", "--no_progress", "--settings",
                  json.dumps({"mig": {"num_train": 200}})], data=eval_data)
    assert rc == 0 and f"wrote {tmp_path / 'run[1].eval.json'}" in capsys.readouterr().out


def test_out_of_memory_on_one_checkpoint_is_one_line_and_the_rest_go_on(eval_checkpoints, eval_data, monkeypatch,
                                                                          capsys):
    import jax

    calls = []

    def first_runs_out(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 1:
            raise jax.errors.JaxRuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 9 GB.\nmore")
        return {"json": "x.eval.json", "results": {}}

    monkeypatch.setattr(ev, "evaluate_checkpoint", first_runs_out)
    monkeypatch.setattr(ev, "format_table", lambda result: "table")
    pattern = str(eval_checkpoints["dvae"].parent / "*.pkl")
    assert ev.main(["--save_file", pattern, "--no_progress"], data=eval_data) == 2
    captured = capsys.readouterr()
    assert len(calls) == 2 and captured.out.count("wrote ") == 1
    assert captured.err.count("\n") == 1 and "out of memory: RESOURCE_EXHAUSTED" in captured.err
    assert str(calls[0].name if hasattr(calls[0], "name") else calls[0]).split("/")[-1] in captured.err
