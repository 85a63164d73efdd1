"""Tests of the command lines in scripts/ (their library code is tested beside its package)."""
