"""Tests of sweeps/."""
