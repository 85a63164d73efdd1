"""The negative ELBO on a fixed sample (metrics/elbo.py) against numbers derived by hand."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import configs
from metrics.elbo import compute_elbo
from models import build_model, set_gumbel_state
from tests.eval_fixtures import small_data
from training.step import init_train_state


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return small_data(tmp_path_factory.mktemp("elbo"))


def _model(data, **fields):
    config = configs.Config(steps=1000, **fields)
    model = build_model(config, data.observation_shape[-1])
    ts = init_train_state(model, jnp.zeros((1, *data.observation_shape), jnp.float32))
    return model, ts


def _constant_decoder(params, gaussian: bool, logit: float):
    """Parameters whose decoder outputs `logit` at every pixel and whose posterior is the prior
    (zero logits: uniform categories; zero mean and log-variance: N(0, 1)), so KL = 0."""
    params = jax.tree_util.tree_map(lambda leaf: leaf, params)
    params["dec_deconv3"] = {"w": jnp.zeros_like(params["dec_deconv3"]["w"]),
                             "b": jnp.full_like(params["dec_deconv3"]["b"], logit)}
    heads = ("enc_means", "enc_logvar") if gaussian else ("enc_attn_key",)
    for head in heads:
        params[head] = jax.tree_util.tree_map(jnp.zeros_like, params[head])
    return params


def _drawn_pixel_sums(data, seed, num_batches, batch_size):
    """The sum of pixel values of every drawn image, drawn independently of metrics/elbo.py:
    batch b's indices from split(fold_in(PRNGKey(seed), b))[0]."""
    sums = []
    for b in range(num_batches):
        index_key = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), b))[0]
        index = np.asarray(jax.random.randint(index_key, (batch_size,), 0, data.images.shape[0]))
        sums.append(data.images[index].astype(np.float64).reshape(batch_size, -1).sum(axis=1))
    return np.concatenate(sums)


@pytest.mark.parametrize("gaussian", [False, True], ids=["dvae", "vae"])
def test_zero_logits_give_log2_per_pixel(data, gaussian):
    """Decoder logits 0: each pixel costs log 2 whatever the image, and KL is 0."""
    model, ts = _model(data, gaussian=gaussian)
    params = _constant_decoder(ts.params, gaussian, 0.0)
    out = compute_elbo(model, params, ts.state, data, step=1000, seed=1, num_batches=3, batch_size=8)
    pixels = int(np.prod(data.observation_shape))
    assert out["elbo_kl"] == pytest.approx(0.0, abs=1e-4)
    assert out["elbo_recon"] == pytest.approx(pixels * math.log(2.0), rel=1e-6)
    assert out["elbo"] == pytest.approx(out["elbo_recon"] + out["elbo_kl"], rel=1e-12)
    assert out["elbo_num_images"] == 24


def test_constant_logit_matches_hand_computation_on_the_drawn_images(data):
    """Logit c everywhere: per image softplus(c) * pixels - c * sum(x), with the images drawn
    from the documented keys (checks which images are used, not only the loss)."""
    c = 1.5
    model, ts = _model(data)
    params = _constant_decoder(ts.params, False, c)
    out = compute_elbo(model, params, ts.state, data, step=1000, seed=4, num_batches=3, batch_size=8)
    pixel_sums = _drawn_pixel_sums(data, seed=4, num_batches=3, batch_size=8)
    assert pixel_sums.std() > 0   # the images differ, so the wrong images would change the answer
    pixels = int(np.prod(data.observation_shape))
    expected = np.mean(math.log1p(math.exp(c)) * pixels - c * pixel_sums)
    assert out["elbo_recon"] == pytest.approx(expected, rel=1e-6)


def test_noise_scale_follows_the_schedule_and_leaves_state_alone(data):
    model, ts = _model(data)
    before = jax.tree_util.tree_map(np.asarray, ts.state)
    end = compute_elbo(model, ts.params, ts.state, data, step=1000, seed=0, num_batches=2, batch_size=4)
    start = compute_elbo(model, ts.params, ts.state, data, step=0, seed=0, num_batches=2, batch_size=4)
    assert end["elbo_noise_scale"] == pytest.approx(2.0)     # noise_scale_final
    assert start["elbo_noise_scale"] == pytest.approx(0.5)   # noise_scale_init
    assert end["elbo"] != start["elbo"]                      # the noise scale reaches the sample
    jax.tree_util.tree_map(np.testing.assert_array_equal, before, jax.tree_util.tree_map(np.asarray, ts.state))
    gaussian, gts = _model(data, gaussian=True)
    assert compute_elbo(gaussian, gts.params, gts.state, data, step=5, num_batches=1, batch_size=4)[
        "elbo_noise_scale"] == 0.0


def test_matches_the_training_objective_without_tc(data):
    """For a FactorDVAE, elbo = the training loss's `elbo` term (recon + KL, no gamma * TC) on the
    same images with the same sampling key."""
    model, ts = _model(data, tc=True, gamma=30.0)
    out = compute_elbo(model, ts.params, ts.state, data, step=500, seed=2, num_batches=2, batch_size=8)
    state = set_gumbel_state(ts.state, scale=float(out["elbo_noise_scale"]))
    loss_terms = jax.jit(lambda key, x: model.loss(ts.params, state, ts.params_disc, key, x)[1][0])  # one compile
    values = []
    for b in range(2):
        index_key, observation_key = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(2), b))
        index = np.asarray(jax.random.randint(index_key, (8,), 0, data.images.shape[0]))
        x = data.to_observations(observation_key, jnp.asarray(data.images[index]))
        terms = loss_terms(jax.random.fold_in(index_key, 1), x)
        values.append(float(terms["elbo"]))
        assert float(terms["loss"]) != pytest.approx(float(terms["elbo"]))   # the TC term is really left out
    assert out["elbo"] == pytest.approx(np.mean(values), rel=1e-5)


def test_numpy_random_state_untouched(data):
    model, ts = _model(data)
    np.random.seed(5)
    expected = np.random.rand()
    np.random.seed(5)
    compute_elbo(model, ts.params, ts.state, data, step=1000, num_batches=1, batch_size=4)
    assert np.random.rand() == expected
