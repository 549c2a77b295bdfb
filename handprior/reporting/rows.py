"""Long-format result rows in one CSV that many runs share (one row per run x metric); no Lightning import.

Columns: ``timestamp, run_id, group, method, seed, dataset, split, metric, value, unit, config, git_sha,
data_version`` (the dataset's version, e.g. the synthetic benchmark's "v2"; files written before that column
existed still read, their rows with an empty ``data_version``, and the next write adds the column).
Writes hold a ``filelock.FileLock`` (``<csv>.lock``), so parallel runs, sweep agents and benchmark workers
can write to the same file; ``handprior table`` pivots it into mean ± std per method.

A run's rows are all in the file or none are. :func:`append_rows` writes the whole file anew under the lock
(the current content plus the new rows, through a temporary file that is flushed to disk and renamed over
the CSV with ``os.replace``), so a crash at any moment leaves the old file or the new one, and a reader that
does not take the lock still never sees half a write. This was chosen over a completeness marker per run: it
keeps the file format (no marker rows for every reader to skip, and files written before stay valid), and
rewriting a results file of a few thousand rows costs milliseconds against a run of minutes.

Files written by earlier versions, which appended in place, can end a run with a line cut short by a crash.
Such a run is *partial*: :func:`read_rows` leaves out all its rows, :func:`partial_runs` names it, and the
next write drops its rows and the cut line, so that the run, written again, replaces them rather than
adding to them. A cut line belongs to the run it names; one cut before its ``run_id`` is whole belongs to
the run of the line before it when that run's id starts with what is left.
"""

from __future__ import annotations

import csv
import dataclasses
import inspect
import io
import os
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from filelock import FileLock

from handprior.errors import HandpriorInputError
from handprior.models.registry import registered_class_paths

INPUT_METHOD = "input"
UNITS = {"mpjpe": "mm", "mpvpe": "mm", "mpvpe_joints": "mm", "accel": "mm/frame^2", "bone_cv": "%"}
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
    data_version: str = ""  # e.g. the synthetic benchmark's version ("v2"); "" when unknown


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ResultRow))
LEGACY_COLUMNS: tuple[str, ...] = COLUMNS[:-1]  # files written before data_version was recorded


def store_data_version(store: Any) -> str:
    """The version a sequence store records of its data (meta.json ``benchmark_version``, e.g. the synthetic
    benchmark's "v2"), or "" when it records none: the ``data_version`` of the rows scored on it."""
    meta = getattr(store, "meta", None)
    version = meta.get("benchmark_version") if isinstance(meta, Mapping) else None
    return str(version) if version is not None else ""


def lock_for(path: str | Path) -> FileLock:
    """The lock that guards a results CSV (a ``.lock`` file beside it)."""
    return FileLock(f"{path}.lock")


def append_rows(path: str | Path, rows: Iterable[ResultRow]) -> int:
    """Add rows (one run's, say) to a results CSV in one atomic write under its file lock, creating the file
    with its header if needed; rows of partial runs already in the file are dropped. Returns the count."""
    rows = list(rows)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with lock_for(path):
        records = _parse(path)
        partial = {record.run for record in records if record.row is None and record.run is not None}
        kept = [record.fields for record in records if record.row is not None and record.run not in partial]
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer)
        writer.writerow(COLUMNS)
        writer.writerows(kept)
        writer.writerows([str(getattr(row, column)) for column in COLUMNS] for row in rows)
        _replace(path, buffer.getvalue().encode())
    return len(rows)


def read_rows(path: str | Path) -> list[ResultRow]:
    """All rows of complete runs in a results CSV (an empty list if it does not exist); the rows of a partial
    run, one that a crash cut short in a file written by an earlier version, are left out."""
    path = Path(path)
    if not path.exists():
        return []
    with lock_for(path):
        records = _parse(path)
    partial = {record.run for record in records if record.row is None}
    return [record.row for record in records if record.row is not None and record.run not in partial]


def partial_runs(path: str | Path) -> set[str]:
    """Ids of the runs whose rows a crash cut short (see the module docstring); empty if the file is absent."""
    path = Path(path)
    if not path.exists():
        return set()
    with lock_for(path):
        records = _parse(path)
    return {record.run for record in records if record.row is None and record.run is not None}


