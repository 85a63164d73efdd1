"""The training loop (training/loop.py): learning, determinism, exact resume, divergence, the
codebook stays fixed, the training MIG logged every eval_every steps, the progress bar's
"compiling" and its rate after compilation."""
import io

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tqdm import tqdm

from checkpoints.checkpoint import load_checkpoint
from configs import Config
from tests.eval_fixtures import PoisonedData
from training.loop import TrainingDiverged, _restart_clock, train


def leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


@pytest.mark.slow  # 30-60 s on 2 cores; CI runs it in its second step
def test_reconstruction_loss_decreases(tiny_data, tmp_path):
    config = Config(steps=200, batch_size=16, log_every=100, eval_every=0, save_every=0,
                    steps_per_dispatch=10, save_path=str(tmp_path))
    lines = []
    train(config, data=tiny_data, progress=False, log=lines.append)
    first = load_checkpoint(config.checkpoint_path())
    assert first["step"] == 200
    # Evaluate the reconstruction at init and after training on the same fixed batch.
    from models import build_model, set_gumbel_state
    from training.resume import restore_train_state
    from training.step import init_train_state
    model = build_model(config, 1)
    x = jnp.asarray(tiny_data.images[::4].astype(np.float32))
    start = init_train_state(model, x)
    end = restore_train_state(model, x, first, "ckpt")

    def recon(ts, scale):
        state = set_gumbel_state(ts.state, scale=scale)
        return float(model.loss(ts.params, state, ts.params_disc, jax.random.PRNGKey(0), x)[1][0]["recon"])

    # With the noise scale training ended at, and with none (the read-out).
    print({s: (recon(start, s), recon(end, s)) for s in (0.0, 1.0, 2.0)})
    assert recon(end, 2.0) < 0.5 * recon(start, 2.0)
    assert recon(end, 0.0) < 0.8 * recon(start, 0.0)


# The FactorVAE case compiles a model no other quick test trains (~18 s): CI runs it with -m slow.
@pytest.mark.parametrize("overrides", [{}, pytest.param({"gaussian": True, "tc": True, "gamma": 5.0},
                                                     marks=pytest.mark.slow)])
def test_same_seed_same_parameters(tiny_data, tiny_config, overrides):
    config = tiny_config.replace(**overrides)
    a = train(config, data=tiny_data, progress=False)
    b = train(config, data=tiny_data, progress=False)
    c = train(config.replace(seed=7), data=tiny_data, progress=False)
    for x, y in zip(leaves((a.params, a.params_disc)), leaves((b.params, b.params_disc))):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, y) for x, y in zip(leaves(a.params), leaves(c.params)))


@pytest.mark.parametrize("overrides", [{}, {"tc": True, "gamma": 5.0}, {"quantized": True, "learning_rate": 1e-3}],
                         ids=["dvae", "factor_dvae", "qlae"])
def test_resume_is_bitwise_identical(tiny_data, tiny_config, overrides):
    config = tiny_config.replace(**overrides)
    whole = train(config, data=tiny_data, progress=False)
    other = config.replace(save_path=config.save_path + "/interrupted")
    train(other, data=tiny_data, progress=False, until=4)
    assert load_checkpoint(other.checkpoint_path())["step"] == 4
    resumed = train(other, data=tiny_data, progress=False, resume=other.checkpoint_path())
    assert int(resumed.step) == 8
    for x, y in zip(leaves((whole.params, whole.opt_state, whole.params_disc, whole.opt_state_disc)),
                    leaves((resumed.params, resumed.opt_state, resumed.params_disc, resumed.opt_state_disc))):
        np.testing.assert_array_equal(x, y)


def test_codebook_never_changes_and_tc_models_train(tiny_data, tiny_config):
    for overrides in [{}, {"tc": True, "gamma": 5.0}]:
        config = tiny_config.replace(**overrides)
        ts = train(config, data=tiny_data, progress=False)
        embed = np.asarray(ts.params["codebook"]["embed"])
        np.testing.assert_allclose(embed[2, :, 0], np.linspace(-1, 1, 64), atol=1e-6)
        from models import build_model
        from training.step import init_train_state
        initial = init_train_state(build_model(config, 1), jnp.zeros((8, 64, 64, 1))).params["codebook"]["embed"]
        np.testing.assert_array_equal(embed, np.asarray(initial))   # bit for bit: never trained
        payload = load_checkpoint(config.checkpoint_path())
        assert payload["model"] == config.model_name
        assert np.isfinite(payload["params"]["enc_conv0"]["w"]).all()


def test_nan_loss_stops_and_keeps_last_checkpoint(tiny_data, tiny_config):
    train(tiny_config, data=tiny_data, progress=False)
    before = tiny_config.checkpoint_path().read_bytes()
    with pytest.raises(TrainingDiverged, match="non-finite loss"):
        train(tiny_config, data=PoisonedData(tiny_data), progress=False)
    assert tiny_config.checkpoint_path().read_bytes() == before


@pytest.mark.slow  # three 10,000-point MIGs (~25 s); the value: by hand in evaluation/test_training_mig.py
def test_wiring_training_mig_is_logged_every_eval_every(tiny_data, tiny_config, capsys):
    """Wiring: the cadence, and the logged value is what compute_mig gives (the value itself
    is checked in test_training_mig_by_hand)."""
    from evaluation.training_mig import training_mig
    from metrics.mig import compute_mig
    from models.representation import make_representation_function
    config = tiny_config.replace(eval_every=4)
    seen = []

    def evaluate(model, ts, data):
        seen.append(int(ts.step))
        return training_mig(model, ts, data)
    ts = train(config, data=tiny_data, progress=False, evaluate=evaluate)
    assert seen == [4, 8]
    lines = [line for line in capsys.readouterr().out.splitlines() if "mig" in line]
    assert len(lines) == 2
    # The logged value is the library's MIG (10,000 points, 20 bins, RandomState(seed)).
    from models import build_model
    represent = make_representation_function(build_model(config, 1), ts.params, ts.state)
    expected = compute_mig(tiny_data, represent, np.random.RandomState(config.seed))["discrete_mig"]
    assert lines[-1].endswith(f"mig {expected:.4f}")


def test_restart_clock_starts_the_rate_after_compilation():
    # smoothing 0: tqdm's rate is then (n - initial) / (now - start), what the restart resets.
    bar = tqdm(total=100, initial=0, file=io.StringIO(), desc="compiling", mininterval=0, smoothing=0)
    bar.start_t -= 60.0                    # a minute of compilation before the first chunk returned
    _restart_clock(bar, 10)
    assert bar.n == 10 and bar.initial == 10 and bar.desc == ""
    bar.start_t -= 2.0                     # then 20 steps in two seconds
    bar.update(20)
    rate = (bar.n - bar.initial) / bar.format_dict["elapsed"]
    assert 9.0 < rate < 11.0               # 10 steps/s; with the compile counted it would be 0.5


def test_first_reading_says_compiling(tiny_config, capsys):
    train(tiny_config, progress=True)
    err = capsys.readouterr().err
    assert err.index("compiling") < err.index("8/8")
    assert "compiling" not in err[err.index("8/8") - 40:]
