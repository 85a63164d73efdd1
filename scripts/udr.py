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

import configs
from checkpoints.checkpoint import CheckpointError, expand_checkpoint_paths
from configs.text import error_line, printable
from data import DataError
from data.atomic import write_json_atomic
from evaluation.udr_groups import group_paths, record_checkpoint, score_group, score_record_group, udr_path
from metrics.udr import UdrError
from metrics.udr_records import read_record


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

    options = {"batch_size": args.batch_size, "num_data_points": args.num_data_points,
               "correlation_matrix": args.correlation_matrix, "filter_low_kl": not args.no_filter,
               "kl_filter_threshold": args.kl_filter_threshold}
    try:
        datasets = dict(datasets or {})
        paths = expand_checkpoint_paths(args.checkpoints)
        if args.record:
            for path in paths:
                print(f"wrote {printable(record_checkpoint(path, args.seed, options, datasets), None)}")
            return 0
        records = {path: read_record(path) for path in paths} if args.from_records else {}
        for group in group_paths(paths, records):
            scored = (score_record_group(group, [records[p] for p in group], options) if args.from_records
                      else score_group(group, args.seed, options, datasets))
            for record in scored:
                written = write_json_atomic(udr_path(record.get("record", record["checkpoint"])), record)
                print(f"wrote {printable(written, None)}")
    except (ValueError, UdrError, CheckpointError, DataError, configs.ConfigError, KeyError, TypeError) as error:
        print(error_line(error), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
