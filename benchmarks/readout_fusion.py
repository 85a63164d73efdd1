"""Read-out rate of every model with and without the CPU compile options of
`models/representation.py` (docs/performance.md, "The Gaussian read-out").

    python benchmarks/readout_fusion.py CHECKPOINT.pkl [CHECKPOINT.pkl ...]

Rounds alternate between all (checkpoint, variant) pairs, so load on a shared machine hits
all alike; the median images/s over the rounds is printed, and whether both variants give
bit-for-bit the same representation.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from checkpoints.restore import load_model  # noqa: E402
from models import representation  # noqa: E402


def main(paths: list[str], rounds: int = 3, images: int = 8192) -> int:
    functions, datasets = {}, {}
    for path in paths:
        _, _, data, model, params, state, _ = load_model(path, datasets=datasets)
        for variant, options in (("default", {}), ("fused", representation.CPU_COMPILER_OPTIONS)):
            representation.CPU_COMPILER_OPTIONS, saved = options, representation.CPU_COMPILER_OPTIONS
            functions[Path(path).name, variant] = representation.make_representation_function(model, params, state)
            representation.CPU_COMPILER_OPTIONS = saved
    observations = next(iter(datasets.values())).sample_observations(images, np.random.RandomState(0))
    outputs = {key: f(observations[:2048]) for key, f in functions.items()}
    rates = {key: [] for key in functions}
    for _ in range(rounds):
        for key, f in functions.items():
            start = time.perf_counter()
            f(observations)
            rates[key].append(images / (time.perf_counter() - start))
    for path in paths:
        name = Path(path).name
        default, fused = (float(np.median(rates[name, v])) for v in ("default", "fused"))
        same = np.array_equal(outputs[name, "default"], outputs[name, "fused"])
        print(f"{name:50s} default {default:7,.0f}  fused {fused:7,.0f} images/s  (x{fused / default:.2f}; "
              f"identical: {same})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
