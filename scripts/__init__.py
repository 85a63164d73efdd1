"""Command-line tools for sweeps, tables and figures (issue 6)."""
