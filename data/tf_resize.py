"""TensorFlow's `tf.image.resize(images, size, method="bicubic", antialias=True)` in numpy.

The QLAE code (latent_quantization at 9a420a3, `disentangle/datasets/{isaac3d,falcor3d}`)
shrinks the 128 x 128 Isaac3D and Falcor3D images to 64 x 64 with that call and keeps the float
result (`x / 255`, clipped to [0, 1]). With `antialias=True` TensorFlow does not run its
`resize_bicubic` kernel but `scale_and_translate` with the "keyscubic" kernel, scale
out / in (as float32) and no translation. The arithmetic, written out here in float32 in the
same order, so that the result is TensorFlow's to the last bit (tests/data/test_tf_resize.py
against tests/reference/tf_resize.json, made by TensorFlow 2.21):

- Keys' cubic convolution kernel with a = -0.5 (Catmull-Rom): ((1.5 t - 2.5) t) t + 1 for
  t = |x| < 1, ((-0.5 t + 2.5) t - 4) t + 2 for 1 <= t < 2, 0 beyond.
- Half-pixel centres: output pixel x samples the input at c = (x + 0.5) * (1 / scale).
- Antialiasing: when shrinking, the kernel is stretched by kernel_scale = 1 / scale, so its
  support grows from 2 to 2 / scale input pixels on each side (4 for the 2x shrink: 8 taps);
  enlarging keeps kernel_scale 1.
- Taps: input pixels s from ceil(c - radius - 0.5) to floor(c + radius - 0.5), clamped to the
  image (taps beyond the border are dropped, no padding), each weighted
  k(|s + 0.5 - c| * (1 / kernel_scale)); the weights are summed in order and multiplied by the
  reciprocal of their sum.
- Separable, rows (height) first, then columns; each output value accumulates
  `acc = acc + w * x` tap by tap in float32, without fused multiply-add.

Nothing is rounded or clipped: bicubic overshoots, so values run a little below 0 and above 255
at hard edges, as in TensorFlow.
"""
from __future__ import annotations

import math

import numpy as np

F32 = np.float32


def keys_cubic(t) -> np.ndarray:
    """float32 Keys cubic kernel (a = -0.5) at `t`, evaluated as TensorFlow's "keyscubic" does."""
    t = np.abs(np.asarray(t, F32))
    inner = ((F32(1.5) * t - F32(2.5)) * t) * t + F32(1.0)
    outer = ((F32(-0.5) * t + F32(2.5)) * t - F32(4.0)) * t + F32(2.0)
    return np.where(t >= F32(2.0), F32(0.0), np.where(t >= F32(1.0), outer, inner)).astype(F32)


def resize_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(sources int64 [out, span], weights float32 [out, span]) of the antialiased resize.

    Row x lists the input pixels that output pixel x reads, in summation order, and their
    normalised weights; spans shorter than the longest are padded with weight 0 (on a valid
    pixel), which leaves every sum unchanged.
    """
    if in_size < 1 or out_size < 1:
        raise ValueError(f"sizes must be positive, got {in_size} -> {out_size}")
    scale = F32(out_size) / F32(in_size)
    inv_scale = F32(1.0 / float(scale))
    kernel_scale = max(inv_scale, F32(1.0))
    radius = F32(2.0) * kernel_scale
    inv_kernel_scale = F32(1.0) / kernel_scale
    spans = []
    for x in range(out_size):
        centre = (F32(x) + F32(0.5)) * inv_scale
        start = math.ceil(float((centre - radius) - F32(0.5)))
        end = math.floor(float((centre + radius) - F32(0.5)))
        start = min(max(start, 0), in_size - 1)
        end = min(max(end, 0), in_size - 1) + 1
        sources = np.arange(start, end)
        taps = keys_cubic(((sources.astype(F32) + F32(0.5)) - centre) * inv_kernel_scale)
        total = F32(0.0)
        for tap in taps:
            total = F32(total + tap)
        weights = taps * (F32(1.0) / total) if total != 0 else np.zeros_like(taps)
        spans.append((sources, weights.astype(F32)))
    width = max(len(s) for s, _ in spans)
    sources = np.zeros((out_size, width), np.int64)
    weights = np.zeros((out_size, width), F32)
    for x, (src, w) in enumerate(spans):
        sources[x] = np.concatenate([src, np.full(width - len(src), src[-1])])
        weights[x, :len(w)] = w
    return sources, weights


def _along(x: np.ndarray, axis: int, sources: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """float32: `x` resized along `axis` (1 or 2 of [n, H, W, C]), taps accumulated in order."""
    shape = [1, 1, 1, 1]
    shape[axis] = weights.shape[0]
    out_shape = list(x.shape)
    out_shape[axis] = weights.shape[0]
    out = np.zeros(out_shape, F32)             # TensorFlow's accumulators start at +0
    term = np.empty(out_shape, F32)
    for k in range(weights.shape[1]):
        np.take(x, sources[:, k], axis=axis, out=term)
        term *= weights[:, k].reshape(shape)
        out += term
    return out


def resize_bicubic_antialias(images: np.ndarray, size) -> np.ndarray:
    """float32 [n, out_h, out_w, C] of images [n, H, W, C] (uint8 or float32); `size` (out_h, out_w).

    TensorFlow's `tf.image.resize(images, size, method="bicubic", antialias=True)`, bit for bit
    (module docstring).
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be [n, H, W, C], got shape {list(images.shape)}")
    _, height, width, _ = images.shape
    out_h, out_w = (int(s) for s in size)
    x = images.astype(F32)
    x = _along(x, 1, *resize_taps(height, out_h))
    return _along(x, 2, *resize_taps(width, out_w))
