"""The straight-through gap (metrics/st_gap.py) against a straightforward per-batch computation."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import configs
from metrics.st_gap import batch_keys, compute_st_gap
from models import build_model, set_gumbel_state
from tests.eval_fixtures import small_data
from training.step import init_train_state


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return small_data(tmp_path_factory.mktemp("stgap"))


def _model(data, **fields):
    config = configs.Config(**fields)
    model = build_model(config, data.observation_shape[-1])
    ts = init_train_state(model, jnp.zeros((1, *data.observation_shape), jnp.float32))
    return model, ts


def reference_gap(model, ts, data, seed, num_batches, batch_size):
    """Per batch, one model.loss call each: draw the images, loss with the soft sample and with the hard one."""
    hard_losses, soft_losses = [], []
    loss = jax.jit(model.loss)  # one batch per call: no vmap, no grouping
    for b in range(num_batches):
        index_key, observation_key = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), b))
        index = np.asarray(jax.random.randint(index_key, (batch_size,), 0, data.images.shape[0]))
        x = data.to_observations(observation_key, jnp.asarray(data.images[index]))
        soft = loss(ts.params, set_gumbel_state(ts.state, scale=0.0, hard=False), ts.params_disc,
                    jax.random.PRNGKey(7), x)[0]
        hard = loss(ts.params, set_gumbel_state(ts.state, scale=0.0, hard=True), ts.params_disc,
                    jax.random.PRNGKey(8), x)[0]
        soft_losses.append(float(soft))
        hard_losses.append(float(hard))
    return abs(np.mean(hard_losses) - np.mean(soft_losses)), np.mean(hard_losses), np.mean(soft_losses)


@pytest.mark.parametrize("fields", [{}, {"tc": True, "gamma": 30.0}], ids=["dvae", "factor_dvae"])
def test_matches_reference(data, fields):
    model, ts = _model(data, **fields)
    out = compute_st_gap(model, ts.params, ts.state, ts.params_disc, data, seed=3, num_batches=5,
                         batch_size=16, batches_per_call=2)   # 2 + 2 + 1 (padded) batches
    gap, hard, soft = reference_gap(model, ts, data, 3, 5, 16)
    assert out["st_loss_hard"] == pytest.approx(hard, rel=1e-5)
    assert out["st_loss_soft"] == pytest.approx(soft, rel=1e-5)
    assert out["st_gap"] == pytest.approx(gap, rel=1e-3, abs=1e-3)
    assert out["st_gap"] > 0.01      # the hard and soft samples really differ
    assert out["st_num_batches"] == 5 and out["st_batch_size"] == 16


def test_seed_image_array_and_state_untouched(data):
    model, ts = _model(data)
    state_before = jax.tree_util.tree_map(np.asarray, ts.state)
    args = (model, ts.params, ts.state, None)
    a = compute_st_gap(*args, data, seed=2, num_batches=4, batch_size=8, batches_per_call=4)
    c = compute_st_gap(*args, data, seed=3, num_batches=4, batch_size=8, batches_per_call=4)
    # (grouping into calls, with a padded last call, is checked against the reference above)
    assert a["st_loss_soft"] != c["st_loss_soft"]
    from_array = compute_st_gap(*args, data.images, seed=2, num_batches=4, batch_size=8,
                                batches_per_call=4, pixel_scale=1.0)
    assert from_array["st_gap"] == pytest.approx(a["st_gap"], rel=1e-6)
    with pytest.raises(ValueError, match="pixel_scale"):
        compute_st_gap(model, ts.params, ts.state, None, data.images, num_batches=1, batch_size=8)
    jax.tree_util.tree_map(np.testing.assert_array_equal, state_before, jax.tree_util.tree_map(np.asarray, ts.state))


def test_gaussian_refused(data):
    model, ts = _model(data, gaussian=True)
    with pytest.raises(ValueError, match="discrete models only"):
        compute_st_gap(model, ts.params, ts.state, None, data, num_batches=1, batch_size=8)


def test_batch_keys_independent_of_count():
    a, _ = batch_keys(5, 3)
    b, _ = batch_keys(5, 10)
    c, _ = batch_keys(6, 3)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b[:3]))
    assert not np.array_equal(np.asarray(a), np.asarray(c))
