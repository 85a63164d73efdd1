"""Train a VAE, D-VAE, FactorVAE, FactorDVAE or QLAE.

    python run.py                                   # D-VAE on the built-in dsprites_procedural
    python run.py --dataset mpi3d_toy --gaussian --tc --gamma 30 --seed 42 --save_path ./
    python run.py --dataset mpi3d_toy --model factor_vae --gamma 30   # the same model by name
    python run.py --model qlae                      # QLAE (= --quantized), with QLAE's own defaults
    python run.py --config factor_dvae.toml --gamma 40 --steps 1000
    python run.py --resume ./mpi3d_toy_factor30.0_seed42.pkl
    python run.py --resume ./mpi3d_toy_factor30.0_seed42.pkl --steps 400000 --allow_schedule_change
    python run.py --seeds 1,2,3,4                   # four seeds at once (vmap), one checkpoint each
"""
from __future__ import annotations

import argparse
import sys

import configs
from checkpoints.checkpoint import CheckpointError
from configs.text import error_line, printable
from data import DataError
from evaluation.training_mig import training_mig
from training.loop import TrainingDiverged, train
from training.machine import out_of_memory
from training.resume import resume_config
from training.seeds import seed_config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    configs.add_arguments(parser)
    parser.add_argument("--resume", help="checkpoint (.pkl) to continue from")
    parser.add_argument("--allow_schedule_change", action="store_true",
                        help="with --resume: accept a changed steps / noise-scale endpoints / learning rate / "
                             "batch size (the change is recorded in the checkpoint's config_history)")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar (log lines only)")
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> configs.Config:
    """The run's Config: defaults < --config file < flags, or the checkpoint's config on --resume."""
    if args.resume:
        given = configs.given_fields(args)
        if args.config:
            given = {**configs.load_file(args.config), **given}
        return resume_config(args.resume, given, where=args.config or "command line")
    return configs.from_args(args)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        config = config_from_args(args)
        outputs = ", ".join(printable(seed_config(config, s).checkpoint_path(), None) for s in config.seed_list)
        print(f"training {config.model_name} on {config.dataset} (seeds {config.seed_list}, {config.steps} steps) "
              f"-> {outputs}")
        train(config, resume=args.resume, progress=not args.no_progress,
              evaluate=training_mig if config.eval_every else None,
              allow_schedule_change=args.allow_schedule_change)
    except (configs.ConfigError, DataError, CheckpointError) as error:
        print(error_line(error), file=sys.stderr)
        return 2
    except TrainingDiverged as error:
        print(error_line(error), file=sys.stderr)
        return 3
    except (MemoryError, RuntimeError) as error:
        why = out_of_memory(error)
        if why is None:
            raise
        print(error_line(f"{why}; the last checkpoint written is kept: lower --batch_size, --hidden_size or the "
                         f"number of --seeds"), file=sys.stderr)
        return 2
    print(f"saved {outputs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
