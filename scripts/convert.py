"""Convert a checkpoint written by the authors' run.py into this project's format.

    python scripts/convert.py mpi3d_toy_factor30.0.pkl              # -> mpi3d_toy_factor30.0_seed42.pkl
    python scripts/convert.py mpi3d_toy_factor30.0.pkl out/run.pkl
    python scripts/convert.py mpi3d_toy_factor30.0.pkl out/run.pkl --force   # replace out/run.pkl

An existing output file is never replaced without --force.

The library behind it: training/convert.py.
"""
from __future__ import annotations

import argparse
import sys

import configs
from checkpoints.checkpoint import CheckpointError
from configs.text import error_line, printable
from training.convert import convert


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="the authors' checkpoint (.pkl)")
    parser.add_argument("output", nargs="?", help="where to write (default: next to it, with the seed in the name)")
    parser.add_argument("--force", action="store_true", help="replace the output file if it exists")
    args = parser.parse_args(argv)
    try:
        path = convert(args.source, args.output, force=args.force)
    except (CheckpointError, configs.ConfigError) as error:
        print(error_line(error), file=sys.stderr)
        return 2
    print(f"wrote {printable(path, None)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
