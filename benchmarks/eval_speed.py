"""Time eval.py's full protocol (six metrics + straight-through gap) on real checkpoints.

    XDG_CACHE_HOME=/tmp/lddrcache python benchmarks/eval_speed.py            # all four models
    python benchmarks/eval_speed.py --models vae,dvae --train_steps 300 --no_gap
    python benchmarks/eval_speed.py --save_file X.pkl [--save_file Y.pkl]    # given checkpoints
    ... --metrics mig,factor_vae --no_cache                                  # the plain path
    ... --readout_only                                                      # read-out rates only

Without --save_file it trains a short checkpoint of each of --models (default: vae, dvae,
factor_vae, factor_dvae) on the built-in data set. It prints, for each checkpoint, the read-out
rate (images/s of the jitted encoder at batch 1,024; rounds alternate between the models, the
median is reported, so load on a shared machine hits all alike) and then the time of each
metric, the index cache's encoding work and the total, with each model's total as a ratio to
the first one's. With --compare it also runs the other path (cache vs plain) and reports
whether every number is identical (DCI's default presorted booster is deterministic).
Nothing is written next to the checkpoints.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import configs
from checkpoints.restore import load_model  # noqa: E402
from data import get_dataset
from evaluation.allocator import keep_freed_memory
from evaluation.evaluate import EvalOptions, evaluate_checkpoint, format_table  # noqa: E402
from evaluation.protocol import parse_metrics  # noqa: E402
from models.registry import REGISTRY
from models.representation import make_representation_function
from training.loop import train

# Every model of the registry; the TC models at the gamma of the authors' README.
MODELS = {name: spec.config_fields(gamma=30.0) for name, spec in REGISTRY.items()}


def train_checkpoints(names: list[str], steps: int, dataset: str) -> list[Path]:
    folder = tempfile.mkdtemp(prefix="lddr_eval_speed_")
    data = get_dataset(dataset)
    paths = []
    for name in names:
        config = configs.Config(dataset=dataset, steps=steps, eval_every=0, save_every=0,
                                log_every=max(steps // 3, 1), save_path=folder, **MODELS[name])
        start = time.perf_counter()
        train(config, data=data, progress=False, log=lambda *_: None)
        paths.append(config.checkpoint_path())
        print(f"trained {name} ({steps} steps) in {time.perf_counter() - start:.0f} s -> {paths[-1]}")
    return paths


def readout_rates(paths: list[Path], rounds: int = 3, images: int = 8192) -> dict:
    """{path: median images/s} of `make_representation_function`, rounds alternating paths."""
    functions, datasets = {}, {}
    for path in paths:
        _, _, data, model, params, state, _ = load_model(path, datasets=datasets)
        functions[path] = make_representation_function(model, params, state)
    first = datasets[next(iter(datasets))]
    observations = first.sample_observations(images, np.random.RandomState(0)).astype(np.float32)
    for represent in functions.values():
        represent(observations[:1024])                                     # compiled already; warm
    rates = {path: [] for path in paths}
    for _ in range(rounds):
        for path, represent in functions.items():
            start = time.perf_counter()
            represent(observations)
            rates[path].append(images / (time.perf_counter() - start))
    return {path: float(np.median(v)) for path, v in rates.items()}


def main(argv=None) -> int:
    keep_freed_memory()   # as eval.py does
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--save_file", action="append", help="checkpoint to evaluate (repeatable; default: train)")
    parser.add_argument("--models", default=",".join(MODELS), help="models to train when no --save_file")
    parser.add_argument("--train_steps", type=int, default=300, help="steps of the checkpoints trained")
    parser.add_argument("--dataset", default="dsprites_procedural")
    parser.add_argument("--metrics", default=None, help="subset, as eval.py --metrics")
    parser.add_argument("--no_gap", action="store_true", help="leave out the straight-through gap")
    parser.add_argument("--readout_only", action="store_true", help="only the read-out rates")
    parser.add_argument("--no_cache", action="store_true")
    parser.add_argument("--compare", action="store_true", help="also run the other path and compare the numbers")
    parser.add_argument("--settings", default=None, help="as eval.py --settings")
    args = parser.parse_args(argv)

    paths = [Path(p) for p in args.save_file] if args.save_file else \
        train_checkpoints(args.models.split(","), args.train_steps, args.dataset)
    print(f"cpu cores: {os.cpu_count()}")
    rates = readout_rates(paths)
    for path, rate in rates.items():
        print(f"read-out {path.name}: {rate:,.0f} images/s (x{rate / rates[paths[0]]:.2f})")
    if args.readout_only:
        return 0

    names = parse_metrics(args.metrics)
    if args.no_gap:
        names = [n for n in names if n != "st_gap"]
    settings = json.loads(args.settings) if args.settings else {}
    print(f"metrics: {','.join(names)}; {'plain path' if args.no_cache else 'index cache (where the data set allows)'}")
    totals, same = {}, True
    for path in paths:
        runs = [not args.no_cache] + ([args.no_cache] if args.compare else [])
        results = []
        for use_cache in runs:
            result = evaluate_checkpoint(
                path,
                EvalOptions(metrics=names, settings=settings or None, progress=False, use_cache=use_cache, write=False),
                log=lambda *a: None,
            )
            results.append(result)
            print(f"== {path.name}\n" + format_table(result))
            print("times (s): " + ", ".join(f"{k} {v:.1f}" for k, v in result["times"].items()))
        totals[path] = results[0]["times"]["total"]
        if args.compare:
            same &= _report_differences(results[0]["results"], results[1]["results"])
    for path, total in totals.items():
        print(f"total {path.name}: {total:.1f} s (x{total / totals[paths[0]]:.2f})")
    return 0 if same else 1


def _report_differences(a: dict, b: dict) -> bool:
    same = a == b
    print("identical numbers (cache vs plain):", same)
    for key in a:
        if a[key] != b.get(key):
            print(f"  {key}: {a[key]} vs {b.get(key)}")
    return same


if __name__ == "__main__":
    sys.exit(main())
