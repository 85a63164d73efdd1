"""models/layers.py: same parameters as hk.Conv2D / hk.Conv2DTranspose, same outputs and gradients."""
import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models import layers
from models.networks import Decoder, Encoder
from tests.slow_cases import quick_first

# (input H=W, in channels, out channels, kernel): the layers of docs/design.md §1 (batch kept small).
ENCODER = [(64, 1, 32, 4), (32, 32, 32, 4), (16, 32, 64, 2), (8, 64, 64, 2)]
DECODER = [(4, 64, 64, 4), (8, 64, 32, 4), (16, 32, 32, 4), (32, 32, 1, 4), (32, 32, 3, 4)]
# Odd sizes, odd kernels (not a multiple of the stride), stride 3; one channel on either side,
# so both stackings of `_window_correlation` (which side is narrower) meet them, and each of
# `_strided_product`'s three forms (stacked windows, windows matmul, XLA's kernel). The last two
# have kh*kw*out <= in, so their transposed conv takes `_tap_products_transpose`.
ODD = [(7, 1, 8, 3, 2), (5, 12, 1, 5, 3), (7, 3, 5, 3, 2), (9, 2, 4, 5, 3), (7, 8, 1, 3, 2), (5, 1, 12, 5, 3),
       (7, 9, 1, 3, 2), (5, 25, 1, 5, 3)]


def _compare(ours, theirs, x, rtol=1e-4):
    """Same params from the same key; outputs and gradients (inputs, params) allclose."""
    f_ours, f_theirs = hk.transform(ours), hk.transform(theirs)

    @jax.jit      # one compilation per case (eager ops would compile one by one)
    def run(x):
        key = jax.random.PRNGKey(0)
        init_ours, params = f_ours.init(key, x), f_theirs.init(key, x)
        params = jax.tree_util.tree_map(lambda p: p + 0.1 * jax.random.normal(key, p.shape), params)  # bias != 0
        y_ref = f_theirs.apply(params, None, x)
        cotangent = jax.random.normal(jax.random.PRNGKey(1), y_ref.shape)

        def grads(f):
            return jax.grad(lambda p, x: jnp.vdot(f.apply(p, None, x), cotangent), argnums=(0, 1))(params, x)

        return init_ours, f_theirs.init(key, x), f_ours.apply(params, None, x), y_ref, grads(f_ours), grads(f_theirs)

    init_ours, init_theirs, y, y_ref, g_ours, g_theirs = run(x)
    assert jax.tree_util.tree_structure(init_ours) == jax.tree_util.tree_structure(init_theirs)
    for a, b in zip(jax.tree_util.tree_leaves(init_ours), jax.tree_util.tree_leaves(init_theirs)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(y, y_ref, rtol=rtol, atol=rtol * float(jnp.abs(y_ref).max()))
    for a, b in zip(jax.tree_util.tree_leaves(g_ours), jax.tree_util.tree_leaves(g_theirs)):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * float(jnp.abs(b).max()))


def _x(h, c, batch=2):
    return jax.random.uniform(jax.random.PRNGKey(h * 100 + c), (batch, h, h, c))


# "xla" is lax's own convolution (the GPU path), also run by test_representation's models.
@pytest.mark.parametrize("impl", ["fast", pytest.param("xla", marks=pytest.mark.slow)])
@pytest.mark.parametrize("h,c,o,k", ENCODER)
def test_conv2d_matches_haiku(impl, h, c, o, k):
    _compare(lambda x: layers.Conv2D(o, k, stride=2, impl=impl, name="enc_conv0")(x),
             lambda x: hk.Conv2D(o, k, stride=2, padding="SAME", name="enc_conv0")(x), _x(h, c))


# "xla" is lax's own convolution (the GPU path), also run by test_representation's models.
@pytest.mark.parametrize("impl", ["fast", pytest.param("xla", marks=pytest.mark.slow)])
@pytest.mark.parametrize("h,c,o,k", DECODER)
def test_conv2d_transpose_matches_haiku(impl, h, c, o, k):
    _compare(lambda x: layers.Conv2DTranspose(o, k, stride=2, impl=impl, name="dec_deconv0")(x),
             lambda x: hk.Conv2DTranspose(o, k, stride=2, padding="SAME", name="dec_deconv0")(x), _x(h, c))


# The first two in the quick suite: one per stacking, neither kernel a multiple of its stride, one stride 3.
@pytest.mark.parametrize("h,c,o,k,s", quick_first(ODD, 2, unpack=True, id_of=lambda c: "-".join(map(str, c))))
def test_odd_shapes(h, c, o, k, s):
    _compare(lambda x: layers.Conv2D(o, k, stride=s, impl="fast")(x),
             lambda x: hk.Conv2D(o, k, stride=s, padding="SAME")(x), _x(h, c))
    _compare(lambda x: layers.Conv2DTranspose(o, k, stride=s, impl="fast")(x),
             lambda x: hk.Conv2DTranspose(o, k, stride=s, padding="SAME")(x), _x(h, c))


def test_fast_transposed_conv_refuses_kernel_smaller_than_stride():
    x, w = jnp.ones((1, 4, 4, 2)), jnp.ones((2, 2, 3, 2))
    with pytest.raises(ValueError, match="needs kernel >= stride, got kernel \\(2, 2\\) and stride \\(3, 3\\)"):
        layers.conv2d_transpose_fast(x, w, 3)
    assert layers.conv2d_transpose_fast(x, w, 2).shape == (1, 8, 8, 3)
    with pytest.raises(ValueError, match="strided convolution needs kernel >= stride"):
        layers.conv2d_fast(jnp.ones((1, 5, 5, 2)), jnp.ones((2, 2, 2, 3)), 3)


def test_impl_choice():
    assert layers.resolve_impl("xla") == "xla" and layers.resolve_impl("fast") == "fast"
    assert layers.resolve_impl("auto") == ("fast" if jax.default_backend() == "cpu" else "xla")
    with pytest.raises(ValueError):
        layers.resolve_impl("cudnn")


@pytest.mark.slow  # ~25 s; each layer is compared with both impls in the quick suite
def test_networks_same_params_and_outputs_for_both_impls():
    """Encoder/Decoder: identical parameter trees (docs/design.md §1 names) and outputs for xla and fast."""
    x = _x(64, 3, batch=3)

    def net(impl):
        def f(x):
            h = Encoder(256, conv_impl=impl)(x)
            return Decoder(3, 256, conv_impl=impl)(h[:, :10])
        return hk.transform(f)

    fast, xla = net("fast"), net("xla")
    params = jax.jit(xla.init)(jax.random.PRNGKey(3), x)
    expected = {f"enc_conv{i}" for i in range(4)} | {"enc_mlp", "dec_mlp/~/linear_0", "dec_mlp/~/linear_1"} \
        | {f"dec_deconv{i}" for i in range(4)}
    assert set(params) == expected
    assert params["dec_deconv3"]["w"].shape == (4, 4, 3, 32) and params["enc_conv0"]["w"].shape == (4, 4, 3, 32)
    fast_params = jax.jit(fast.init)(jax.random.PRNGKey(3), x)
    for a, b in zip(jax.tree_util.tree_leaves(fast_params), jax.tree_util.tree_leaves(params)):
        np.testing.assert_array_equal(a, b)
    y_ref = jax.jit(xla.apply)(params, None, x)
    np.testing.assert_allclose(
        jax.jit(fast.apply)(params, None, x), y_ref, rtol=1e-4, atol=1e-4 * float(jnp.abs(y_ref).max())
    )
