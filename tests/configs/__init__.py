"""Tests of configs/."""
