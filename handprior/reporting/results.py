"""The Lightning callback that appends a run's test metrics as result rows (see :mod:`handprior.reporting.rows`).

The row functions are re-exported here, so ``handprior.reporting.results`` is the one import for both.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from pathlib import Path

import lightning as L
import yaml
from lightning.pytorch.loggers import WandbLogger

from handprior.reporting.rows import (
    COLUMNS,
    INPUT_METHOD,
    RUN_ID_ENV,
    UNITS,
    ResultRow,
    append_rows,
    git_sha,
    lock_for,
    metric_rows,
    net_label,
    read_rows,
    store_data_version,
)

__all__ = [
    "COLUMNS",
    "INPUT_METHOD",
    "RUN_ID_ENV",
    "UNITS",
    "ResultRow",
    "ResultRowsWriter",
    "append_rows",
    "git_sha",
    "lock_for",
    "metric_rows",
    "net_label",
    "read_rows",
]


def _wandb_loggers(trainer: L.Trainer) -> list[WandbLogger]:
    return [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]


def _run_id(trainer: L.Trainer) -> str:
    if os.environ.get(RUN_ID_ENV):
        return os.environ[RUN_ID_ENV]
    for logger in _wandb_loggers(trainer):
        if logger._experiment is not None and getattr(logger._experiment, "id", None):
            return str(logger._experiment.id)
    return uuid.uuid4().hex[:12]


def _group(trainer: L.Trainer) -> str:
    for logger in _wandb_loggers(trainer):
        group = getattr(logger, "_wandb_init", {}).get("group")
        if group:
            return str(group)
    return ""


def _dataset(trainer: L.Trainer) -> str:
    datamodule = trainer.datamodule
    if datamodule is None:
        return ""
    root = getattr(datamodule, "root", None)
    if root is not None and Path(root).name not in ("", "."):
        return Path(root).name
    return type(datamodule).__name__


def _data_version(trainer: L.Trainer) -> str:
    """The version of the test data (a sequence store's meta.json "benchmark_version", e.g. the synthetic
    benchmark's "v2"), or "" when the DataModule does not record one."""
    stores = getattr(trainer.datamodule, "stores", None) or {}
    return store_data_version(stores.get("test") if isinstance(stores, Mapping) else None)


def _config(trainer: L.Trainer) -> str:
    if trainer.log_dir is not None and (Path(trainer.log_dir) / "config.yaml").exists():
        return str((Path(trainer.log_dir) / "config.yaml").resolve())
    return ""


def _config_label(config_path: str) -> str | None:
    if not config_path:
        return None
    try:
        config = yaml.safe_load(Path(config_path).read_text())
    except (OSError, yaml.YAMLError):
        return None
    return net_label(config) if isinstance(config, Mapping) else None


class ResultRowsWriter(L.Callback):
    """Appends one result row per ``test/*`` metric to a shared CSV when testing ends (rank 0 only).

    The unrefined input (``test/input_*``) is written as method "input". Columns the callback cannot know are
    filled from the run: the seed from ``seed_everything``, the group from the W&B logger, the dataset from
    the DataModule's root folder, its version from the test store's meta.json, the config from the run's saved
    ``config.yaml``.
    """

    def __init__(
        self,
        path: str = "results/runs.csv",
        method: str | None = None,
        group: str | None = None,
        dataset: str | None = None,
        config: str | None = None,
    ) -> None:
        """
        Args:
            path: the CSV that rows are appended to (created with a header if missing).
            method: name of the refined method in the table; None = the network's class name and the init
                arguments that differ from its defaults (read from the run's saved config), so that the
                variants of a sweep get distinct rows.
            group: experiment group (e.g. an ablation table); None = the W&B logger's group, or empty.
            dataset: dataset name; None = the DataModule's root folder name.
            config: what produced the run (config files); None = the run's saved config.yaml.
        """
        self.path, self.method, self.group, self.dataset, self.config = path, method, group, dataset, config
        self.written: list[ResultRow] = []

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        saved_config = _config(trainer)  # on every process: under DDP trainer.log_dir is a broadcast all must join
        if not trainer.is_global_zero or trainer.sanity_checking:
            return
        method = self.method or _config_label(saved_config) or type(getattr(pl_module, "net", pl_module)).__name__
        rows = metric_rows(
            trainer.callback_metrics,
            method=method,
            run_id=_run_id(trainer),
            group=self.group if self.group is not None else _group(trainer),
            seed=os.environ.get("PL_GLOBAL_SEED", ""),
            dataset=self.dataset or _dataset(trainer),
            config=self.config if self.config is not None else saved_config,
            git_sha=git_sha(),
            data_version=_data_version(trainer),
        )
        append_rows(self.path, rows)
        self.written = rows
