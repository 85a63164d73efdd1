"""Strided convolution layers that keep hk.Conv2D / hk.Conv2DTranspose's parameters but run
near matmul speed on the CPU.

`Conv2D` and `Conv2DTranspose` create exactly the parameters of the Haiku modules of the same
name (`w` [kh, kw, in, out] resp. [kh, kw, out, in], `b` [out], same initialisers, created in
the same order, so the same key gives the same values) and compute the same function for
padding SAME. Two implementations, chosen by `impl`:

- `"xla"`: `lax.conv_general_dilated` / `lax.conv_transpose`, exactly what Haiku calls.
- `"fast"`: the same linear maps arranged so that XLA:CPU never runs its slow kernels (strided
  convolutions with input dilation, i.e. the transposed convolution and the input gradient of
  a strided convolution, and every weight gradient, which it computes as a convolution
  contracting the batch over a whole-image window):
  * strided conv: the zero-padded input in space-to-depth form (`_windows`), so that every
    stride-s window is n x n neighbours of a stride-1 array; wide inputs take one matmul
    against the shifts' kernel blocks side by side and sum its shifted slices, narrow ones
    (the image) stack their windows (im2col) and take one matmul. The weight gradient reuses
    those windows: one matmul contracting batch and positions (`_window_correlation`). The
    input gradient is a sub-pixel (stride-1) convolution of dy.
  * transposed conv = sub-pixel (phase) decomposition: output pixel s*i + r only sees inputs
    i + d for a few offsets d, with kernel tap a = s*d + pad - r; one stride-1 convolution
    with each phase's taps computes all phases, a depth-to-space puts them in place. With few
    outputs (the image layer) every tap's product comes from one matmul instead. Its gradients
    come from its adjoint, a strided conv of dy with the flipped kernel (above).
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
    gradients slow on XLA:CPU, hence `conv2d_transpose_fast`'s custom VJP.
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


def _contract_positions(a, b):
    """[B, H, W, C], [B, H, W, D] -> [C, D]: sum over batch and positions of a[..., c] b[..., d].

    As a 2-D dot contracting dimension 0 of both, which XLA:CPU's matmul takes as it is; the
    same einsum over 4-D operands makes XLA write `a` transposed first, through a fusion that
    reads it column by column, slower than the product itself (docs/performance.md, "The reported training regression").
    """
    return lax.dot_general(a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1]), (((0,), (0,)), ((), ())))


# A strided convolution of wide inputs as a matmul pays off when its windows are wide enough for
# the matmul to run at full speed: below this, XLA's own kernel is faster (docs/performance.md).
WINDOWS_MATMUL_MIN_CHANNELS = 8


def _num_shifts(kernel, stride) -> tuple[int, int]:
    """(nh, nw), n = ceil(k / s): the neighbours per axis that cover a stride-s window of k taps."""
    (kh, kw), (sh, sw) = kernel, stride
    return -(-kh // sh), -(-kw // sw)


def _shifts(kernel, stride) -> list[tuple[int, int]]:
    """The n x n neighbour offsets that cover a stride-s window of k taps."""
    nh, nw = _num_shifts(kernel, stride)
    return [(dh, dw) for dh in range(nh) for dw in range(nw)]


def _windows(x, kernel, stride, pad_lo, out):
    """x [B, H, W, C] zero-padded by pad_lo in front (and behind, to fit), in space-to-depth form:
    [B, OH + nh - 1, OW + nw - 1, sh*sw*C]. A stride-s window of k taps of the padded x is then
    n x n neighbouring pixels (`_shifts`) of this stride-1 array (taps past k, from rounding k up
    to n*s, see zeros or are dropped)."""
    (sh, sw), (lo_h, lo_w), (oh, ow) = stride, pad_lo, out
    nh, nw = _num_shifts(kernel, stride)
    h, w = x.shape[1:3]
    x = lax.pad(x, jnp.zeros((), x.dtype), [(0, 0, 0), (lo_h, sh * (oh + nh - 1) - lo_h - h, 0),
                                            (lo_w, sw * (ow + nw - 1) - lo_w - w, 0), (0, 0, 0)])
    return _space_to_depth(x, sh, sw)


def _stack_windows(windows, kernel, stride, out):
    """Every window whole, on the output grid (im2col): [B, OH, OW, nh*nw*sh*sw*C], shift-major."""
    oh, ow = out
    return jnp.concatenate([windows[:, dh:dh + oh, dw:dw + ow] for dh, dw in _shifts(kernel, stride)], axis=-1)


def _stacks_windows(in_channels: int, out_channels: int, stride) -> bool:
    """Whether a strided conv stacks its input's windows (`_stack_windows`): when they are narrower
    than its output, so the stack costs less than stacking the output side would."""
    return stride[0] * stride[1] * in_channels < out_channels


def _window_taps(g, kernel, stride):
    """[nh, nw, sh, sw, ...] per (shift, phase) -> [kh, kw, ...] per tap (ah = sh * dh + phase)."""
    (kh, kw), (sh, sw) = kernel, stride
    nh, nw = g.shape[:2]
    return g.transpose(0, 2, 1, 3, *range(4, g.ndim)).reshape(nh * sh, nw * sw, *g.shape[4:])[:kh, :kw]


def _window_correlation(windows, small, kernel, stride, stacked: bool):
    """Every tap's sum of products of a stride-s window with `small`, as one matmul.

    G[ah, aw, cb, cs] = sum over b, i, j of bigp[b, sh*i + ah, sw*j + aw, cb] * small[b, i, j, cs]
    for taps ah < kh, aw < kw, where `windows` holds the zero-padded bigp (`_windows`, or with
    `stacked` its `_stack_windows`) and small is [B, OH, OW, cs]. Returns [kh, kw, cb, cs]. A
    strided convolution's weight gradient is G(x, dy); a transposed convolution's is G(dy, x)
    with its taps flipped.

    XLA:CPU computes these as convolutions that contract the batch over a whole-image window,
    its slowest kind. Here the taps are n x n shifts of the stride-1 `windows`; the shifts of
    whichever side is narrower are stacked along channels, and one matmul contracting batch and
    positions gives every tap (those past k are dropped).
    """
    (sh, sw), shifts, (nh, nw) = stride, _shifts(kernel, stride), _num_shifts(kernel, stride)
    _, oh, ow, cs = small.shape
    if stacked:                # windows: [B, oh, ow, nh*nw*sh*sw*cb]
        g = _contract_positions(windows, small).reshape(nh, nw, sh, sw, -1, cs)
        return _window_taps(g, kernel, stride)
    # stack shifted copies of small, on the windows' grid
    small = jnp.pad(small, ((0, 0), (nh - 1, nh - 1), (nw - 1, nw - 1), (0, 0)))
    small = jnp.concatenate([small[:, nh - 1 - dh:2 * nh - 2 - dh + oh, nw - 1 - dw:2 * nw - 2 - dw + ow]
                             for dh, dw in shifts], axis=-1)
    g = _contract_positions(windows, small).reshape(sh, sw, -1, nh, nw, cs)
    return _window_taps(g.transpose(3, 4, 0, 1, 2, 5), kernel, stride)


def _shift_kernels(w, stride):
    """w [kh, kw, C, O] -> [nh, nw, sh*sw*C, O]: the kernel block each shift of `_windows` meets
    (zeros for taps past k)."""
    (sh, sw), (kh, kw, c, o), (nh, nw) = stride, w.shape, _num_shifts(w.shape[:2], stride)
    w = jnp.pad(w, ((0, nh * sh - kh), (0, nw * sw - kw), (0, 0), (0, 0)))
    return w.reshape(nh, sh, nw, sw, c, o).transpose(0, 2, 1, 3, 4, 5).reshape(nh, nw, sh * sw * c, o)


def _windows_matmul(windows, w, stride, out):
    """The strided convolution y[b, i, j] = sum over taps of bigp[b, s*i + a] @ w[a] from
    `windows` (`_windows`) and w [kh, kw, C, O]: one matmul against the n x n shifts' kernel
    blocks side by side ([sh*sw*C, nh*nw*O]), then the sum of its n x n shifted slices.
    Returns [B, OH, OW, O]. The matmul writes n*n outputs per pixel, but runs near this CPU's
    matmul speed where XLA's strided convolution does not (docs/performance.md)."""
    (oh, ow), shifts = out, _shifts(w.shape[:2], stride)
    blocks = _shift_kernels(w, stride)                                  # [nh, nw, sh*sw*C, O]
    nh, nw, k, o = blocks.shape
    products = _dot(windows, blocks.transpose(2, 0, 1, 3).reshape(k, nh * nw * o))
    products = products.reshape(*windows.shape[:3], nh, nw, o)
    return sum(products[:, dh:dh + oh, dw:dw + ow, dh, dw] for dh, dw in shifts)


