"""Scores from the codes records that eval.py keeps (`X.codes.npz`), with no checkpoint.

    python scripts/rescore.py 'docs/study/*.codes.npz'         # quote globs

Per record: InfoM, InfoE, InfoC (for a categorical latent also on its argmax codes: `_argmax`),
and MIG, Modularity, SAP and DCI on the recorded sample (evaluation/rescore.py says how these
differ from the protocol's). Writes `X.rescore.json` beside each record and prints one line each.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from checkpoints.checkpoint import CheckpointError, expand_checkpoint_paths
from data import DataError
from data.atomic import write_json_atomic
from evaluation.codes_record import SUFFIX, read_codes_record
from evaluation.rescore import scores_from_record


def rescore_path(record) -> Path:
    """X.codes.npz -> X.rescore.json."""
    path = Path(record)
    return path.with_name(path.name.removesuffix(SUFFIX) + ".rescore.json")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("records", nargs="+", help="codes records (X.codes.npz) or quoted glob patterns")
    args = parser.parse_args(argv)
    try:
        paths = expand_checkpoint_paths(args.records)
        for path in paths:
            start = time.perf_counter()
            record = read_codes_record(path)
            results = scores_from_record(record)
            out = {"record": str(path), "checkpoint": record["header"]["checkpoint"],
                   "model": record["header"]["model"], "dataset": record["header"]["dataset"],
                   "sample_seed": record["header"]["sample_seed"], "num_points": int(record["codes"].shape[0]),
                   "results": results, "seconds": time.perf_counter() - start}
            written = write_json_atomic(rescore_path(path), out)
            shown = {k: v for k, v in results.items() if not isinstance(v, list)}
            print(f"{path.name}: " + " ".join(f"{k} {'-' if v is None else f'{v:.4f}'}" for k, v in shown.items())
                  + f" -> {written}")
    except (CheckpointError, DataError) as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
