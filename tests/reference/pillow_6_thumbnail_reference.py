"""Pillow 6's `Image.thumbnail` (disentanglement_lib's era) on small lossless images.

Independent of the project (imports numpy and Pillow only). Pillow 6.2.2 has wheels only up
to Python 3.8, so it runs in a side environment:

    python3.7 -m venv /work/pil6
    /work/pil6/bin/pip install pillow==6.2.2 numpy==1.21.6
    /work/pil6/bin/python tests/reference/pillow_6_thumbnail_reference.py

It rewrites `tests/reference/pillow_6_thumbnail.json` (next to this file), which
tests/data/test_dsprites.py compares `data.dsprites._thumbnail_like_pillow6` with, exactly.
The inputs are RGB images from `make_image` (a legacy RandomState stream, identical in every
numpy version), passed as lossless in-memory images, so JPEG decoding plays no part.
"""
import json
import sys
from pathlib import Path

import numpy as np

# (width, height) of the input, box
CASES = [((90, 70), (40, 30)), ((70, 90), (40, 30)), ((64, 64), (50, 50)),
         ((120, 45), (35, 274))]


def make_image(width, height, seed=0):
    """uint8 [height, width, 3]: smooth ramps plus noise and a hard-edged block."""
    rs = np.random.RandomState(seed + width * 1000 + height)
    yy, xx = np.mgrid[0:height, 0:width]
    rgb = np.stack([xx * 255 // width, yy * 255 // height, (xx + yy) * 255 // (width + height)], -1)
    rgb = rgb + rs.randint(-20, 21, size=rgb.shape)
    rgb[height // 3:height // 2, width // 4:width // 2] = [250, 10, 30]
    return np.clip(rgb, 0, 255).astype(np.uint8)


def main():
    import PIL
    from PIL import Image
    if PIL.__version__ != "6.2.2":
        sys.exit(f"run this with Pillow 6.2.2 (found {PIL.__version__}); see the docstring")
    out = {"versions": {"pillow": PIL.__version__, "numpy": np.__version__}, "cases": []}
    for (width, height), box in CASES:
        image = Image.fromarray(make_image(width, height))
        image.thumbnail(box)
        out["cases"].append({"size": [width, height], "box": list(box),
                             "result": np.asarray(image).tolist()})
    path = Path(__file__).with_name("pillow_6_thumbnail.json")
    path.write_text(json.dumps(out) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
