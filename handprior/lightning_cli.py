"""LightningCLI subclass behind `handprior fit|validate|test|predict`."""

from __future__ import annotations

import sys
from typing import Any

from lightning.pytorch.cli import LightningCLI
from rich.console import Console
from rich.table import Table

# Imported so that short class names (HandPriorNet, SyntheticDataModule, ...) resolve in configs.
import handprior.data.datamodule  # noqa: F401, E402
import handprior.models.nets  # noqa: F401, E402
from handprior.data.datamodule import StoreDataModule
from handprior.models.refiner import HandRefiner


class HandPriorCLI(LightningCLI):
    """LightningCLI with the data window linked into the model and a results table after test/validate."""

    def add_arguments_to_parser(self, parser: Any) -> None:
        for source, target in (("window", "window"), ("mano_model_path", "mano_model_path"), ("flat_hand_mean", "flat_hand_mean")):
            parser.link_arguments("data", f"model.{target}", compute_fn=_attribute(source), apply_on="instantiate")
        parser.add_argument(
            "--test_after_fit",
            type=bool,
            default=True,
            help="fit only: test the best checkpoint on the test split when training ends",
        )

    def after_fit(self) -> None:
        if self.config[self.subcommand].get("test_after_fit") and not self.trainer.interrupted:
            ckpt = "best" if self.trainer.checkpoint_callback and self.trainer.checkpoint_callback.best_model_path else None
            self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=ckpt, weights_only=True)
            print_results_table(self.trainer.callback_metrics, "test")

    def after_validate(self) -> None:
        print_results_table(self.trainer.callback_metrics, "val")

    def after_test(self) -> None:
        print_results_table(self.trainer.callback_metrics, "test")


def _attribute(name: str) -> Any:
    return lambda data: getattr(data, name)


def print_results_table(metrics: dict[str, Any], stage: str, console: Console | None = None) -> None:
    """Input vs refined, MPJPE / MPVPE / Accel, with the relative improvement."""

    def value(name: str) -> float | None:
        tensor = metrics.get(f"{stage}/{name}")
        return None if tensor is None else float(tensor)

    table = Table(title=f"{stage} results (mm, mm/frame²)")
    for column in ("method", "MPJPE", "MPVPE", "Accel"):
        table.add_column(column, justify="left" if column == "method" else "right")
    rows = {
        "input (unrefined)": [value("input_mpjpe"), None, value("input_accel")],
        "refined": [value("mpjpe"), value("mpvpe"), value("accel")],
    }
    for name, values in rows.items():
        table.add_row(name, *("-" if v is None else f"{v:.2f}" for v in values))
    gains = []
    for refined, original in ((rows["refined"][0], rows["input (unrefined)"][0]), (rows["refined"][2], rows["input (unrefined)"][2])):
        gains.append("-" if refined is None or not original else f"{100 * (original - refined) / original:+.1f}%")
    table.add_row("improvement", gains[0], "-", gains[1])
    (console or Console()).print(table)


def run_lightning_cli(argv: list[str] | None) -> HandPriorCLI:
    """Run a trainer subcommand (``argv`` None: from ``sys.argv``); configs choose ``model.net`` and ``data``."""
    try:
        return _build_cli(argv)
    finally:
        wandb = sys.modules.get("wandb")
        if wandb is not None and wandb.run is not None:
            wandb.finish()  # the next run in this process gets a run of its own


def _build_cli(argv: list[str] | None) -> HandPriorCLI:
    return HandPriorCLI(
        HandRefiner,
        StoreDataModule,
        subclass_mode_data=True,
        save_config_kwargs={"overwrite": True},
        seed_everything_default=0,
        args=argv,
        auto_configure_optimizers=False,
    )
