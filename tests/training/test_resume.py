"""Resuming (training/resume.py): the payload a run writes restores its TrainState, and a resumed run
refuses another model or data set, mismatched shapes, invalid config values and schedule changes
unless they are allowed (then recorded)."""
import jax
import numpy as np
import pytest

import run
from checkpoints import checkpoint
from checkpoints.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from training.loop import train
from training.resume import restore_train_state


def test_round_trip_restores_the_train_state(tiny_data, tiny_config):
    config = tiny_config.replace(tc=True, gamma=5.0)   # as the other loop tests: one compile
    ts = train(config, data=tiny_data, progress=False)
    payload = load_checkpoint(config.checkpoint_path())
    assert payload["format_version"] == checkpoint.FORMAT_VERSION
    assert (payload["model"], payload["dataset"], payload["step"]) == ("factor_dvae", "dsprites_procedural", 8)
    assert payload["config"]["gamma"] == 5.0

    def plain(tree):  # only dicts, lists, tuples, scalars, strings and numpy arrays
        if isinstance(tree, dict):
            return all(isinstance(k, str) and plain(v) for k, v in tree.items())
        if isinstance(tree, (list, tuple)):
            return all(plain(v) for v in tree)
        return tree is None or isinstance(tree, (bool, int, float, str, np.ndarray))
    assert plain(payload)

    import jax.numpy as jnp

    from models import build_model
    restored = restore_train_state(build_model(config, 1), jnp.zeros((8, 64, 64, 1)), payload, "ckpt")
    for a, b in zip(jax.tree_util.tree_leaves(ts), jax.tree_util.tree_leaves(restored)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert jax.tree_util.tree_structure(ts) == jax.tree_util.tree_structure(restored)


def test_resume_refuses_another_model_or_data_set(tiny_data, tiny_config, capsys):
    train(tiny_config, data=tiny_data, progress=False)
    path = str(tiny_config.checkpoint_path())
    assert run.main(["--resume", path, "--tc", "--gamma", "30"]) == 2
    err = capsys.readouterr().err
    assert "is a dvae on dsprites_procedural" in err and "factor_dvae" in err
    assert run.main(["--resume", path, "--dataset", "cars3d"]) == 2
    assert "on cars3d" in capsys.readouterr().err


def test_resume_refuses_mismatched_shapes(tiny_data, tiny_config, tmp_path):
    train(tiny_config, data=tiny_data, progress=False)
    payload = load_checkpoint(tiny_config.checkpoint_path())
    payload["params"]["enc_mlp"]["w"] = np.zeros((3, 3), np.float32)
    bad = save_checkpoint(tmp_path / "bad" / "x.pkl", {k: v for k, v in payload.items() if k != "format_version"})
    with pytest.raises(
        CheckpointError,
        match=r"enc_mlp/w: a float32 array of shape \(3, 3\), the model expects a float32 array of shape \(1024, 256\)",
    ):
        train(tiny_config, data=tiny_data, progress=False, resume=bad)


def test_resume_checks_config_values_like_a_fresh_run(tiny_data, tiny_config, tmp_path, capsys):
    import run

    train(tiny_config, data=tiny_data, progress=False, until=4)
    path = str(tiny_config.checkpoint_path())
    bad = tmp_path / "bad.toml"
    for text, message in [('steps = "many"\n', "steps must be int"), ("gama = 3\n", "unknown key")]:
        bad.write_text(text)
        assert run.main(["--resume", path, "--config", str(bad)]) == 2
        assert message in capsys.readouterr().err


def test_resume_refuses_a_schedule_change_unless_allowed(tiny_data, tiny_config, capsys):
    import run
    from training.resume import schedule_changes

    train(tiny_config, data=tiny_data, progress=False, until=4)
    path = str(tiny_config.checkpoint_path())
    for flags in (["--steps", "12"], ["--init", "0.7"], ["--batch_size", "4"], ["--learning_rate", "0.001"]):
        assert run.main(["--resume", path, "--no_progress", *flags]) == 2
        err = capsys.readouterr().err
        assert "--allow_schedule_change" in err and flags[0].lstrip("-").replace("init", "noise_scale_init") in err
    assert load_checkpoint(path)["step"] == 4  # nothing was trained over
    # Bookkeeping may change freely; a meant change is recorded.
    args = run.parse_args(["--resume", path, "--log_every", "2", "--steps", "10", "--allow_schedule_change"])
    config = run.config_from_args(args)
    train(config, data=tiny_data, progress=False, resume=path, allow_schedule_change=args.allow_schedule_change)
    payload = load_checkpoint(path)
    assert payload["step"] == 10 and payload["config"]["steps"] == 10
    assert payload["config_history"] == [{"step": 4, "changed": {"steps": [8, 10]}}]
    assert schedule_changes(tiny_config, tiny_config.replace(log_every=2, save_path="x")) == {}


def test_a_dispatch_the_cpu_cannot_compile_in_time_is_refused_from_a_flag_or_a_file(tiny_data, tiny_config,
                                                                                   tmp_path, capsys):
    """Within the config's bounds (1,000), but unrolled on the CPU: refused at once, before any
    compile, whether it comes from the command line or from a checkpoint (where the flag overrides it)."""
    from training.loop import CPU_MAX_STEPS_PER_DISPATCH

    assert jax.default_backend() == "cpu"
    too_many = str(CPU_MAX_STEPS_PER_DISPATCH + 1)
    assert run.main(["--steps", "1000", "--steps_per_dispatch", too_many, "--save_path", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"steps_per_dispatch {too_many}" in err and "--steps_per_dispatch 10" in err
    assert not list(tmp_path.iterdir())
    train(tiny_config, data=tiny_data, progress=False, until=4)
    payload = load_checkpoint(tiny_config.checkpoint_path())
    payload["config"]["steps_per_dispatch"] = int(too_many)
    path = save_checkpoint(tmp_path / "file" / tiny_config.checkpoint_path().name,
                           {k: v for k, v in payload.items() if k != "format_version"})
    assert run.main(["--resume", str(path)]) == 2
    assert f"steps_per_dispatch {too_many}" in capsys.readouterr().err
    # The flag wins over the file's bookkeeping: the run goes on.
    assert train(run.config_from_args(run.parse_args(["--resume", str(path), "--steps_per_dispatch", "2"])),
                 data=tiny_data, progress=False, resume=str(path)).step == tiny_config.steps
