"""The training log `{run}.log.jsonl` (training/run_log.py): one record per logged step, values from the steps
themselves, and exactly one record per step after a kill and a resume."""
import os

import jax.numpy as jnp
import numpy as np
import pytest

from models import build_model
from training.loop import train
from training.run_log import log_path, read_log
from training.step import images_on_device, init_train_state, train_steps


class Killed(Exception):
    """Stands in for a kill between a log line and the next checkpoint."""


def train_records(path):
    return [r for r in read_log(path) if r["kind"] == "train"]


def test_records_hold_the_steps_own_terms(tiny_data, tiny_config):
    config = tiny_config.replace(tc=True, gamma=5.0)
    train(config, data=tiny_data, progress=False, log=lambda *_: None)
    records = train_records(log_path(config.checkpoint_path()))
    assert [r["step"] for r in records] == [4, 8]
    # Independently: the first four steps' terms straight from the jitted update (two dispatches
    # of steps_per_dispatch = 2, as the loop makes them).
    model = build_model(config, 1)
    ts = init_train_state(model, jnp.zeros((config.batch_size, 64, 64, 1)))
    images = images_on_device(tiny_data)
    ts, first = train_steps(model, tiny_data, images, ts, 2)
    _, second = train_steps(model, tiny_data, images, ts, 2)
    terms = {k: np.concatenate([np.asarray(first[k]), np.asarray(second[k])]) for k in first}
    for key in ("recon", "kl", "elbo", "loss", "tc", "disc_loss"):
        assert records[0][key] == pytest.approx(float(np.mean(np.asarray(terms[key], np.float64))), rel=1e-12)
    assert records[0]["noise_scale"] == pytest.approx(float(terms["noise_scale"][-1]))
    assert records[0]["steps_per_s"] > 0 and records[1]["elapsed_s"] >= records[0]["elapsed_s"]


def test_a_fresh_run_replaces_an_old_log(tiny_data, tiny_config):
    path = log_path(tiny_config.checkpoint_path())
    path.write_text('{"kind": "train", "step": 999}\n')
    train(tiny_config, data=tiny_data, progress=False, log=lambda *_: None)
    assert [(r["kind"], r["step"]) for r in read_log(path)] == [("machine", 0), ("train", 4), ("train", 8)]


def test_kill_after_checkpoint_then_resume_logs_each_step_once(tiny_data, tiny_config):
    config = tiny_config.replace(steps=12, log_every=2, eval_every=2, save_every=4)
    whole = config.replace(save_path=config.save_path + "/whole")
    train(whole, data=tiny_data, progress=False, log=lambda *_: None, evaluate=lambda *a: {"mig": 0.5})

    def dies_at_step_6(model, ts, data):
        if int(ts.step) == 6:
            raise Killed
        return {"mig": 0.5}

    with pytest.raises(Killed):
        train(config, data=tiny_data, progress=False, log=lambda *_: None, evaluate=dies_at_step_6)
    path = log_path(config.checkpoint_path())
    assert [r["step"] for r in train_records(path)] == [2, 4, 6]      # step 6 logged, checkpoint at 4
    train(config, data=tiny_data, progress=False, log=lambda *_: None, evaluate=lambda *a: {"mig": 0.5},
          resume=config.checkpoint_path())
    resumed, uninterrupted = read_log(path), read_log(log_path(whole.checkpoint_path()))
    # one machine line per process: the first from step 0, the resumed one from its checkpoint's step
    assert [r["step"] for r in resumed if r["kind"] == "machine"] == [0, 4]
    assert [r["step"] for r in uninterrupted if r["kind"] == "machine"] == [0]
    assert ([(r["kind"], r["step"]) for r in resumed if r["kind"] != "machine"]
            == [(r["kind"], r["step"]) for r in uninterrupted if r["kind"] != "machine"])
    assert [r["step"] for r in train_records(path)] == [2, 4, 6, 8, 10, 12]
    for a, b in zip(train_records(path), train_records(log_path(whole.checkpoint_path()))):
        assert a["loss"] == b["loss"] and a["noise_scale"] == b["noise_scale"]   # resume is exact
    elapsed = [r["elapsed_s"] for r in resumed if r["kind"] != "machine"]
    assert elapsed == sorted(elapsed)                                          # the count continues


def test_torn_last_line_is_ignored(tmp_path):
    path = tmp_path / "x.log.jsonl"
    path.write_text('{"kind": "train", "step": 2}\n{"kind": "tra')
    assert read_log(path) == [{"kind": "train", "step": 2}]


def test_machine_line_names_the_cpu_and_the_cores_this_process_may_use(tiny_data, tiny_config):
    train(tiny_config, data=tiny_data, progress=False, log=lambda *_: None)
    (machine,) = [r for r in read_log(log_path(tiny_config.checkpoint_path())) if r["kind"] == "machine"]
    assert machine["cores"] == len(os.sched_getaffinity(0))
    assert machine["backend"] == "cpu" and machine["cpu"] and machine["jax"]
