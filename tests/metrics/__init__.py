"""Tests of metrics/."""
