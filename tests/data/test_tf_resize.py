"""data.tf_resize against TensorFlow's own output (tests/reference/tf_resize.json, written by
tests/reference/tf_resize_reference.py with TensorFlow 2.21) and against hand-derived values."""
import json

import numpy as np
import pytest

from data.tf_resize import keys_cubic, resize_bicubic_antialias, resize_taps
from tests import REFERENCE_DIR
from tests.reference.tf_resize_reference import make_image

REFERENCE = json.loads((REFERENCE_DIR / "tf_resize.json").read_text())
CASES = {case["name"]: case for case in REFERENCE["cases"]}


@pytest.mark.parametrize("name", list(CASES))
def test_identical_to_tensorflow_to_the_last_bit(name):
    """128 -> 64 (the QLAE call, RGB and a 0/255 checkerboard), a non-integer shrink and an
    enlargement: every float32 value equal, sign bits included."""
    case = CASES[name]
    image = make_image(tuple(case["shape"]), case["pattern"])
    ours = resize_bicubic_antialias(image[None], case["size"])[0]
    theirs = np.asarray(case["result"], np.float32).reshape(ours.shape)
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours.view(np.uint32), theirs.view(np.uint32))
    assert ours.min() == np.float32(case["min"]) and ours.max() == np.float32(case["max"])


def test_overshoot_is_kept_and_the_qlae_observation_clips_it():
    """Bicubic overshoots at hard edges (TensorFlow: below 0 and above 255 on these inputs); the
    QLAE code keeps the float, divides by 255 and clips to [0, 1] (the reference script checked
    that numpy's float32 `clip(x / 255, 0, 1)` is TensorFlow's, bit for bit)."""
    case = CASES["qlae_128_to_64"]
    assert case["observation_is_clip_of_result_over_255"]
    assert case["min"] < 0 and case["max"] > 255
    checker = CASES["checker_128_to_64"]
    assert checker["min"] < -20 and checker["max"] > 260


def test_keys_kernel_values():
    """Keys' cubic with a = -0.5 at quarter steps, worked out by hand; 1 at 0, 0 at 1 and 2."""
    t = np.array([0, 0.25, 0.75, 1, 1.25, 1.75, 2, 2.5], np.float32)
    want = [1, 0.8671875, 0.2265625, 0, -0.0703125, -0.0234375, 0, 0]
    np.testing.assert_array_equal(keys_cubic(t), np.float32(want))
    np.testing.assert_array_equal(keys_cubic(-t), keys_cubic(t))              # symmetric


def test_weights_of_the_2x_shrink():
    """128 -> 64: kernel stretched by 2, so 8 taps at offsets +-0.25, 0.75, 1.25, 1.75 (in kernel
    units) whose Keys values sum to 2: the weights are those values halved, exactly. At the
    border the taps beyond the image are dropped and the rest renormalised."""
    sources, weights = resize_taps(128, 64)
    assert sources.shape == weights.shape == (64, 8)
    interior = np.float32([-0.0234375, -0.0703125, 0.2265625, 0.8671875,
                           0.8671875, 0.2265625, -0.0703125, -0.0234375]) / np.float32(2)
    for x in range(2, 62):
        np.testing.assert_array_equal(sources[x], np.arange(2 * x - 3, 2 * x + 5))
        np.testing.assert_array_equal(weights[x], interior)
    first = np.float32([0.8671875, 0.8671875, 0.2265625, -0.0703125, -0.0234375])
    np.testing.assert_allclose(weights[0, :5], first / first.sum(), rtol=1e-6)
    np.testing.assert_array_equal(weights[0, 5:], 0)                          # padding
    np.testing.assert_array_equal(sources[0, :5], np.arange(5))
    np.testing.assert_array_equal(weights[63, :5], weights[0, :5][::-1])      # mirror image
    np.testing.assert_allclose(weights.sum(1), 1, rtol=1e-6)


def test_constant_ramp_and_mirror():
    rs = np.random.RandomState(0)
    constant = np.full((2, 128, 128, 3), 173, np.uint8)
    np.testing.assert_allclose(resize_bicubic_antialias(constant, (64, 64)), 173, rtol=1e-6)
    # A linear ramp is reproduced where the taps are not cut by the border: output pixel x sits
    # at input coordinate 2x + 0.5 (half-pixel centres), i.e. ramp value 2x + 0.5.
    ramp = np.broadcast_to(np.arange(128, dtype=np.float32)[None, None, :, None], (1, 128, 128, 1))
    out = resize_bicubic_antialias(ramp, (64, 64))[0, :, :, 0]
    np.testing.assert_allclose(out[:, 2:62], np.broadcast_to(2 * np.arange(2, 62) + 0.5, (64, 60)),
                               atol=1e-4)
    np.testing.assert_allclose(out, np.broadcast_to(out[:1], out.shape), atol=1e-5)  # rows equal
    # The kernel is symmetric and the centres are half-pixel: a mirrored input gives the
    # mirrored output (up to float32 summation order).
    images = rs.randint(0, 256, (3, 128, 128, 3)).astype(np.uint8)
    out = resize_bicubic_antialias(images, (64, 64))
    flipped = resize_bicubic_antialias(images[:, ::-1, ::-1], (64, 64))
    np.testing.assert_allclose(flipped, out[:, ::-1, ::-1], atol=2e-4)


def test_batch_is_per_image():
    images = np.stack([make_image((128, 128, 3), "scene", seed) for seed in range(3)])
    together = resize_bicubic_antialias(images, (64, 64))
    for i in range(3):
        np.testing.assert_array_equal(together[i], resize_bicubic_antialias(images[i:i + 1], (64, 64))[0])
    with pytest.raises(ValueError, match=r"\[n, H, W, C\]"):
        resize_bicubic_antialias(images[0], (64, 64))
