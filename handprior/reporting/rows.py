"""Long-format result rows in one CSV that many runs share (one row per run x metric); no Lightning import.

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
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from filelock import FileLock

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
