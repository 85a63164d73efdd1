"""Strided convolution layers that keep hk.Conv2D / hk.Conv2DTranspose's parameters but run
near matmul speed on the CPU.

`Conv2D` and `Conv2DTranspose` create exactly the parameters of the Haiku modules of the same
name (`w` [kh, kw, in, out] resp. [kh, kw, out, in], `b` [out], same initialisers, created in
the same order, so the same key gives the same values) and compute the same function for
padding SAME. Two implementations, chosen by `impl`:

- `"xla"`: `lax.conv_general_dilated` / `lax.conv_transpose`, exactly what Haiku calls.
- `"fast"`: the same linear maps arranged so that XLA:CPU never runs its slow kernels (strided
  convolutions with input dilation, i.e. the transposed convolution and the input gradient of
  a strided convolution, and the weight gradient of a transposed convolution):
  * transposed conv = sub-pixel (phase) decomposition: output pixel s*i + r only sees inputs
    i + d for a few offsets d, with kernel tap a = s*d + pad - r. One stride-1 convolution with
    a kernel [offsets, C, s*s*O] that holds each phase's taps (zeros elsewhere) produces every
    phase at once, and a depth-to-space puts them in place. Its gradients come from one
    stride-1 convolution per phase holding only that phase's taps (a custom VJP), which
    XLA:CPU runs fast and which skips the union kernel's zeros.
  * strided conv with overlapping windows (4x4, stride 2): XLA's forward kernel (fast) with a
    custom VJP whose input gradient is the same kind of sub-pixel convolution; the weight
    gradient stays XLA's (fast enough).
  * non-overlapping 2x2 stride-2 conv: space-to-depth and one matmul.
- `"auto"`: `"fast"` on the CPU, `"xla"` elsewhere (cuDNN's kernels are the fast path on a GPU;
  `benchmarks/gpu_check.sh` measures both there).
"""
from __future__ import annotations

from functools import partial

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

IMPLS = ("auto", "xla", "fast")
_DN = ("NHWC", "HWIO", "NHWC")
_DN_T = ("NHWC", "HWOI", "NHWC")


def resolve_impl(impl: str) -> str:
    """`"xla"` or `"fast"`: `"auto"` is `"fast"` on the CPU backend, `"xla"` otherwise."""
    if impl not in IMPLS:
        raise ValueError(f"conv_impl must be one of {IMPLS}, got {impl!r}")
    if impl == "auto":
        return "fast" if jax.default_backend() == "cpu" else "xla"
    return impl


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


# -- strided convolution ----------------------------------------------------------------------

def _same_pads(size: int, k: int, s: int) -> tuple[int, int, int]:
    """(out, pad_lo, pad_hi) of XLA's SAME padding."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return out, total // 2, total - total // 2


def _space_to_depth(x, sh: int, sw: int):
    """[B, H*sh, W*sw, C] -> [B, H, W, sh*sw*C] (channel order: row phase, column phase, C)."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // sh, sh, w // sw, sw, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h // sh, w // sw, sh * sw * c)


def _dot(x, w):
    """[..., C] @ [C, O] as one 2-D matmul."""
    return (x.reshape(-1, x.shape[-1]) @ w).reshape(*x.shape[:-1], w.shape[-1])


def _depth_to_space(y, sh: int, sw: int, o: int):
    """[B, H, W, sh*sw*O] (phase-major channels) -> [B, H*sh, W*sw, O]."""
    b, h, w, _ = y.shape
    return y.reshape(b, h, w, sh, sw, o).transpose(0, 1, 3, 2, 4, 5).reshape(b, h * sh, w * sw, o)


