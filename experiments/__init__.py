"""Experiments: sweep definitions, benchmark definitions and speed benchmarks (not part of the package)."""
