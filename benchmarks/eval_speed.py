"""Time eval.py's full protocol (six metrics + straight-through gap) on a real checkpoint.

    XDG_CACHE_HOME=/tmp/lddrcache PYTHONPATH=. python benchmarks/eval_speed.py --save_file X.pkl
    PYTHONPATH=. python benchmarks/eval_speed.py --train_steps 300     # trains one first
    ... --metrics mig,factor_vae --no_cache                            # the plain path

Prints the time of each metric, the index cache's encoding work and the total; with
--compare it also runs the other path (cache vs plain) and reports whether every number is
identical (DCI's default presorted booster is deterministic).
Nothing is written next to the checkpoint.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import eval as ev  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--save_file", help="checkpoint to evaluate (default: train one)")
    parser.add_argument("--train_steps", type=int, default=300, help="steps of the checkpoint trained when no --save_file")
    parser.add_argument("--dataset", default="dsprites_procedural")
    parser.add_argument("--metrics", default=None, help="subset, as eval.py --metrics")
    parser.add_argument("--no_cache", action="store_true")
    parser.add_argument("--compare", action="store_true", help="also run the other path and compare the numbers")
    parser.add_argument("--settings", default=None, help="as eval.py --settings")
    args = parser.parse_args(argv)

    path = args.save_file
    if path is None:
        import configs
        from training.loop import train
        folder = tempfile.mkdtemp(prefix="lddr_eval_speed_")
        config = configs.Config(dataset=args.dataset, steps=args.train_steps, eval_every=0, save_every=0,
                                log_every=max(args.train_steps // 3, 1), save_path=folder)
        start = time.perf_counter()
        train(config, progress=False)
        path = config.checkpoint_path()
        print(f"trained {path} ({args.train_steps} steps) in {time.perf_counter() - start:.0f} s")

    ev.keep_freed_memory()  # as eval.py's main does
    names = ev.parse_metrics(args.metrics)
    settings = json.loads(args.settings) if args.settings else {}
    print(f"cpu cores: {os.cpu_count()}; metrics: {','.join(names)}; "
          f"{'plain path' if args.no_cache else 'index cache (where the data set allows)'}")
    runs = [not args.no_cache] + ([args.no_cache] if args.compare else [])
    results = []
    for use_cache in runs:
        result = ev.evaluate_checkpoint(path, metrics=names, settings=settings or None, progress=False,
                                        use_cache=use_cache, write=False, log=lambda *a: None)
        results.append(result)
        print(ev.format_table(result))
        times = result["times"]
        print("times (s): " + ", ".join(f"{k} {v:.1f}" for k, v in times.items()))
    if args.compare:
        same = results[0]["results"] == results[1]["results"]
        print("identical numbers (cache vs plain):", same)
        if not same:
            for key in results[0]["results"]:
                a, b = results[0]["results"][key], results[1]["results"].get(key)
                if a != b:
                    print(f"  {key}: {a} vs {b}")
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
