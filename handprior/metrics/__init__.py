"""Metrics: a functional core (pure tensor functions) and thin torchmetrics classes over it."""
