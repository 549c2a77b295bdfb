"""The `handprior` command: fit/validate/test/predict through LightningCLI, other subcommands through jsonargparse.

    handprior fit --config configs/synthetic.yaml
    handprior test --config configs/synthetic.yaml --ckpt_path logs/.../last.ckpt
    handprior <command> --help
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

TRAINER_COMMANDS = ("fit", "validate", "test", "predict")

# Other subcommands: name -> (module, attribute, summary). The attribute is a typed function (its docstring is
# the --help text) or a dict of them (sub-subcommands). Imported only when the command runs.
EXTRA_COMMANDS: dict[str, tuple[str, str, str]] = {
    "prepare": (
        "handprior.data.prepare.commands",
        "PREPARE_COMMANDS",
        "official dataset files (+ per-frame predictions) -> sequence stores",
    ),
    "refine": ("handprior.inference.refine", "refine", "refine your own sequence file (.npz/.json/.csv) with a checkpoint"),
    "mano": ("handprior.body.commands", "MANO_COMMANDS", "mano convert MANO_RIGHT.pkl: official MANO file -> plain .npz"),
    "bench": (
        "handprior.reporting.bench",
        "bench",
        "run the methods x seeds of an experiment file, append result rows, print the table (resumable)",
    ),
    "tune": (
        "handprior.reporting.tune",
        "tune",
        "choose the settings of an experiment's filters on the validation split by a grid (bench does it too)",
    ),
    "table": ("handprior.reporting.table", "table", "mean ± std per method and dataset from a results CSV"),
}


def _choose_wandb_mode() -> None:
    """W&B runs offline unless the user configured it (WANDB_MODE, an API key, or a `wandb login`)."""
    if "WANDB_MODE" in os.environ or os.environ.get("WANDB_API_KEY"):
        return
    netrc = Path.home() / ".netrc"
    if netrc.is_file() and "api.wandb.ai" in netrc.read_text(errors="ignore"):
        return
    os.environ["WANDB_MODE"] = "offline"


def _print_help() -> None:
    """A table of the subcommands."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="handprior commands", show_header=False, box=None)
    summaries = {
        "fit": "train a refiner (LightningCLI): handprior fit --config configs/synthetic.yaml",
        "validate": "score a checkpoint on the validation split",
        "test": "score a checkpoint (or a filter) on the test split; prints input vs refined",
        "predict": "refine every sequence of a split",
    }
    for name, text in summaries.items():
        table.add_row(name, text)
    for name, (_, _, text) in EXTRA_COMMANDS.items():
        table.add_row(name, text)
    Console().print(table)
    Console().print("Run `handprior COMMAND --help` for a command's options.")


def _run_extra(argv: list[str]) -> None:
    from jsonargparse import CLI

    module, attribute, _ = EXTRA_COMMANDS[argv[0]]
    component = getattr(importlib.import_module(module), attribute)
    result = CLI(component, args=argv[1:], prog=f"handprior {argv[0]}", as_positional=True)
    if result is not None:
        print(result)


def main(args: Sequence[str] | None = None) -> None:
    """Entry point of the `handprior` console script and of `python -m handprior`; ``args`` for use from Python."""
    argv = list(sys.argv[1:] if args is None else args)
    if not argv or argv[0] in ("-h", "--help"):
        _print_help()
        return None
    _choose_wandb_mode()
    from handprior.errors import HandpriorInputError

    try:
        if argv[0] in EXTRA_COMMANDS:
            _run_extra(argv)
            return None
        if argv[0] not in TRAINER_COMMANDS:
            known = ", ".join([*TRAINER_COMMANDS, *EXTRA_COMMANDS])
            raise HandpriorInputError(f"unknown command {argv[0]!r}; commands: {known}")
        from handprior.lightning_cli import run_lightning_cli

        run_lightning_cli(None if args is None else argv)
        return None
    except HandpriorInputError as error:
        print(f"handprior: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None

