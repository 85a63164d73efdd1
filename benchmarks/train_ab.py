"""This code's training step against earlier commits, in one run, alternating (A/B).

    XDG_CACHE_HOME=/tmp/lddrcache python benchmarks/train_ab.py --against 2451f94 [--against REV ...]
        [--models dvae,factor_dvae] [--rounds 2] [--short 50] [--long 450]

Each version (this working tree, and every `--against` revision extracted with `git archive`
into a temporary folder) trains in its own Python process through its own
`training.loop.train`: a warm-up run of `--short` steps (compilation), then a timed run of
`--short` and one of `--long` steps, both from the same initial state; the per-step time is
their difference divided by `long - short`, so start-up, compilation and the final checkpoint
cancel out. Rounds alternate between the versions, so load on the machine hits all alike; the
median over rounds is reported. Each process also prints a digest of the parameters after the
long run: equal digests mean the versions compute bit-for-bit the same training.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from versions import ROOT, alternate, extract, report, run_in

from configs import Config
from models.registry import REGISTRY

# Every model of the registry; the TC models at the gamma of the authors' README.
# Only the fields that differ from the defaults: an earlier version's Config knows the fields of
# the models it has, not the flags of models added since.
MODELS = {name: {k: v for k, v in spec.config_fields(gamma=30.0).items() if v != getattr(Config(), k)}
          for name, spec in REGISTRY.items()}

# Runs inside the version's folder: only the API every version since the first study has
# (`Config`, `get_dataset`, `train(config, data, progress, log, until)`).
DRIVER = r"""
import hashlib, json, sys, tempfile, time
import jax, numpy as np
from configs import Config
from data import get_dataset
from training.loop import train
fields, short, long = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
data = get_dataset(fields.get("dataset", "dsprites_procedural"))
with tempfile.TemporaryDirectory() as tmp:
    config = Config(**fields, save_path=tmp)
    def timed(until):
        start = time.perf_counter()
        ts = train(config, data, progress=False, log=lambda *a, **k: None, until=until)
        jax.block_until_ready(ts)
        return time.perf_counter() - start, ts
    timed(short)                                  # compilation
    t_short, _ = timed(short)
    t_long, ts = timed(long)
digest = hashlib.sha256()
for leaf in jax.tree_util.tree_leaves(jax.device_get(ts.params)):
    digest.update(np.ascontiguousarray(leaf).tobytes())
print("RESULT " + json.dumps({"ms_per_step": 1000 * (t_long - t_short) / (long - short),
                              "params_sha256": digest.hexdigest()[:16]}))
"""


def measure(folder: Path, fields: dict, short: int, long: int) -> dict:
    """One version's per-step time and parameter digest, in a fresh process."""
    return run_in(folder, DRIVER, json.dumps(fields), str(short), str(long))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", action="append", default=[], help="a git revision to compare with (repeatable)")
    parser.add_argument("--models", default="dvae", help=f"comma-separated, of {', '.join(MODELS)}")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--short", type=int, default=50)
    parser.add_argument("--long", type=int, default=450)
    parser.add_argument("--steps", type=int, default=300_000, help="the schedule length (the paper's)")
    args = parser.parse_args()
    if args.long <= args.short:
        sys.exit("error: --long must be larger than --short")
    with tempfile.TemporaryDirectory() as tmp:
        versions = {"this tree": ROOT, **{rev: extract(rev, Path(tmp)) for rev in args.against}}
        for name in args.models.split(","):
            if name not in MODELS:
                sys.exit(f"error: unknown model {name!r}; expected one of {', '.join(MODELS)}")
            fields = {**MODELS[name], "steps": args.steps, "eval_every": 0, "log_every": 0, "save_every": 0}

            def measured(version, folder, fields=fields, name=name):
                result = measure(folder, fields, args.short, args.long)
                print(f"{name} {version}: {result['ms_per_step']:.1f} ms/step", flush=True)
                return result
            runs = alternate(versions, args.rounds, measured)
            times = {v: [r["ms_per_step"] for r in results] for v, results in runs.items()}
            digests = {v: results[-1]["params_sha256"] for v, results in runs.items()}
            report(times, digests, lambda version, median, values, ratio, name=name, digests=digests: (
                f"{name:12s} {version:12s} median {median:6.1f} ms/step ({', '.join(f'{v:.1f}' for v in values)}); "
                f"x{ratio:.3f} this tree's time; params after {args.long} steps {digests[version]}"))


if __name__ == "__main__":
    main()
