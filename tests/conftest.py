"""Test-wide settings: no W&B network or files, quiet warnings, a small deterministic torch."""

import os

os.environ["WANDB_MODE"] = "disabled"
os.environ.setdefault("WANDB_SILENT", "true")
