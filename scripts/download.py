"""Fetch disentanglement_lib's data sets into `$DISENTANGLEMENT_LIB_DATA`.

    python scripts/download.py NAME [NAME ...]      # e.g. dsprites_full smallnorb
    python scripts/download.py --all
    python scripts/download.py --list

Resumable, size- and (where recorded) SHA-256-checked; the library behind it: data/download.py.
"""
from __future__ import annotations

import argparse
import sys

from data.base import DataError
from data.download import DATASETS, NOT_FETCHABLE, SOURCES, fetch_datasets


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="data set names (see --list)")
    parser.add_argument("--all", action="store_true", help="every data set that can be fetched")
    parser.add_argument("--list", action="store_true", help="list data sets and sources")
    parser.add_argument("--root", help="target folder (default: $DISENTANGLEMENT_LIB_DATA)")
    parser.add_argument("--mpi3d-toy", choices=["challenge", "final"], default="challenge",
                        help="which mpi3d_toy release: the 2019 challenge file (460,800 "
                             "images; what disentanglement_lib and the paper use) or the "
                             "final release (1,036,800 images)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.list:
        for name, keys in DATASETS.items():
            print(f"{name}: " + ", ".join(f"{SOURCES[k].url} -> {SOURCES[k].target}" for k in keys))
        for name, note in NOT_FETCHABLE.items():
            print(f"{name}: {note}")
        return 0
    names = list(DATASETS) if args.all else args.names
    if not names:
        parser.error("name at least one data set, or --all / --list")
    try:
        fetch_datasets(names, args.root, args.mpi3d_toy, progress=not args.no_progress)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