@dataclass(frozen=True)
class _Record:
    """One data line of a results CSV: its fields, the row (None when the line is cut short or unreadable),
    and the run it belongs to (None when that cannot be told)."""

    fields: list[str]
    row: ResultRow | None
    run: str | None


def _parse(path: Path) -> list[_Record]:
    """The data lines of a results CSV (the caller holds its lock); an absent or empty file has none."""
    try:
        text = path.read_bytes().decode()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as error:
        raise HandpriorInputError(f"cannot read the results CSV: {error}", path) from None
    lines = list(csv.reader(io.StringIO(text, newline="")))
    if not lines:
        return []
    header = ",".join(lines[0])
    legacy = lines[0] == list(LEGACY_COLUMNS)
    if lines[0] != list(COLUMNS) and not legacy:
        if len(lines) == 1 and ",".join(COLUMNS).startswith(header):  # a header cut short by a crash
            return []
        raise HandpriorInputError(f"not a results CSV: its header is {header!r}, expected {','.join(COLUMNS)!r}", path)
    ends_cut = not text.endswith("\n")  # the last line of a file that does not end with a newline is cut short
    run_column, records = COLUMNS.index("run_id"), []
    for number, cells in enumerate(lines[1:], start=1):
        if not cells:
            continue  # a blank line
        cut = ends_cut and number == len(lines) - 1
        if legacy and not cut and len(cells) == len(LEGACY_COLUMNS):
            cells = [*cells, ""]  # no data_version recorded
        row = None if cut else _row(cells)
        if row is not None:
            records.append(_Record(cells, row, row.run_id))
        elif len(cells) > run_column + 1:  # the run id is whole
            records.append(_Record(cells, None, cells[run_column]))
        else:  # cut within or before the run id: the run of the line before, if its id starts with what is left
            start = cells[run_column] if len(cells) > run_column else ""
            before = records[-1].run if records else None
            records.append(_Record(cells, None, before if before is not None and before.startswith(start) else None))
    return records


def _row(cells: list[str]) -> ResultRow | None:
    if len(cells) != len(COLUMNS):
        return None
    values = dict(zip(COLUMNS, cells, strict=True))
    try:
        value = float(values["value"])
    except ValueError:
        return None
    return ResultRow(**{**values, "value": value})


def _replace(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file beside it, flushed to disk, then ``os.replace``."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable (POSIX)
        folder = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(folder)
    except OSError:
        pass
    finally:
        os.close(folder)


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
    data_version: str = "",
) -> list[ResultRow]:
    """Rows for the ``{stage}/*`` metrics of a run: ``{stage}/input_<m>`` go to method "input", the rest to
    ``method``. Values may be tensors or numbers; ``data_version`` is the dataset's version (e.g. "v2")."""
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
                data_version=data_version,
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
    from its defaults, settings groups by their dotted names, e.g.
    ``HandPriorNet(joint_dtc.placement=head, memory.tokens=0)``; None if there is no network."""
    spec = (config.get("model") or {}).get("net")
    if not isinstance(spec, Mapping) or "class_path" not in spec:
        return None
    # Looked up in the registry of networks, never imported: a results folder's config is not trusted.
    cls = registered_class_paths().get(str(spec["class_path"]))
    name = cls.__name__ if cls is not None else str(spec["class_path"]).rpartition(".")[2]
    init_args = dict(spec.get("init_args") or {})
    parameters = inspect.signature(cls).parameters if cls is not None else {}
    changed: dict[str, Any] = {}
    for key, value in init_args.items():
        default = parameters[key].default if key in parameters else inspect.Parameter.empty
        changed.update(_changed_settings(key, value, default))
    return f"{name}({', '.join(f'{k}={v}' for k, v in sorted(changed.items()))})" if changed else name


def _changed_settings(key: str, value: Any, default: Any) -> dict[str, Any]:
    """``{key: value}`` unless value is the default; a settings dataclass is compared field by field
    (``{"memory.tokens": 0}``)."""
    if dataclasses.is_dataclass(default) and not isinstance(default, type) and isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for field, item in value.items():
            out.update(_changed_settings(f"{key}.{field}", item, getattr(default, field, inspect.Parameter.empty)))
        return out
    return {} if default is not inspect.Parameter.empty and default == value else {key: value}
