"""Score groups of checkpoints with UDR (metrics/udr.py) and write one `X.udr.json` per checkpoint.

    python scripts/udr.py 'docs/study/*_factor30.0_seed*.pkl'        # quote globs
    python scripts/udr.py runs/*.pkl --correlation_matrix spearman --seed 0

UDR compares models trained with the same settings and different seeds, so the checkpoints are
grouped by everything in their config except the seed and bookkeeping (data set, model, gamma,
schedule, ...), and each group of at least two is scored on its own, with one
`numpy.random.RandomState(--seed)` per group. Every checkpoint gets `X.udr.json` next to it
(`udr`: its model score; the group's members and pairwise scores; the settings), which
`scripts/tables.py` reads as the UDR selection rule. Defaults are disentanglement_lib's UDR
config: batch 10, 1,000 points, Lasso, KL filter 0.01.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from models.model import BOOKKEEPING_FIELDS


def udr_path(checkpoint) -> Path:
    """X.pkl -> X.udr.json (next to the checkpoint)."""
    path = Path(checkpoint)
    return path.with_name((path.name[:-4] if path.name.endswith(".pkl") else path.name) + ".udr.json")


def group_key(config) -> tuple:
    """What must be equal for two checkpoints to be compared by UDR: the config without the
    seed and the bookkeeping fields."""
    return tuple(sorted((k, v) for k, v in config.to_dict().items() if k not in BOOKKEEPING_FIELDS))


def score_group(paths: list[Path], seed: int, options: dict, datasets: dict, log=print) -> list[dict]:
    """UDR of one group of checkpoints; returns one record per checkpoint (written as X.udr.json)."""
    from metrics.udr import compute_udr_sklearn
    from models.representation import make_udr_function
    from training.restore import load_model

    functions, data = [], None
    for path in paths:
        _, _, data, model, params, state, _ = load_model(path, datasets=datasets)
        functions.append(make_udr_function(model, params, state, options["batch_size"]))
    start = time.perf_counter()
    scores = compute_udr_sklearn(data, functions, np.random.RandomState(seed), include_raw_correlations=False,
                                 **options)
    seconds = time.perf_counter() - start
    names = [p.name for p in paths]
    log(f"UDR of {len(paths)} checkpoints ({seconds:.1f} s): "
        + ", ".join(f"{n} {s:.4f}" for n, s in zip(names, scores["model_scores"])))
    return [{"checkpoint": str(path), "udr": score, "group": names, "index_in_group": i,
             "pairwise_disentanglement_scores": scores["pairwise_disentanglement_scores"],
             "udr_seed": seed, "settings": options, "seconds": seconds}
            for i, (path, score) in enumerate(zip(paths, scores["model_scores"]))]


def main(argv=None, datasets: dict | None = None) -> int:
    """Command-line entry; `datasets` {name: data set} replaces the data sets named in the
    checkpoints (tests)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", help="checkpoints (.pkl) or quoted glob patterns")
    parser.add_argument("--seed", type=int, default=42, help="seed of each group's RandomState (42)")
    parser.add_argument("--correlation_matrix", choices=("lasso", "spearman"), default="lasso")
    parser.add_argument("--batch_size", type=int, default=10)
    parser.add_argument("--num_data_points", type=int, default=1000)
    parser.add_argument("--kl_filter_threshold", type=float, default=0.01)
    parser.add_argument("--no_filter", action="store_true", help="keep latents with low KL in the scores")
    args = parser.parse_args(argv)

    import configs
    from data import DataError
    from data.atomic import write_json_atomic
    from metrics.udr import UdrError
    from training.checkpoint import CheckpointError, load_checkpoint
    from training.restore import expand_checkpoint_paths
    options = {"batch_size": args.batch_size, "num_data_points": args.num_data_points,
               "correlation_matrix": args.correlation_matrix, "filter_low_kl": not args.no_filter,
               "kl_filter_threshold": args.kl_filter_threshold}
    try:
        groups: dict = {}
        for path in expand_checkpoint_paths(args.checkpoints):
            config = configs.from_dict(load_checkpoint(path)["config"], where=str(path))
            groups.setdefault(group_key(config), []).append(path)
        alone = [str(p[0]) for p in groups.values() if len(p) < 2]
        if alone:
            raise UdrError(f"UDR compares models trained with the same settings; {alone[0]} has no partner "
                           f"(give at least two seeds of each setting)")
        datasets = dict(datasets or {})
        for paths in groups.values():
            for record in score_group(paths, args.seed, options, datasets):
                print(f"wrote {write_json_atomic(udr_path(record['checkpoint']), record)}")
    except (ValueError, UdrError, CheckpointError, DataError, configs.ConfigError, KeyError, TypeError) as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
