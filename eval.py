"""Evaluate checkpoints with the paper's protocol and write the results as JSON.

    python eval.py --save_file ./dsprites_procedural_seed42.pkl
    python eval.py --save_file 'runs/*.pkl' other.pkl --metrics mig,dci,st_gap --seed 42

Per checkpoint: MIG, Modularity, SAP, FactorVAE score, BetaVAE score and DCI, always in that
order, with ONE numpy RandomState(--seed) passed from each metric to the next (docs/design.md §8), then
(D-VAE / FactorDVAE only) the straight-through gap on 1,000 batches of 64 training images drawn
with jax.random(--seed), and the negative ELBO (recon + KL, as trained) on a fixed sample of
10,000 training images drawn the same way (metrics/elbo.py), or for QLAE, which has no ELBO,
the reconstruction loss on the same images (metrics/reconstruction.py). A table is printed and `X.pkl`'s
results are written, atomically, to `X.eval.json` (fields: docs/metrics.md, "eval.py"). This is
a command line over the library: the protocol is evaluation/protocol.py, the evaluation
evaluation/evaluate.py.

For data sets whose observations are plain stored images (not colour / noisy / Scream
dSprites), every stored image is encoded at most once (evaluation/index_cache.py); the numbers
are identical to the plain path (--no_cache), which encodes every drawn observation.

--fast and --settings change the protocol (smaller samples): for tests and quick looks only;
the JSON then records `"protocol": "custom"` and the settings used.

A quantity that cannot be computed from the checkpoint's numbers (NaN or infinite codes or
losses from finite but extreme parameters) is null in the JSON and listed in its `incomplete`;
everything else is still written, and one `error:` line names what is missing (exit code 2).
"""
from __future__ import annotations

import argparse
import json
import sys

import configs
from checkpoints.checkpoint import CheckpointError, expand_checkpoint_paths
from configs.text import error_line, printable
from data import DataError
from evaluation.allocator import keep_freed_memory
from evaluation.evaluate import EvalOptions, evaluate_checkpoint, format_table
from evaluation.protocol import METRIC_CHOICES, EvalError, merge_settings, parse_metrics
from training.machine import out_of_memory


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--save_file", nargs="+", required=True, metavar="PATH",
                        help="checkpoint(s) (.pkl) or glob pattern(s) (quote them)")
    parser.add_argument("--metrics", default=None,
                        help=f"comma-separated subset of {','.join(METRIC_CHOICES)} (default: all)")
    parser.add_argument("--seed", type=int, default=42,
                        help="seed of the metrics' numpy RandomState and of the gap's jax.random batches (42)")
    parser.add_argument("--no_cache", action="store_true",
                        help="encode every drawn observation (the plain path; same numbers, slower)")
    parser.add_argument("--no_progress", action="store_true", help="no progress bars")
    parser.add_argument("--no_overlap", action="store_true",
                        help="one thing at a time: the straight-through gap after the metrics, DCI in "
                             "its turn (not started early); same numbers, slower")
    parser.add_argument("--fast", action="store_true",
                        help="reduced sample sizes for smoke tests (NOT the paper's protocol)")
    parser.add_argument(
        "--settings",
        default=None,
        metavar="JSON",
        help='per-metric overrides, e.g. \'{"dci": {"num_train": 1000}, "st_gap": {"num_batches": 10}}\' '
        "(NOT the paper's protocol; tests and quick looks)",
    )
    return parser.parse_args(argv)


def _missing(result: dict) -> str:
    """What a result lacks, grouped by why: `mig, ..., dci (representation: ...); st_gap (...)`."""
    by_reason: dict = {}
    for name in result["incomplete"]:
        by_reason.setdefault(result["incomplete_why"][name], []).append(name)
    return "; ".join(f"{', '.join(names)} ({why})" for why, names in by_reason.items())


def main(argv=None, data=None) -> int:
    """Command-line entry; `data` replaces the data set named in the checkpoints (tests)."""
    args = parse_args(argv)
    keep_freed_memory()   # process-wide, so the entry point's to set (evaluation/allocator.py)
    expected = (EvalError, CheckpointError, DataError, configs.ConfigError)
    try:
        names = parse_metrics(args.metrics)
        try:
            overrides = json.loads(args.settings) if args.settings else None
        except json.JSONDecodeError as error:
            raise EvalError(f"--settings is not valid JSON ({error})") from None
        if overrides is not None and not isinstance(overrides, dict):
            raise EvalError("--settings must be a JSON object {metric: {keyword: value}}")
        merge_settings(args.fast, overrides)  # checked before any work
        paths = expand_checkpoint_paths(args.save_file)
    except expected as error:
        print(error_line(error), file=sys.stderr)
        return 2

    failures = 0
    datasets: dict = {}
    for path in paths:
        print(f"evaluating {printable(path, None)}")
        try:
            result = evaluate_checkpoint(
                path,
                EvalOptions(
                    metrics=names,
                    seed=args.seed,
                    settings=overrides,
                    fast=args.fast,
                    progress=not args.no_progress,
                    use_cache=not args.no_cache,
                    overlap=not args.no_overlap,
                    early_dci=not args.no_overlap,
                ),
                data=data,
                datasets=datasets,
            )
        except expected as error:
            print(error_line(error), file=sys.stderr)
            failures += 1
            continue
        except (MemoryError, RuntimeError) as error:
            why = out_of_memory(error)
            if why is None:
                raise
            print(error_line(f"{printable(path)}: {why}"), file=sys.stderr)
            failures += 1
            continue
        print(format_table(result))
        print(f"wrote {printable(result['json'], None)}")
        if result.get("incomplete"):
            print(error_line(f"{printable(path)}: not computed: {_missing(result)}; "
                             f"the rest is in {printable(result['json'])}"), file=sys.stderr)
            failures += 1
    return 2 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