def _phase_conv(x, w, taps_h, taps_w, out_h: int, out_w: int, tap_matrix, shift_phases: bool = False):
    """Sub-pixel convolution: for every output phase (rh, rw) and pixel (i, j),
    sum over the phase's (offset d, tap a) pairs of x[i + dh, j + dw] @ tap_matrix(w, ah, aw).

    All phases come out of ONE stride-1 XLA convolution whose kernel [nh, nw, C, sh*sw*O] holds
    each phase's taps: no zero-dilated input, no strided kernel, and its gradients are again
    stride-1 convolutions, which XLA:CPU runs fast. Phases may use different offsets (a 4x4
    stride-2 transposed conv: {-1, 0} and {0, 1}). By default the kernel spans their union
    (3x3, more than half zeros). With `shift_phases`, a phase's taps sit in the kernel relative
    to its own first offset and its outputs are read from the convolution shifted by that
    offset: a 2x2 kernel, about half the work forward, but slicing the phases apart makes the
    gradients slow on XLA:CPU, hence `conv2d_transpose_fast`'s custom VJP (`_phase_outputs`).
    Returns [B, out_h * sh, out_w * sw, O].
    """
    sh, sw = len(taps_h), len(taps_w)
    first_h = [min(d for d, _ in phase) for phase in taps_h]
    first_w = [min(d for d, _ in phase) for phase in taps_w]
    if not shift_phases:
        first_h, first_w = [min(first_h)] * sh, [min(first_w)] * sw
    nh = max(max(d for d, _ in phase) - f + 1 for phase, f in zip(taps_h, first_h))
    nw = max(max(d for d, _ in phase) - f + 1 for phase, f in zip(taps_w, first_w))
    index = np.zeros((nh, nw, sh, sw, 2), np.int32)
    mask = np.zeros((nh, nw, sh, sw), np.float32)
    for rh, phase_h in enumerate(taps_h):
        for dh, ah in phase_h:
            for rw, phase_w in enumerate(taps_w):
                for dw, aw in phase_w:
                    index[dh - first_h[rh], dw - first_w[rw], rh, rw] = (ah, aw)
                    mask[dh - first_h[rh], dw - first_w[rw], rh, rw] = 1.0
    m = tap_matrix(w)                                                 # [kh, kw, C, O]
    c, o = m.shape[2:]
    kernel = m[index[..., 0], index[..., 1]] * mask[..., None, None]  # [nh, nw, sh, sw, C, O]
    kernel = kernel.transpose(0, 1, 4, 2, 3, 5).reshape(nh, nw, c, sh * sw * o)
    # y[p] = sum_u x[p + lo + u] kernel[u]; phase r's output i is y[i + first_r - lo].
    lo_h, lo_w = min(first_h), min(first_w)
    shift_h = [f - lo_h for f in first_h]
    shift_w = [f - lo_w for f in first_w]
    ext_h, ext_w = out_h + max(shift_h), out_w + max(shift_w)
    h, wd = x.shape[1:3]
    pads = ((-lo_h, ext_h + nh - 1 - h + lo_h), (-lo_w, ext_w + nw - 1 - wd + lo_w))
    y = lax.conv_general_dilated(x, kernel, (1, 1), pads, dimension_numbers=_DN)
    if max(shift_h) == 0 and max(shift_w) == 0:
        return _depth_to_space(y, sh, sw, o)
    y = y.reshape(*y.shape[:3], sh, sw, o)
    rows = [jnp.stack([y[:, shift_h[rh]:shift_h[rh] + out_h, shift_w[rw]:shift_w[rw] + out_w, rh, rw]
                       for rw in range(sw)], axis=3) for rh in range(sh)]  # [B, out_h, out_w, sw, O]
    return jnp.stack(rows, axis=2).reshape(y.shape[0], out_h * sh, out_w * sw, o)


def _conv_adjoint_taps(k: int, s: int, d_max: int):
    """Phase taps of the input gradient of a stride-s conv: dxp[s*m + r] += dy[m - d] w[s*d + r]."""
    return [[(-d, s * d + r) for d in range(d_max) if s * d + r < k] for r in range(s)]


@partial(jax.custom_vjp, nondiff_argnums=(2,))
def _strided_conv(x, w, stride):
    return lax.conv_general_dilated(x, w, stride, "SAME", dimension_numbers=_DN)


def _strided_conv_fwd(x, w, stride):
    return _strided_conv(x, w, stride), (x, w)


