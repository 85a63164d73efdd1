"""The models (models/model.py) against docs/design.md §1–§4: parameter names and shapes, outputs,
the read-out, hard and soft samples, the loss with TC, and the KL per latent (UDR's input)."""
import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import configs
from configs import Config
from models import build_model, set_gumbel_state
from tests.eval_fixtures import small_data
from training.step import init_train_state

EXPECTED_SHAPES = {
    "enc_conv0": {"w": (4, 4, 3, 32), "b": (32,)},
    "enc_conv1": {"w": (4, 4, 32, 32), "b": (32,)},
    "enc_conv2": {"w": (2, 2, 32, 64), "b": (64,)},
    "enc_conv3": {"w": (2, 2, 64, 64), "b": (64,)},
    "enc_mlp": {"w": (1024, 256), "b": (256,)},
    "dec_mlp/~/linear_0": {"w": (10, 256), "b": (256,)},
    "dec_mlp/~/linear_1": {"w": (256, 1024), "b": (1024,)},
    "dec_deconv0": {"w": (4, 4, 64, 64), "b": (64,)},
    "dec_deconv1": {"w": (4, 4, 32, 64), "b": (32,)},
    "dec_deconv2": {"w": (4, 4, 32, 32), "b": (32,)},
    "dec_deconv3": {"w": (4, 4, 3, 32), "b": (3,)},
}


def shapes(tree):
    return jax.tree_util.tree_map(lambda a: tuple(a.shape), tree)


@pytest.mark.parametrize("gaussian", [False, True])
def test_parameter_tree_names_and_shapes(gaussian):
    model = build_model(Config(gaussian=gaussian, tc=True, gamma=1.0), 3)
    # Shapes only: running the initialisers op by op would compile each of them.
    params, state, params_disc = jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.zeros((2, 64, 64, 3)))
    expected = dict(EXPECTED_SHAPES)
    if gaussian:
        expected["enc_means"] = {"w": (256, 10), "b": (10,)}
        expected["enc_logvar"] = {"w": (256, 10), "b": (10,)}
        assert state == {}
    else:
        expected["enc_attn_key"] = {"w": (256, 640), "b": (640,)}
        expected["codebook"] = {"embed": (10, 64, 1)}
        assert set(state["codebook"]) == {"scale", "lambda", "hard"}
    assert shapes(params) == expected
    disc = shapes(params_disc)
    assert [disc[f"discriminator/~/linear_{i}"]["w"] for i in range(7)] == (
        [(10, 1000)] + [(1000, 1000)] * 5 + [(1000, 2)])


@pytest.fixture(scope="module")
def dvae():
    """A D-VAE (K = 64), its initial parameters for 4 random images, and its forward and encode
    jitted once for the tests below (run op by op, each would compile every op again)."""
    model = build_model(Config(), 1)
    x = jax.random.uniform(jax.random.PRNGKey(3), (4, 64, 64, 1))
    params, state, _ = model.init(jax.random.PRNGKey(0), x)
    return model, x, params, state, jax.jit(model.forward.apply), jax.jit(model.encode.apply)


def test_forward_output_shapes(dvae):
    model, x, params, state, forward, encode = dvae
    outputs, _ = forward(params, state, jax.random.PRNGKey(1), x)
    assert outputs["z"].shape == (4, 10)
    assert outputs["representation"].shape == (4, 10)
    assert outputs["recon_logits"].shape == (4, 64, 64, 1)
    assert outputs["kl"].shape == (4,)
    representation, _ = encode(params, state, x)
    np.testing.assert_allclose(representation, outputs["representation"], rtol=1e-6)
    # Three channels in, three out (shapes only).
    color = build_model(Config(), 3)
    x3 = jax.ShapeDtypeStruct((5, 64, 64, 3), jnp.float32)
    params3, state3, _ = jax.eval_shape(color.init, jax.random.PRNGKey(0), x3)
    outputs3, _ = jax.eval_shape(color.forward.apply, params3, state3, jax.random.PRNGKey(1), x3)
    assert outputs3["recon_logits"].shape == (5, 64, 64, 3) and outputs3["z"].shape == (5, 10)


