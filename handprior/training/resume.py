"""``--ckpt_path last`` across runs: find the previous run's last checkpoint and continue in its folder.

Every run writes ``<save_dir>/<name>/version_N/`` (its first logger's folder), and Lightning's own
``ckpt_path="last"`` only looks in the folder of the run being started, a new and empty ``version_N+1``. Here
"last" means the newest ``last*.ckpt`` under ``<save_dir>/<name>/*/checkpoints/`` (or under a
``ModelCheckpoint(dirpath=...)`` set in the config), and the resumed run is pointed back at that run's folder
(its first logger's ``version``), so checkpoints land beside the earlier ones and the best-checkpoint
bookkeeping of ``ModelCheckpoint`` (which only reloads when the folder is the same) carries over. Lightning's
CSV logger deletes an existing ``metrics.csv`` when it opens a folder, so the earlier one is first renamed
``metrics.partK.csv``. Apart from that rename, these are pure functions of the trainer configuration as
plain data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VERSIONED_LOGGERS = ("CSVLogger", "TensorBoardLogger")
DEFAULT_LOGGER_NAME = "lightning_logs"


@dataclass(frozen=True)
class ResumePoint:
    """Where a resumed run starts from: the checkpoint, and the version folder name to continue in (None
    when the checkpoints are not in a versioned logger folder)."""

    checkpoint: Path
    version: str | None

    @property
    def run_dir(self) -> Path | None:
        """The version folder of the run that wrote the checkpoint, if it is in one."""
        return None if self.version is None else self.checkpoint.parent.parent


def _loggers(trainer: Mapping[str, Any]) -> list[Any]:
    logger = trainer.get("logger")
    if logger is None or logger is True:
        return [True]  # Lightning's default logger
    if logger is False:
        return []
    return list(logger) if isinstance(logger, list | tuple) else [logger]


def run_root(trainer: Mapping[str, Any]) -> Path | None:
    """The folder that holds the version folders of the first logger (``save_dir/name``), if it is a
    versioned file logger (CSV, TensorBoard or Lightning's default); None otherwise."""
    loggers = _loggers(trainer)
    if not loggers:
        return None
    first = loggers[0]
    default_root = Path(trainer.get("default_root_dir") or ".")
    if first is True:
        return default_root / DEFAULT_LOGGER_NAME
    if not isinstance(first, Mapping) or not str(first.get("class_path", "")).endswith(VERSIONED_LOGGERS):
        return None
    init_args = first.get("init_args") or {}
    save_dir = init_args.get("save_dir") or default_root
    name = init_args.get("name", DEFAULT_LOGGER_NAME)
    return Path(save_dir) / str(name or "")


def explicit_checkpoint_dirs(trainer: Mapping[str, Any]) -> list[Path]:
    """``dirpath`` of every ``ModelCheckpoint`` in the configuration that sets one."""
    callbacks = trainer.get("callbacks") or []
    callbacks = callbacks if isinstance(callbacks, list | tuple) else [callbacks]
    dirs = []
    for callback in callbacks:
        if isinstance(callback, Mapping) and str(callback.get("class_path", "")).endswith("ModelCheckpoint"):
            dirpath = (callback.get("init_args") or {}).get("dirpath")
            if dirpath:
                dirs.append(Path(dirpath))
    return dirs


def newest_last_checkpoint(folders: Iterable[Path]) -> Path | None:
    """The most recently written ``last.ckpt`` / ``last-vN.ckpt`` in ``folders``, or None."""
    found = [path for folder in folders for path in Path(folder).glob("last*.ckpt") if path.is_file()]
    return max(found, key=lambda path: path.stat().st_mtime_ns) if found else None


def find_resume_point(trainer: Mapping[str, Any]) -> ResumePoint | None:
    """Resolve ``--ckpt_path last`` for a trainer configuration (plain data); None when no run left one."""
    explicit = explicit_checkpoint_dirs(trainer)
    if explicit:
        checkpoint = newest_last_checkpoint(explicit)
        return None if checkpoint is None else ResumePoint(checkpoint, None)
    root = run_root(trainer)
    if root is None or not root.is_dir():
        return None
    checkpoint = newest_last_checkpoint(sorted(root.glob("*/checkpoints")))
    if checkpoint is None:
        return None
    return ResumePoint(checkpoint, checkpoint.parent.parent.name)


def searched_places(trainer: Mapping[str, Any]) -> str:
    """Where :func:`find_resume_point` looked, for messages."""
    explicit = explicit_checkpoint_dirs(trainer)
    if explicit:
        return ", ".join(str(path / "last*.ckpt") for path in explicit)
    root = run_root(trainer)
    return "nowhere (the first logger keeps no version folders)" if root is None else str(root / "*" / "checkpoints")


def set_aside_metrics(run_dir: Path) -> Path | None:
    """Rename ``run_dir/metrics.csv`` to the first free ``metrics.partK.csv`` (K = 1, 2, ...) and return the
    new path; None when there is none."""
    metrics = Path(run_dir) / "metrics.csv"
    if not metrics.is_file():
        return None
    part = 1
    while (target := metrics.with_name(f"metrics.part{part}.csv")).exists():
        part += 1
    metrics.rename(target)
    return target