def _strided_conv_bwd(stride, residuals, dy):
    """dx as a sub-pixel (stride-1) convolution of dy; dw is XLA's own (fast enough on CPU)."""
    x, w = residuals
    (sh, sw), (kh, kw) = stride, w.shape[:2]
    b, h, wd, c = x.shape
    oh, ph_lo, _ = _same_pads(h, kh, sh)
    ow, pw_lo, _ = _same_pads(wd, kw, sw)
    dh, dw_ = -(-kh // sh), -(-kw // sw)
    taps_h, taps_w = _conv_adjoint_taps(kh, sh, dh), _conv_adjoint_taps(kw, sw, dw_)
    # Gradient w.r.t. the zero-padded input [B, sh*(oh+dh-1), sw*(ow+dw-1), C], then cropped.
    dxp = _phase_conv(dy, w, taps_h, taps_w, oh + dh - 1, ow + dw_ - 1, lambda w: w.transpose(0, 1, 3, 2))
    dx = dxp[:, ph_lo:ph_lo + h, pw_lo:pw_lo + wd]
    _, w_vjp = jax.vjp(lambda w: lax.conv_general_dilated(x, w, stride, "SAME", dimension_numbers=_DN), w)
    return dx, w_vjp(dy)[0]


_strided_conv.defvjp(_strided_conv_fwd, _strided_conv_bwd)


def conv2d_fast(x, w, stride):
    """SAME-padded conv of x [B, H, W, C] with w [kh, kw, C, O] (= lax.conv_general_dilated).

    Non-overlapping windows (kernel == stride, no padding needed): space-to-depth and one
    matmul. Otherwise XLA's forward convolution with a custom VJP whose input gradient is a
    sub-pixel convolution instead of XLA's slow input-dilated one.
    """
    (sh, sw), (kh, kw) = _pair(stride), w.shape[:2]
    b, h, wd, c = x.shape
    if (kh, kw) == (sh, sw) and h % sh == 0 and wd % sw == 0:
        o = w.shape[-1]
        return _dot(_space_to_depth(x, sh, sw), w.reshape(kh * kw * c, o))
    return _strided_conv(x, w, (sh, sw))


def _transpose_taps(k: int, s: int):
    """Per phase r: the (offset d, kernel tap a) pairs of a SAME transposed conv (lax's padding).

    lax.conv_transpose zero-dilates x by s, pads by pad_a before and correlates with w, so
    output o = s*i + r sums x[i + d] w[a] over the taps with a = s*d + pad_a - r, 0 <= a < k.
    """
    pad_len = k + s - 2
    pad_a = k - 1 if s > k - 1 else int(np.ceil(pad_len / 2))
    return [[((r + a - pad_a) // s, a) for a in range(k) if (r + a - pad_a) % s == 0] for r in range(s)]


@partial(jax.custom_vjp, nondiff_argnums=(2,))
def _transpose_conv(x, w, stride):
    (sh, sw), (kh, kw) = stride, w.shape[:2]
    h, wd = x.shape[1:3]
    return _phase_conv(x, w, _transpose_taps(kh, sh), _transpose_taps(kw, sw), h, wd,
                       lambda w: w.transpose(0, 1, 3, 2), shift_phases=True)


def _transpose_conv_fwd(x, w, stride):
    return _transpose_conv(x, w, stride), (x, w)


def _phase_outputs(x, w, taps_h, taps_w, out_h: int, out_w: int, tap_matrix) -> list:
    """The sub-pixel convolution as one stride-1 convolution per phase (rh, rw), each with only
    its own taps (a 2x2 kernel for 4x4 stride 2): [y_phase [B, out_h, out_w, O]] in row-major
    phase order. Slower forward than `_phase_conv`, but its gradients do 16 tap products where
    the union kernel's do 36."""
    m = tap_matrix(w)                                                 # [kh, kw, C, O]
    outputs = []
    for phase_h in taps_h:
        for phase_w in taps_w:
            lo_h, lo_w = min(d for d, _ in phase_h), min(d for d, _ in phase_w)
            nh, nw = max(d for d, _ in phase_h) - lo_h + 1, max(d for d, _ in phase_w) - lo_w + 1
            kernel = jnp.zeros((nh, nw, *m.shape[2:]), m.dtype)
            for dh, ah in phase_h:
                for dw, aw in phase_w:
                    kernel = kernel.at[dh - lo_h, dw - lo_w].set(m[ah, aw])
            # y[i] = sum_u x[i + lo + u] kernel[u]
            pads = ((-lo_h, out_h + nh - 1 + lo_h - x.shape[1]), (-lo_w, out_w + nw - 1 + lo_w - x.shape[2]))
            outputs.append(lax.conv_general_dilated(x, kernel, (1, 1), pads, dimension_numbers=_DN))
    return outputs


PER_PHASE_MIN_CHANNELS = 8   # below it XLA:CPU's per-phase weight gradients are slower than the union's


def _transpose_conv_bwd(stride, residuals, dy):
    """The gradients of the same linear map as stride-1 convolutions (fast on XLA:CPU): one per
    phase, with less than half the union kernel's work; for few output channels (the decoder's
    image layer) the union kernel's single convolution, whose weight gradient XLA runs better."""
    x, w = residuals
    (sh, sw), (kh, kw) = stride, w.shape[:2]
    h, wd = x.shape[1:3]
    taps_h, taps_w, transpose = _transpose_taps(kh, sh), _transpose_taps(kw, sw), lambda w: w.transpose(0, 1, 3, 2)
    if w.shape[2] < PER_PHASE_MIN_CHANNELS:
        _, vjp = jax.vjp(lambda x, w: _phase_conv(x, w, taps_h, taps_w, h, wd, transpose), x, w)
        return vjp(dy)
    _, vjp = jax.vjp(lambda x, w: _phase_outputs(x, w, taps_h, taps_w, h, wd, transpose), x, w)
    return vjp([dy[:, rh::sh, rw::sw] for rh in range(sh) for rw in range(sw)])


_transpose_conv.defvjp(_transpose_conv_fwd, _transpose_conv_bwd)


def conv2d_transpose_fast(x, w, stride):
    """SAME transposed conv (= lax.conv_transpose(x, w, stride, "SAME", HWOI)), w [kh, kw, O, C]:
    a sub-pixel convolution (one stride-1 conv producing all phases, then depth-to-space);
    forward with per-phase shifted 2x2 kernels, gradients one phase at a time."""
    return _transpose_conv(x, w, _pair(stride))


# -- Haiku modules ----------------------------------------------------------------------------

class _Convolution(hk.Module):
    """Shared constructor of the two layers: hk's arguments plus `impl` (auto / xla / fast)."""

    def __init__(self, output_channels: int, kernel_shape, stride=1, padding: str = "SAME",
                 impl: str = "auto", name: str | None = None):
        super().__init__(name=name)
        if padding != "SAME":
            raise ValueError("only padding SAME is implemented")
        self.output_channels = output_channels
        self.kernel_shape = _pair(kernel_shape)
        self.stride = _pair(stride)
        self.impl = resolve_impl(impl)


class Conv2D(_Convolution):
    """hk.Conv2D (NHWC, padding SAME, with bias) with a selectable implementation."""

    def __call__(self, x: jax.Array) -> jax.Array:
        w_shape = self.kernel_shape + (x.shape[-1], self.output_channels)
        stddev = 1.0 / np.sqrt(np.prod(w_shape[:-1]))
        w = hk.get_parameter("w", w_shape, x.dtype, init=hk.initializers.TruncatedNormal(stddev=stddev))
        if self.impl == "fast":
            out = conv2d_fast(x, w, self.stride)
        else:
            out = lax.conv_general_dilated(x, w, window_strides=self.stride, padding="SAME",
                                           dimension_numbers=_DN)
        b = hk.get_parameter("b", (self.output_channels,), x.dtype, init=jnp.zeros)
        return out + b


class Conv2DTranspose(_Convolution):
    """hk.Conv2DTranspose (NHWC, padding SAME, with bias) with a selectable implementation."""

    def __call__(self, x: jax.Array) -> jax.Array:
        c = x.shape[-1]
        w_shape = self.kernel_shape + (self.output_channels, c)
        stddev = 1.0 / np.sqrt(np.prod(self.kernel_shape + (c,)))
        w = hk.get_parameter("w", w_shape, x.dtype, init=hk.initializers.TruncatedNormal(stddev=stddev))
        if self.impl == "fast":
            out = conv2d_transpose_fast(x, w, self.stride)
        else:
            out = lax.conv_transpose(x, w, strides=self.stride, padding="SAME", dimension_numbers=_DN_T)
        b = hk.get_parameter("b", (self.output_channels,), x.dtype, init=jnp.zeros)
        return out + b


__all__ = ["Conv2D", "Conv2DTranspose", "IMPLS", "conv2d_fast", "conv2d_transpose_fast", "resolve_impl"]