def _strided_product(big, w, stride, pads, out):
    """The strided convolution of big [B, H, W, C] (zero-padded by pads) with w [kh, kw, C, O]:
    (y [B, OH, OW, O], the windows its weight gradient needs, in the form it computed them).

    Three forms, by width: narrow inputs (the image) stack their windows (im2col) and take one
    matmul, the stack kept for the weight gradient; wide ones take `_windows_matmul`; the few
    in between (fewer than WINDOWS_MATMUL_MIN_CHANNELS, wider than the output) XLA's kernel.
    """
    kernel, (c, o) = w.shape[:2], w.shape[2:]
    windows = _windows(big, kernel, stride, (pads[0][0], pads[1][0]), out)
    if _stacks_windows(c, o, stride):
        windows = _stack_windows(windows, kernel, stride, out)
        return _dot(windows, _shift_kernels(w, stride).reshape(-1, o)), windows
    if c >= WINDOWS_MATMUL_MIN_CHANNELS:
        return _windows_matmul(windows, w, stride, out), windows
    return lax.conv_general_dilated(big, w, stride, pads, dimension_numbers=_DN), windows


@partial(jax.custom_vjp, nondiff_argnums=(2,))
def _strided_conv(x, w, stride):
    return _strided_conv_fwd(x, w, stride)[0]


