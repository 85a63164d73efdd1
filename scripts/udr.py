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

Checkpoints that will not outlive a session (a study's) can be recorded one at a time, and the
groups scored once all their seeds are in, with the same numbers (metrics/udr_records.py):

    python scripts/udr.py --record docs/study/X.pkl          # writes docs/study/X.udr_codes.npz
    python scripts/udr.py --from_records 'docs/study/*.udr_codes.npz'   # writes X.udr.json
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
    """X.pkl (or its record X.udr_codes.npz) -> X.udr.json, next to it."""
    from metrics.udr_records import RECORD_SUFFIX
    path = Path(checkpoint)
    return path.with_name(path.name.removesuffix(RECORD_SUFFIX).removesuffix(".pkl") + ".udr.json")


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
    return _per_model(paths, scores, seed, options, time.perf_counter() - start, "checkpoints", log)


def _per_model(checkpoints: list[Path], scores: dict, seed: int, settings: dict, seconds: float, what: str, log,
               records: list[Path] | None = None) -> list[dict]:
    """The X.udr.json content of each model of a scored group (logged in one line); `records`:
    the record each was scored from."""
    names = [p.name for p in checkpoints]
    log(f"UDR of {len(names)} {what} ({seconds:.1f} s): "
        + ", ".join(f"{n} {s:.4f}" for n, s in zip(names, scores["model_scores"])))
    return [{"checkpoint": str(path), **({"record": str(records[i])} if records else {}), "udr": score,
             "group": names, "index_in_group": i,
             "pairwise_disentanglement_scores": scores["pairwise_disentanglement_scores"],
             "udr_seed": seed, "settings": settings, "seconds": seconds}
            for i, (path, score) in enumerate(zip(checkpoints, scores["model_scores"]))]


def record_checkpoint(path: Path, seed: int, options: dict, datasets: dict) -> Path:
    """One checkpoint's codes and KL on UDR's draw from RandomState(seed), as X.udr_codes.npz."""
    from metrics.udr import sample_representations
    from metrics.udr_records import record_path, write_record
    from models.representation import make_udr_function
    from training.restore import load_model

    _, config, data, model, params, state, _ = load_model(path, datasets=datasets)
    random_state = np.random.RandomState(seed)
    (codes,), (kl,) = sample_representations(data, [make_udr_function(model, params, state, options["batch_size"])],
                                             random_state, options["batch_size"], options["num_data_points"])
    header = {"checkpoint": path.name, "config": config.to_dict(), "udr_seed": seed,
              "batch_size": options["batch_size"], "num_data_points": options["num_data_points"]}
    return write_record(record_path(path), codes, kl, random_state, header)


def score_record_group(paths: list[Path], records: list[dict], options: dict, log=print) -> list[dict]:
    """UDR of one group of recorded models; one record per model (written as X.udr.json)."""
    from metrics.udr_records import score_records
    start = time.perf_counter()
    scores = score_records(records, options["correlation_matrix"], options["filter_low_kl"],
                           options["kl_filter_threshold"])
    header = records[0]["header"]
    settings = {**options, "batch_size": header["batch_size"], "num_data_points": header["num_data_points"]}
    checkpoints = [path.with_name(r["header"]["checkpoint"]) for path, r in zip(paths, records)]
    return _per_model(checkpoints, scores, header["udr_seed"], settings, time.perf_counter() - start,
                      "recorded models", log, records=paths)


def main(argv=None, datasets: dict | None = None) -> int:
    """Command-line entry; `datasets` {name: data set} replaces the data sets named in the
    checkpoints (tests)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", help="checkpoints (.pkl) or quoted glob patterns (with "
                        "--from_records: their X.udr_codes.npz records)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--record", action="store_true",
                      help="write each checkpoint's UDR inputs to X.udr_codes.npz (no partner needed), score nothing")
    mode.add_argument("--from_records", action="store_true",
                      help="score groups from X.udr_codes.npz records (their seed, batch size and number of "
                           "points are the recorded ones)")
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
    from metrics.udr_records import read_record
    from training.checkpoint import CheckpointError, load_checkpoint
    from training.restore import expand_checkpoint_paths
    options = {"batch_size": args.batch_size, "num_data_points": args.num_data_points,
               "correlation_matrix": args.correlation_matrix, "filter_low_kl": not args.no_filter,
               "kl_filter_threshold": args.kl_filter_threshold}
    try:
        datasets = dict(datasets or {})
        paths = expand_checkpoint_paths(args.checkpoints)
        if args.record:
            for path in paths:
                print(f"wrote {record_checkpoint(path, args.seed, options, datasets)}")
            return 0
        groups: dict = {}
        records = {path: read_record(path) for path in paths} if args.from_records else {}
        for path in paths:
            raw = records[path]["header"]["config"] if args.from_records else load_checkpoint(path)["config"]
            groups.setdefault(group_key(configs.from_dict(raw, where=str(path))), []).append(path)
        alone = [str(p[0]) for p in groups.values() if len(p) < 2]
        if alone:
            raise UdrError(f"UDR compares models trained with the same settings; {alone[0]} has no partner "
                           f"(give at least two seeds of each setting)")
        for group in groups.values():
            scored = (score_record_group(group, [records[p] for p in group], options) if args.from_records
                      else score_group(group, args.seed, options, datasets))
            for record in scored:
                print(f"wrote {write_json_atomic(udr_path(record.get('record', record['checkpoint'])), record)}")
    except (ValueError, UdrError, CheckpointError, DataError, configs.ConfigError, KeyError, TypeError) as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
