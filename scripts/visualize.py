"""Figures of one checkpoint: latent traversals, reconstructions, and a 2-D latent scatter.

    python scripts/visualize.py --save_file results/smoke/dsprites_procedural_seed1.pkl
    python scripts/visualize.py --save_file dvae.pkl --compare vae.pkl --out figures --factor 4
    python scripts/visualize.py --curves docs/study          # training curves of a results folder

Writes PNG and PDF to --out (default: `figures/` next to the checkpoint): {run}_traversals,
{run}_reconstructions and {run}_scatter (with --compare OTHER.pkl, the other model's panel next
to it, on the same images); what each shows: analysis/model_figures.py.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.curves import plot_curves
from analysis.model_figures import visualize
from checkpoints.checkpoint import CheckpointError
from configs.text import error_line, printable
from data import DataError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--save_file", help="checkpoint (.pkl)")
    what.add_argument("--curves", metavar="RESULTS_DIR",
                      help="training curves of every run log under a results folder (out: RESULTS_DIR/plots)")
    parser.add_argument("--out", default=None, help="output folder (default: figures/ next to the checkpoint)")
    parser.add_argument("--compare", default=None, help="a second checkpoint on the same data set (scatter)")
    parser.add_argument("--steps", type=int, default=10, help="traversal columns")
    parser.add_argument("--num_images", type=int, default=8, help="reconstructed images")
    parser.add_argument("--num_points", type=int, default=2000, help="images in the scatter")
    parser.add_argument("--latents", default=None, help="two latent indices for the scatter, e.g. 3,7 "
                                                        "(default: each model's two most varying)")
    parser.add_argument("--factor", type=int, default=None,
                        help="factor index colouring the scatter (default: the one most correlated with "
                             "the first latent)")
    parser.add_argument("--reference", type=int, default=0, help="which sampled image the traversals start from")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampled images")
    return parser.parse_args(argv)


def curves(results_dir, out=None) -> int:
    """--curves: the training curves of every run log under `results_dir` (analysis/curves.py)."""
    if not Path(results_dir).is_dir():
        print(error_line(f"no results folder {results_dir}"), file=sys.stderr)
        return 2
    written = plot_curves(results_dir, out or Path(results_dir) / "plots")
    if not written:
        print(error_line(f"no *.log.jsonl run logs under {results_dir}"), file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {printable(path, None)}")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.curves:
        return curves(args.curves, args.out)
    latents = None
    if args.latents:
        try:
            latents = tuple(int(v) for v in args.latents.split(","))
        except ValueError:
            latents = ()
        if len(latents) != 2:  # an explicit check: `assert` vanishes under python -O
            print(error_line(f"--latents needs two comma-separated indices, got {args.latents!r}"), file=sys.stderr)
            return 2
    try:
        paths = visualize(
            args.save_file,
            args.out,
            args.compare,
            steps=args.steps,
            num_images=args.num_images,
            num_points=args.num_points,
            latents=latents,
            factor=args.factor,
            reference=args.reference,
            seed=args.seed,
        )
    except (CheckpointError, DataError, ValueError, IndexError) as error:
        print(error_line(error), file=sys.stderr)
        return 2
    for path in paths:
        print(f"wrote {printable(path, None)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