def _strided_conv_fwd(x, w, stride):
    (kh, kw), (sh, sw) = w.shape[:2], stride
    oh, ph_lo, ph_hi = _same_pads(x.shape[1], kh, sh)
    ow, pw_lo, pw_hi = _same_pads(x.shape[2], kw, sw)
    y, windows = _strided_product(x, w, stride, ((ph_lo, ph_hi), (pw_lo, pw_hi)), (oh, ow))
    # x's own size, for cropping dx, rides along as a zero-size array (residuals must be arrays).
    return y, (windows, w, jnp.zeros((0, *x.shape[1:3]), x.dtype))


def _strided_conv_bwd(stride, residuals, dy):
    """dx as a sub-pixel (stride-1) convolution of dy; dw as one matmul (`_window_correlation`)."""
    windows, w, size = residuals
    (sh, sw), (kh, kw), (h, wd) = stride, w.shape[:2], size.shape[1:]
    oh, ph_lo, _ = _same_pads(h, kh, sh)
    ow, pw_lo, _ = _same_pads(wd, kw, sw)
    dh, dw_ = _num_shifts((kh, kw), stride)
    taps_h, taps_w = _conv_adjoint_taps(kh, sh, dh), _conv_adjoint_taps(kw, sw, dw_)
    # Gradient w.r.t. the zero-padded input [B, sh*(oh+dh-1), sw*(ow+dw-1), C], then cropped.
    dxp = _phase_conv(dy, w, taps_h, taps_w, oh + dh - 1, ow + dw_ - 1, lambda w: w.transpose(0, 1, 3, 2))
    dx = dxp[:, ph_lo:ph_lo + h, pw_lo:pw_lo + wd]
    stacked = _stacks_windows(w.shape[2], w.shape[3], stride)
    return dx, _window_correlation(windows, dy, (kh, kw), stride, stacked)


_strided_conv.defvjp(_strided_conv_fwd, _strided_conv_bwd)


def _check_kernel_covers_stride(w, stride, what: str):
    """The sub-pixel forms give every phase at least one tap; with kernel < stride some phases
    have none (lax's own convolutions handle that case), so refuse it in one line."""
    if any(k < s for k, s in zip(w.shape[:2], stride)):
        raise ValueError(f"the fast {what} needs kernel >= stride, got kernel {tuple(w.shape[:2])} "
                         f"and stride {tuple(stride)}; use conv_impl='xla'")


def conv2d_fast(x, w, stride):
    """SAME-padded conv of x [B, H, W, C] with w [kh, kw, C, O] (= lax.conv_general_dilated).

    Non-overlapping windows (kernel == stride, no padding needed): space-to-depth and one
    matmul. Otherwise `_strided_product` with a custom VJP whose weight gradient reuses its
    windows and whose input gradient is a sub-pixel convolution instead of XLA's slow
    input-dilated one.
    """
    (sh, sw), (kh, kw) = _pair(stride), w.shape[:2]
    b, h, wd, c = x.shape
    if (kh, kw) == (sh, sw) and h % sh == 0 and wd % sw == 0:
        o = w.shape[-1]
        return _dot(_space_to_depth(x, sh, sw), w.reshape(kh * kw * c, o))
    _check_kernel_covers_stride(w, (sh, sw), "strided convolution")
    return _strided_conv(x, w, (sh, sw))


def _transpose_pad(k: int, s: int) -> int:
    """The zeros lax.conv_transpose (padding SAME) puts before the s-dilated input."""
    return k - 1 if s > k - 1 else int(np.ceil((k + s - 2) / 2))


