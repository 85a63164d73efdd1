"""Tests across packages and entry points: hostile files on every entry point, the authors'
files through every tool, the documented sweep sequence, Slurm."""
