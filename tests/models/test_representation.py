"""The jitted read-out (models/representation.py): every model's numbers equal a plain compile bit for bit, and the CPU
compile options that make the Gaussian read-out fast are accepted by the pinned jaxlib."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import Config
from models import build_model
from models.registry import REGISTRY
from models.representation import CPU_COMPILER_OPTIONS, compile_encoder, make_representation_function

MODELS = {name: spec.config_fields(gamma=10.0) for name, spec in REGISTRY.items()}


def random_model(overrides, seed=0):
    model = build_model(Config(conv_impl="xla", **overrides), 1)
    params, state, _ = model.init(jax.random.PRNGKey(seed), jnp.zeros((2, 64, 64, 1)))
    # Non-zero biases, as in a trained model (zero biases let XLA drop the adds). numpy noise:
    # jax.random.normal would compile once per parameter shape.
    rng = np.random.RandomState(seed + 1)
    params = jax.tree_util.tree_map(
        lambda p: jnp.asarray(np.asarray(p) + 0.05 * rng.standard_normal(p.shape), p.dtype), params)
    return model, params, state


@pytest.mark.parametrize("name", sorted(MODELS))
def test_read_out_equals_a_plain_compile(name):
    model, params, state = random_model(MODELS[name])
    images = np.random.RandomState(1).randint(0, 2, (300, 64, 64, 1)).astype(np.float32)
    plain = jax.jit(lambda x: model.encode.apply(params, state, x)[0])
    # The plain compile at the read-out's shape: the last chunk zero-padded to 128 like the
    # read-out pads it. (A 44-image compile is another program: on an AMD EPYC its Gaussian
    # read-out differed from the 128-image one by up to 7e-7, so batch size, not the compile
    # options, would be what such a comparison measured.)
    padded = np.concatenate([images, np.zeros((84, 64, 64, 1), np.float32)])
    expected = np.concatenate([np.asarray(plain(padded[i:i + 128])) for i in range(0, 384, 128)])[:300]
    got = make_representation_function(model, params, state, batch_size=128)(images)
    assert got.shape == (300, 10)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="XLA:CPU compile options")
def test_cpu_options_are_accepted_and_fuse_the_gaussian_encoder():
    model, params, state = random_model(MODELS["vae"])
    shape = jax.ShapeDtypeStruct((64, 64, 64, 1), jnp.float32)
    lowered = jax.jit(lambda x: model.encode.apply(params, state, x)[0]).lower(shape)
    tuned = lowered.compile(compiler_options=CPU_COMPILER_OPTIONS).as_text()   # raises if unknown
    default = lowered.compile().as_text()
    # The default compile leaves the bias adds and ReLUs as separate loop fusions between
    # single-op YNNPACK calls; the tuned one fuses them into the YNNPACK subgraph.
    assert tuned.count("kind=kLoop") < default.count("kind=kLoop")
    used = compile_encoder(model, params, state, 64).as_text()
    assert used.count("kind=kLoop") == tuned.count("kind=kLoop")     # the read-out compiles this way
