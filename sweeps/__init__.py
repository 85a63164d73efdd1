"""Sweeps over configs: the grid of runs (grid), what each still needs (status) and running
them locally or on Slurm (execute). scripts/sweep.py is the command line over it."""
