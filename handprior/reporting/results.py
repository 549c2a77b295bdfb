"""Long-format result rows appended to one CSV that many runs share (one row per run x metric).

Columns: ``timestamp, run_id, group, method, seed, dataset, split, metric, value, unit, config, git_sha``.
Appends hold a ``filelock.FileLock`` (``<csv>.lock``), so parallel runs, sweep agents and benchmark workers
can write to the same file; ``handprior table`` pivots it into mean ± std per method.
"""

from __future__ import annotations

import csv
import importlib
import inspect
import os
import subprocess
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import lightning as L
import yaml
from filelock import FileLock
from lightning.pytorch.loggers import WandbLogger

INPUT_METHOD = "input"
UNITS = {"mpjpe": "mm", "mpvpe": "mm", "accel": "mm/frame^2"}
RUN_ID_ENV = "HANDPRIOR_RUN_ID"  # set by `handprior bench` so that it can find a run's rows


@dataclass(frozen=True)
class ResultRow:
    """One measurement of one run."""

    timestamp: str
    run_id: str
    group: str
    method: str
    seed: str
    dataset: str
    split: str
    metric: str
    value: float
    unit: str
    config: str
    git_sha: str


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ResultRow))


def lock_for(path: str | Path) -> FileLock:
    """The lock that guards a results CSV (a ``.lock`` file beside it)."""
    return FileLock(f"{path}.lock")


def append_rows(path: str | Path, rows: Iterable[ResultRow]) -> int:
    """Append rows to a results CSV under its file lock, writing the header if the file is new; returns the count."""
    rows = list(rows)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with lock_for(path):
        new = not path.exists() or path.stat().st_size == 0
        with path.open("a", newline="") as handle:
            if not new and not _ends_with_newline(path):
                handle.write("\r\n")  # close a line cut short by a crash, so the new rows parse
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            if new:
                writer.writeheader()
            for row in rows:
                writer.writerow(asdict(row))
            handle.flush()
            os.fsync(handle.fileno())
    return len(rows)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def read_rows(path: str | Path) -> list[ResultRow]:
    """All rows of a results CSV (an empty list if it does not exist); a truncated last line is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    with lock_for(path), path.open(newline="") as handle:
        records = list(csv.DictReader(handle))
    rows = []
    for record in records:
        if any(record.get(column) is None for column in COLUMNS):
            continue  # a line cut short by a crash mid-write
        try:
            value = float(record["value"])
        except ValueError:
            continue
        rows.append(ResultRow(**{**{c: record[c] for c in COLUMNS}, "value": value}))
    return rows


def metric_rows(
    metrics: Mapping[str, Any],
    *,
    method: str,
    stage: str = "test",
    run_id: str,
    group: str = "",
    seed: str = "",
    dataset: str = "",
    config: str = "",
    git_sha: str = "",
    timestamp: str | None = None,
) -> list[ResultRow]:
    """Rows for the ``{stage}/*`` metrics of a run: ``{stage}/input_<m>`` go to method "input", the rest to
    ``method``. Values may be tensors or numbers."""
    stamp = timestamp or datetime.now(timezone.utc).isoformat(timespec="seconds")
    rows = []
    for key in sorted(metrics):
        prefix, _, name = key.partition("/")
        if prefix != stage or not name:
            continue
        row_method, metric = (INPUT_METHOD, name[len("input_") :]) if name.startswith("input_") else (method, name)
        rows.append(
            ResultRow(
                timestamp=stamp,
                run_id=run_id,
                group=group,
                method=row_method,
                seed=seed,
                dataset=dataset,
                split=stage,
                metric=metric,
                value=float(metrics[key]),
                unit=UNITS.get(metric, ""),
                config=config,
                git_sha=git_sha,
            )
        )
    return rows


PACKAGE_DIR = Path(__file__).resolve().parents[1]


def git_sha(cwd: str | Path | None = PACKAGE_DIR) -> str:
    """Short commit hash of the code's checkout (with ``-dirty`` if tracked files changed), or "" outside git."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return f"{sha}-dirty" if dirty else sha


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


def _config(trainer: L.Trainer) -> str:
    if trainer.log_dir is not None and (Path(trainer.log_dir) / "config.yaml").exists():
        return str((Path(trainer.log_dir) / "config.yaml").resolve())
    return ""


def net_label(config: Mapping[str, Any]) -> str | None:
    """A method label from a resolved run config: the network's class name and the init arguments that differ
    from its defaults, e.g. ``HandPriorNet(joint_dtc=head, memory_tokens=0)``; None if there is no network."""
    spec = (config.get("model") or {}).get("net")
    if not isinstance(spec, Mapping) or "class_path" not in spec:
        return None
    module, _, name = str(spec["class_path"]).rpartition(".")
    init_args = dict(spec.get("init_args") or {})
    try:
        parameters = inspect.signature(getattr(importlib.import_module(module), name)).parameters
    except (ImportError, AttributeError, ValueError, TypeError):
        parameters = {}
    changed = {
        key: value
        for key, value in init_args.items()
        if key not in parameters
        or parameters[key].default is inspect.Parameter.empty
        or parameters[key].default != value
    }
    return f"{name}({', '.join(f'{k}={v}' for k, v in sorted(changed.items()))})" if changed else name


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
    the DataModule's root folder, the config from the run's saved ``config.yaml``.
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
        if not trainer.is_global_zero or trainer.sanity_checking:
            return
        saved_config = _config(trainer)
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
        )
        append_rows(self.path, rows)
        self.written = rows
