"""TensorFlow's antialiased bicubic resize, as the QLAE code calls it, on small fixed images.

The QLAE code (latent_quantization at 9a420a3, disentangle/datasets/isaac3d/isaac3d.py and
falcor3d/falcor3d.py) prepares each 128 x 128 uint8 image with

    x = tf.image.resize(x, [64, 64], method='bicubic', antialias=True)
    x = x / 255.
    x = tf.clip_by_value(x, 0., 1.)

Independent of the project (imports numpy and TensorFlow only); it runs in a side environment:

    python3 -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install tensorflow-cpu
    /tmp/tfenv/bin/python tests/reference/tf_resize_reference.py

It rewrites `tests/reference/tf_resize.json` (next to this file): for each case the input's
recipe (rebuilt by `make_image`, a legacy RandomState stream, identical in every numpy version),
the output size and TensorFlow's float32 result, each value written as the shortest decimal
that reads back as the same float32. tests/data/test_tf_resize.py compares
`data.tf_resize.resize_bicubic_antialias` with it. For the QLAE-shaped case the script also
checks, bit for bit, that the observation TensorFlow computes from there (x / 255, clipped)
equals numpy's float32 `clip(result / float32(255), 0, 1)`, so the JSON need not store it.
"""
import json
import sys
from pathlib import Path

import numpy as np

# name, (height, width, channels) of the input, pattern, output (height, width)
CASES = [
    ("qlae_128_to_64", (128, 128, 3), "scene", (64, 64)),
    ("checker_128_to_64", (128, 128, 1), "checker", (64, 64)),
    ("odd_30x22_to_13x9", (30, 22, 2), "scene", (13, 9)),
    ("up_7x9_to_16x20", (7, 9, 1), "scene", (16, 20)),
]


def make_image(shape, pattern, seed=0):
    """uint8 [height, width, channels]. "scene": smooth ramps, noise, a saturated block and a
    one-pixel line (hard edges make bicubic overshoot below 0 and above 255); "checker":
    0/255 squares of 3 pixels."""
    height, width, channels = shape
    yy, xx = np.mgrid[0:height, 0:width]
    if pattern == "checker":
        board = ((yy // 3 + xx // 3) % 2) * 255
        return np.repeat(board[..., None], channels, -1).astype(np.uint8)
    rs = np.random.RandomState(seed + 1000 * height + 10 * width + channels)
    ramps = [xx * 255 // width, yy * 255 // height, (xx + yy) * 255 // (width + height)]
    image = np.stack([ramps[c % 3] for c in range(channels)], -1)
    image = image + rs.randint(-40, 41, size=image.shape)
    image[height // 3:height // 2, width // 4:width // 2] = 255
    image[:, width * 2 // 3] = 0
    return np.clip(image, 0, 255).astype(np.uint8)


def shortest(values) -> list:
    """float32 values -> floats whose repr is the shortest decimal that reads back as them."""
    return [float(np.format_float_positional(v, unique=True, trim="-"))
            for v in np.asarray(values, np.float32).ravel()]


def main():
    try:
        import tensorflow as tf
    except ImportError:
        sys.exit("run this with TensorFlow installed; see the docstring")
    tf.config.set_visible_devices([], "GPU")
    out = {"versions": {"tensorflow": tf.__version__, "numpy": np.__version__},
           "call": "tf.image.resize(x, size, method='bicubic', antialias=True) on a uint8 [H, W, C] tensor",
           "cases": []}
    for name, shape, pattern, size in CASES:
        image = make_image(shape, pattern)
        resized = tf.image.resize(tf.constant(image), list(size), method="bicubic", antialias=True)
        if resized.dtype != tf.float32:
            sys.exit(f"{name}: TensorFlow returned {resized.dtype}, expected float32")
        result = resized.numpy()
        case = {"name": name, "shape": list(shape), "pattern": pattern, "size": list(size),
                "min": float(result.min()), "max": float(result.max()),
                "result": shortest(result)}
        if name.startswith("qlae"):
            observation = tf.clip_by_value(resized / 255., 0., 1.).numpy()
            ours = np.clip(result / np.float32(255), np.float32(0), np.float32(1))
            if observation.dtype != np.float32 or not np.array_equal(observation, ours):
                sys.exit(f"{name}: TensorFlow's x / 255 clipped differs from numpy's float32")
            case["observation_is_clip_of_result_over_255"] = True
        out["cases"].append(case)
    path = Path(__file__).with_name("tf_resize.json")
    path.write_text(json.dumps(out) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
