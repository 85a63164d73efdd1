"""Which runs of a sweep are done (sweeps/status.py): an eval JSON counts only for the protocol,
metrics, settings, seed and step it used; a committed result without its checkpoint is done."""
import json

from checkpoints import checkpoint
from scripts import sweep
from sweeps import grid as sweep_grid
from sweeps import status as sweep_status
from tests.sweep_fixtures import fake_eval_json


def test_eval_json_counts_only_for_the_protocol_it_used(tmp_path, capsys):
    """A real eval JSON from `fast` settings is not 'done' for a sweep asking for the paper's protocol."""
    from evaluation.evaluate import EvalOptions, evaluate_checkpoint
    from tests.eval_fixtures import make_checkpoint, small_data

    data = small_data(tmp_path / "data")
    fast_mig = {"fast": True, "metrics": "mig"}
    config = tmp_path / "s.toml"
    config.write_text(
        'datasets = ["dsprites_procedural"]\nmodels = ["dvae"]\nseeds = [1]\n[base]\nsteps = 10\n'
        '[eval]\nfast = true\nmetrics = "mig"\n'
    )
    (run,) = sweep_grid.expand(sweep_grid.load_sweep(config), tmp_path)
    make_checkpoint(tmp_path, data, seed=1)  # an untrained model at run.checkpoint ...
    checkpoint.save_checkpoint(
        run.checkpoint, {**checkpoint.load_checkpoint(run.checkpoint), "step": 10}
    )  # ... finished
    evaluate_checkpoint(
        run.checkpoint, EvalOptions(metrics=["mig"], fast=True, progress=False), data=data, log=lambda *_: None
    )
    assert json.loads(run.eval_json.read_text())["protocol"] == "custom"

    def state(eval_options):
        reasons = {}
        return sweep_status.status(sweep_grid.Run(run.config, eval_options), reasons), reasons.get(run.name, "")

    assert state(fast_mig) == ("done", "")
    got, why = state({})  # the paper's protocol, all metrics
    assert got == "eval" and "'custom' protocol" in why and "'paper'" in why
    got, why = state({**fast_mig, "settings": {"mig": {"num_train": 500}}})
    assert got == "eval" and "mig settings" in why and "500" in why
    got, why = state({"fast": True, "metrics": "mig,sap"})
    assert got == "eval" and "lacks sap" in why
    got, why = state({**fast_mig, "seed": 7})
    assert got == "eval" and "eval seed 42" in why
    # Speed-only keywords change no number: still done.
    assert state({**fast_mig, "settings": {"mig": {"chunk_size": 100}}})[0] == "done"
    # A checkpoint trained further than the JSON's step needs evaluating again (resumed with
    # more steps: a step past its config's steps is no checkpoint a run writes).
    payload = checkpoint.load_checkpoint(run.checkpoint)
    checkpoint.save_checkpoint(run.checkpoint, {**payload, "step": 11, "config": {**payload["config"], "steps": 12}})
    got, why = state(fast_mig)
    assert got == "eval" and "evaluated step 10" in why and "at step 11" in why

    # The same sweep file without `fast`: the paper's protocol, so the run is listed for eval.
    checkpoint.save_checkpoint(run.checkpoint, payload)
    assert sweep.main([str(config), "--results", str(tmp_path), "--dry_run"]) == 0
    assert "0 eval, 1 done" in capsys.readouterr().out
    config.write_text(config.read_text().replace("fast = true\n", ""))
    assert sweep.main([str(config), "--results", str(tmp_path), "--dry_run"]) == 0
    assert "1 eval, 0 done" in capsys.readouterr().out


def test_a_committed_result_without_its_checkpoint_is_done(tmp_path):
    """A fresh checkout has the committed eval JSON but not the (ignored) checkpoint."""
    config = tmp_path / "s.toml"
    config.write_text('datasets = ["dsprites_procedural"]\nmodels = ["dvae"]\nseeds = [1, 2, 3]\n[base]\nsteps = 30\n')
    runs = sweep_grid.expand(sweep_grid.load_sweep(config), tmp_path)
    fake_eval_json(runs[0], 30)  # the finished run's result, no checkpoint
    fake_eval_json(runs[1], 10)  # a result of another step: does not count
    assert [sweep_status.status(r) for r in runs] == ["done", "train", "train"]


def test_an_incomplete_evaluation_is_done_and_said(tmp_path, capsys):
    """Evaluating again would compute the same nothing, so the run is done; the status says what
    its JSON could not compute, in the count line and in the dry-run listing."""
    config = tmp_path / "s.toml"
    config.write_text('datasets = ["dsprites_procedural"]\nmodels = ["dvae"]\nseeds = [1, 2]\n[base]\nsteps = 30\n')
    runs = sweep_grid.expand(sweep_grid.load_sweep(config), tmp_path)
    for run in runs:
        fake_eval_json(run, 30)
    recorded = json.loads(runs[0].eval_json.read_text())
    runs[0].eval_json.write_text(json.dumps({**recorded, "incomplete": ["dci", "infomec"]}))
    reasons = {}
    assert [sweep_status.status(r, reasons) for r in runs] == ["done", "done"]
    assert reasons == {runs[0].name: f"done, but {runs[0].eval_json.name} could not compute dci, infomec"}
    assert sweep.main([str(config), "--results", str(tmp_path), "--dry_run"]) == 0
    out = capsys.readouterr().out
    assert "0 eval, 2 done (1 of them with an incomplete evaluation" in out
    assert "could not compute dci, infomec" in out.splitlines()[1] and "could not" not in out.splitlines()[2]
