"""Speed benchmarks and model size reports."""