def test_representation_is_expectation_over_codebook(dvae):
    model, x, params, state, _, encode = dvae
    representation, _ = encode(params, state, x)
    # Independent read-out: logits from the encoder head, softmax by hand, dot with values.
    features = jax.jit(hk.without_apply_rng(hk.transform(
        lambda im: __import__("models.networks", fromlist=["Encoder"]).Encoder(256)(im))).apply)(params, x)
    logits = np.asarray(features @ params["enc_attn_key"]["w"] + params["enc_attn_key"]["b"]).reshape(4, 10, 64)
    q = np.exp(logits - logits.max(-1, keepdims=True))
    q /= q.sum(-1, keepdims=True)
    np.testing.assert_allclose(representation, q @ np.linspace(-1, 1, 64), rtol=1e-5, atol=1e-6)


def test_hard_sample_takes_codebook_values_and_soft_does_not(dvae):
    model, x, params, state, forward, _ = dvae
    values = np.linspace(-1, 1, 64)
    hard, _ = forward(params, set_gumbel_state(state, hard=True), jax.random.PRNGKey(1), x)
    soft, _ = forward(params, set_gumbel_state(state, hard=False), jax.random.PRNGKey(1), x)
    distance = np.abs(np.asarray(hard["z"])[..., None] - values).min(-1)
    assert distance.max() < 1e-6
    assert np.abs(np.asarray(soft["z"])[..., None] - values).min(-1).max() > 1e-3


def test_zero_noise_soft_sample_equals_representation(dvae):
    model, x, params, state, forward, _ = dvae
    outputs, _ = forward(params, set_gumbel_state(state, scale=0.0), jax.random.PRNGKey(1), x)
    np.testing.assert_allclose(outputs["z"], outputs["representation"], rtol=1e-5, atol=1e-6)


def test_loss_adds_gamma_times_tc():
    x = jax.random.uniform(jax.random.PRNGKey(5), (4, 64, 64, 1))
    base = build_model(Config(tc=True, gamma=0.0), 1)
    heavy = build_model(Config(tc=True, gamma=10.0), 1)
    params, state, params_disc = base.init(jax.random.PRNGKey(0), x)
    loss0, (terms0, _, _) = base.loss(params, state, params_disc, jax.random.PRNGKey(1), x)
    loss10, (terms10, _, _) = heavy.loss(params, state, params_disc, jax.random.PRNGKey(1), x)
    np.testing.assert_allclose(loss0, terms0["recon"] + terms0["kl"], rtol=1e-5)
    np.testing.assert_allclose(loss10 - loss0, 10.0 * terms10["tc"], rtol=1e-4, atol=1e-3)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return small_data(tmp_path_factory.mktemp("udr_data"))


@pytest.mark.parametrize("gaussian", [False, True], ids=["dvae", "vae"])
def test_kl_per_latent_sums_to_the_training_kl(data, gaussian):
    """posterior_kl [batch, N] summed over N is the KL term of the training loss."""
    model = build_model(configs.Config(gaussian=gaussian), 1)
    ts = init_train_state(model, jnp.zeros((1, 64, 64, 1), jnp.float32))
    params = jax.tree_util.tree_map(lambda p: p * 3.0, ts.params)      # posteriors far from the prior
    images = jnp.asarray(data.images[:16], jnp.float32)
    per_latent = jax.jit(model.posterior_kl.apply)(params, ts.state, images)[0]
    outputs, _ = jax.jit(model.forward.apply)(params, ts.state, jax.random.PRNGKey(0), images)
    assert per_latent.shape == (16, 10) and float(per_latent.min()) >= -1e-6
    np.testing.assert_allclose(per_latent.sum(axis=1), outputs["kl"], rtol=1e-5)
    assert float(outputs["kl"].mean()) > 0.1