def _transpose_taps(k: int, s: int):
    """Per phase r: the (offset d, kernel tap a) pairs of a SAME transposed conv (lax's padding).

    lax.conv_transpose zero-dilates x by s, pads by pad_a before and correlates with w, so
    output o = s*i + r sums x[i + d] w[a] over the taps with a = s*d + pad_a - r, 0 <= a < k.
    """
    pad_a = _transpose_pad(k, s)
    return [[((r + a - pad_a) // s, a) for a in range(k) if (r + a - pad_a) % s == 0] for r in range(s)]


def _tap_products_transpose(x, w, taps_h, taps_w):
    """A transposed conv with few outputs per pixel (the image layer): every tap's product
    x [B, H, W, C] @ w[a] [C, O] in one matmul ([B, H, W, kh, kw, O], no wider than x when
    kh*kw*O <= C), then each phase's output sums its taps' products at their offsets, zero
    outside. XLA's convolution with s*s*O output channels runs far below matmul speed there."""
    b, h, wd, c = x.shape
    kh, kw, o = w.shape[:3]
    products = _dot(x, w.transpose(3, 0, 1, 2).reshape(c, kh * kw * o)).reshape(b, h, wd, kh, kw, o)
    offsets_h = [d for phase in taps_h for d, _ in phase]
    offsets_w = [d for phase in taps_w for d, _ in phase]
    lo_h, lo_w = max(-min(offsets_h), 0), max(-min(offsets_w), 0)
    products = jnp.pad(products, ((0, 0), (lo_h, max(max(offsets_h), 0)), (lo_w, max(max(offsets_w), 0)),
                                  (0, 0), (0, 0), (0, 0)))
    phases = [[sum(products[:, lo_h + dh:lo_h + dh + h, lo_w + dw:lo_w + dw + wd, ah, aw]
                   for dh, ah in phase_h for dw, aw in phase_w) for phase_w in taps_w] for phase_h in taps_h]
    phases = jnp.stack([jnp.stack(row, axis=3) for row in phases], axis=2)  # [B, H, sh, W, sw, O]
    return phases.reshape(b, h * len(taps_h), wd * len(taps_w), o)


@partial(jax.custom_vjp, nondiff_argnums=(2,))
def _transpose_conv(x, w, stride):
    (sh, sw), (kh, kw, o, c) = stride, w.shape
    h, wd = x.shape[1:3]
    taps_h, taps_w = _transpose_taps(kh, sh), _transpose_taps(kw, sw)
    if kh * kw * o <= c:
        return _tap_products_transpose(x, w, taps_h, taps_w)
    return _phase_conv(x, w, taps_h, taps_w, h, wd, lambda w: w.transpose(0, 1, 3, 2), shift_phases=True)


def _transpose_conv_fwd(x, w, stride):
    return _transpose_conv(x, w, stride), (x, w)


def _transpose_conv_bwd(stride, residuals, dy):
    """The transposed conv is the adjoint of a strided conv with the flipped kernel: output o
    sums x[i] w[a] over o = s*i + pad_a - a, i.e. over taps a' = k-1-a of dy padded by
    k-1-pad_a in front. So dx is that strided conv of dy (`_strided_product`), and dw is its
    weight gradient with the roles of x and dy swapped, flipped back: both from one set of
    windows of dy."""
    x, w = residuals
    (sh, sw), (kh, kw) = stride, w.shape[:2]
    lo_h, lo_w = kh - 1 - _transpose_pad(kh, sh), kw - 1 - _transpose_pad(kw, sw)
    flipped = w[::-1, ::-1]                                           # [kh, kw, O, C] as HWIO
    pads = ((lo_h, kh - sh - lo_h), (lo_w, kw - sw - lo_w))
    dx, windows = _strided_product(dy, flipped, stride, pads, x.shape[1:3])
    stacked = _stacks_windows(flipped.shape[2], flipped.shape[3], stride)
    dw = _window_correlation(windows, x, (kh, kw), stride, stacked)[::-1, ::-1]
    return dx, dw


_transpose_conv.defvjp(_transpose_conv_fwd, _transpose_conv_bwd)


def conv2d_transpose_fast(x, w, stride):
    """SAME transposed conv (= lax.conv_transpose(x, w, stride, "SAME", HWOI)), w [kh, kw, O, C]:
    a sub-pixel convolution (one stride-1 conv producing all phases, then depth-to-space)
    with per-phase shifted 2x2 kernels; gradients through its adjoint, a strided conv."""
    stride = _pair(stride)
    _check_kernel_covers_stride(w, stride, "transposed convolution")
    return _transpose_conv(x, w, stride)


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
