"""Readers and writers of a user's joint sequences: ``.npz``, ``.json`` and ``.csv``.

Joints are 21 per frame in the framework's order (wrist, then thumb, index, middle, ring, pinky, each from the
palm to the tip), in mm or m (decided later, see :mod:`handprior.inference.preprocess`).

* ``.npz``: ``pred (N,21,3)`` per-frame estimates (required); optional ``joints (N,21,3)`` ground truth,
  ``offsets (S+1,)`` sequence boundaries, ``names (S,)``, ``fps``. Read without unpickling anything.
* ``.json``: a list of frames, each 21 ``[x, y, z]`` (or 63 numbers), or ``{"frames": [...], "fps": 30}``;
  ``null`` / ``NaN`` mark missing values.
* ``.csv``: one row per frame; 63 value columns (joint-major: ``wrist_x, wrist_y, wrist_z, thumb1_x, ...``),
  with or without a header. With a header, joint-named columns may come in any order, beside optional
  ``frame`` / ``time`` / ``timestamp`` columns that are copied to the output. Empty cells and the usual
  missing-value tokens (``nan``, ``n/a``, ``NA``, ``null``, ``None``, ...) are missing values; a first row is a
  header when it names known columns or holds no number at all.

Untrusted files stay inert: ``.npz`` arrays are checked from their headers (no pickles, a size limit) before
they are read, text files over a size limit are refused, a file whose content is another format than its
extension is named for what it looks like, and a file where every frame is missing is refused.

Outputs take the format of their extension and, when it is the input's format, the input's layout (JSON
wrapper and frame shape, CSV header and column order, pass-through columns).
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from handprior.body.joints import JOINT_NAMES, NUM_JOINTS
from handprior.data.file_checks import MAX_TEXT_BYTES, check_looks_like, check_no_clash, check_writable
from handprior.data.store import check_offsets
from handprior.data.user_npz import read_npz
from handprior.errors import HandpriorInputError

FORMATS = {".npz": "npz", ".json": "json", ".csv": "csv"}
NPZ_KEYS = ("pred", "joints", "offsets", "names", "fps")
JSON_KEYS = ("frames", "fps")
CSV_COLUMNS: tuple[str, ...] = tuple(f"{name}_{axis}" for name in JOINT_NAMES for axis in "xyz")
CSV_PASSTHROUGH = ("frame", "time", "timestamp")
VALUES = NUM_JOINTS * 3
PLOT_SUFFIXES = (".png", ".gif")  # what `handprior refine --plot` writes
# Cells read as missing values (compared in lower case), as pandas' default na_values.
MISSING_TOKENS = frozenset(
    ["", "nan", "-nan", "+nan", "n/a", "na", "#n/a", "#n/a n/a", "#na", "<na>", "null", "none", "-1.#ind",
     "1.#ind", "-1.#qnan", "1.#qnan"]
)  # fmt: skip


@dataclass
class SequenceFile:
    """The sequences of one input file, as read (units not yet decided, NaN where values are missing)."""

    path: Path
    format: str
    pred: np.ndarray  # (N,21,3) float64: the per-frame estimates to refine
    offsets: np.ndarray  # (S+1,) int64: sequence s is frames offsets[s]:offsets[s+1]
    names: list[str]
    fps: float | None = None
    gt: np.ndarray | None = None  # (N,21,3) ground truth (npz 'joints', in the units of 'pred'), for plots
    json_wrapped: bool = False  # {"frames": [...]} rather than a bare list
    json_flat: bool = False  # frames of 63 numbers rather than 21 triplets
    csv_header: list[str] | None = None  # None: no header row
    csv_joint_columns: list[int] = field(default_factory=list)  # column of each of the 63 values
    csv_passthrough: dict[int, list[str]] = field(default_factory=dict)  # column -> cells, copied to the output

    @property
    def num_sequences(self) -> int:
        return len(self.offsets) - 1

    def sequence(self, index: int) -> slice:
        """Frame range of sequence ``index``."""
        return slice(int(self.offsets[index]), int(self.offsets[index + 1]))

    def label(self, index: int) -> str | Path:
        """How messages name sequence ``index``: the file, with the sequence's name when it holds several."""
        return f"{self.path}[{self.names[index]}]" if self.num_sequences > 1 else self.path


def file_format(path: str | Path) -> str:
    """``npz``, ``json`` or ``csv`` from the file extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise HandpriorInputError(f"unsupported file type {suffix or '(none)'!r}; use .npz, .json or .csv", path)
    return FORMATS[suffix]


def check_layout(array: np.ndarray, key: str, path: str | Path | None) -> None:
    """Shape (N,21,3) and a numeric dtype, before any value is looked at (missing values are allowed here;
    :func:`handprior.data.user_npz.check_joints` checks the values once they are complete and in mm)."""
    if array.ndim != 3 or array.shape[1:] != (NUM_JOINTS, 3):
        raise HandpriorInputError(f"{key!r} must have shape (N,21,3), found {tuple(array.shape)}", path)
    if not is_real(array):
        raise HandpriorInputError(f"{key!r} must be numeric, found dtype {array.dtype}", path)


def is_real(array: np.ndarray) -> bool:
    """Whether an array holds real numbers (integers or floats; not bool, complex, dates or text)."""
    return array.dtype.kind in "iuf"


def read_sequence(path: str | Path) -> SequenceFile:
    """Read a ``.npz``, ``.json`` or ``.csv`` joint file; :class:`HandpriorInputError` for any problem."""
    path = Path(path)
    kind = file_format(path)
    if kind == "npz":
        return _read_npz(path)
    text = read_text(path, kind, ignore=("csv",) if kind == "json" else ())
    if not text.strip():
        raise HandpriorInputError("file is empty", path)
    return _read_json(path, text) if kind == "json" else _read_csv(path, text)


def read_text(path: Path, kind: str, ignore: tuple[str, ...] = ()) -> str:
    """The text of a ``.json`` / ``.csv`` file, checked first: a file (not a folder), at most
    ``MAX_TEXT_BYTES``, content that looks like ``kind`` (another format named, except those in ``ignore``),
    UTF-8; :class:`HandpriorInputError` for any problem."""
    if path.is_dir():
        raise HandpriorInputError(f"is a folder, not a .{kind} file", path)
    if not path.is_file():
        raise HandpriorInputError("file does not exist", path)
    size = path.stat().st_size
    if size > MAX_TEXT_BYTES:
        raise HandpriorInputError(
            f"is {size / 2**20:.0f} MiB, over the limit of {MAX_TEXT_BYTES / 2**20:.0f} MiB", path
        )
    data = path.read_bytes()
    check_looks_like(path, kind, data[:4096], ignore=ignore)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HandpriorInputError(f"not a UTF-8 text file, as a .{kind} must be", path) from None


def _single(path: Path, kind: str, joints: np.ndarray, **layout: Any) -> SequenceFile:
    if len(joints) == 0:
        raise HandpriorInputError("holds no frames", path)
    check_not_all_missing(joints, path)
    offsets = np.array([0, len(joints)], dtype=np.int64)
    return SequenceFile(path, kind, joints.astype(np.float64), offsets, [path.stem], **layout)


def check_not_all_missing(joints: np.ndarray, path: Path, key: str = "") -> None:
    """Refuse joints (N,21,3) in which no frame has all its values (nothing to refine)."""
    if not np.isfinite(joints).all(axis=tuple(range(1, joints.ndim))).any():
        what = f"{key!r}: every frame" if key else "every frame"
        raise HandpriorInputError(f"{what} is missing (NaN, null or empty values): there is nothing to refine", path)


def _read_npz(path: Path) -> SequenceFile:
    data = read_npz(path)
    unknown = sorted(set(data) - set(NPZ_KEYS))
    if unknown:
        raise HandpriorInputError(f"unknown keys {unknown}; allowed: {list(NPZ_KEYS)} ('pred' required)", path)
    if "pred" not in data:
        raise HandpriorInputError(f"missing 'pred' (the per-frame joints to refine); found keys {sorted(data)}", path)
    pred = data["pred"]
    check_layout(pred, "pred", path)
    if len(pred) == 0:
        raise HandpriorInputError("'pred' holds no frames", path)
    check_not_all_missing(pred, path, "pred")
    gt = None
    if "joints" in data:
        check_layout(data["joints"], "joints", path)
        gt = data["joints"].astype(np.float64)  # ground truth, in the units of 'pred'
        if len(gt) != len(pred):
            raise HandpriorInputError(f"'joints' has {len(gt)} frames but 'pred' has {len(pred)}", path)
    offsets = np.array([0, len(pred)], dtype=np.int64)
    if "offsets" in data:
        offsets = check_offsets(data["offsets"], len(pred), path)
    count = len(offsets) - 1
    names = [path.stem] if count == 1 else [f"{path.stem}_{i}" for i in range(count)]
    if "names" in data:
        if data["names"].shape != (count,):
            raise HandpriorInputError(f"'names' must have one entry per sequence ({count})", path)
        names = [str(name) for name in data["names"]]
    fps = None
    if "fps" in data:
        if data["fps"].size != 1 or not is_real(data["fps"]):
            raise HandpriorInputError("'fps' must be one number", path)
        fps = float(data["fps"].reshape(()))
    return SequenceFile(path, "npz", pred.astype(np.float64), offsets.astype(np.int64), names, fps, gt)


def _frames_array(frames: list[Any], path: Path) -> tuple[np.ndarray, bool]:
    """JSON frames -> (L,21,3) float64 (None -> NaN) and whether frames were flat lists of 63 numbers."""
    for index, frame in enumerate(frames):
        try:
            shape = np.asarray(frame, dtype=np.float64).shape if isinstance(frame, list) else None
        except (ValueError, TypeError, OverflowError):
            shape = None
        if shape not in ((NUM_JOINTS, 3), (VALUES,)):
            found = "a ragged or non-numeric list" if shape is None else f"shape {shape}"
            raise HandpriorInputError(
                f"frame {index} has {found}; every frame must be 21 joints of [x, y, z] (or 63 numbers)", path
            )
    flat = np.asarray(frames[0], dtype=np.float64).ndim == 1
    try:
        joints = np.asarray(frames, dtype=np.float64)
    except ValueError:
        raise HandpriorInputError("frames mix 21x3 and flat 63-number layouts; use one", path) from None
    return joints.reshape(len(frames), NUM_JOINTS, 3), flat


def _read_json(path: Path, text: str) -> SequenceFile:
    try:
        content = json.loads(text)
    except json.JSONDecodeError as error:
        check_looks_like(path, "json", text[:4096].encode())
        raise HandpriorInputError(
            f"not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); truncated?", path
        ) from None
    except RecursionError:
        raise HandpriorInputError("JSON nested too deeply; frames are lists of 21 [x, y, z]", path) from None
    wrapped = isinstance(content, dict)
    fps = None
    if wrapped:
        unknown = sorted(set(content) - set(JSON_KEYS))
        if unknown:
            raise HandpriorInputError(f"unknown keys {unknown}; allowed: {list(JSON_KEYS)}", path)
        if "frames" not in content:
            raise HandpriorInputError("missing 'frames' (a list of frames of 21 joints)", path)
        if "fps" in content:
            if not isinstance(content["fps"], int | float) or isinstance(content["fps"], bool):
                raise HandpriorInputError("'fps' must be a number", path)
            try:
                fps = float(content["fps"])
            except OverflowError:
                raise HandpriorInputError("'fps' is out of range", path) from None
        content = content["frames"]
    if not isinstance(content, list):
        raise HandpriorInputError(
            f"expected a list of frames or an object with 'frames', found {type(content).__name__}", path
        )
    if not content:
        raise HandpriorInputError("holds no frames", path)
    joints, flat = _frames_array(content, path)
    return _single(path, "json", joints, fps=fps, json_wrapped=wrapped, json_flat=flat)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING_TOKENS


def _cell_value(cell: str) -> float:
    """A CSV cell as a number, NaN for a missing-value token; ValueError for anything else."""
    return np.nan if _is_missing(cell) else float(cell)


def is_header(row: list[str]) -> bool:
    """Whether a first CSV row is a header: it names a known column, or holds no number and not only missing
    values (a row of numbers and missing-value tokens is a frame)."""
    names = {cell.strip().lower() for cell in row}
    if names & {*CSV_COLUMNS, *CSV_PASSTHROUGH}:
        return True
    return not any(_is_number(cell) for cell in row) and not all(_is_missing(cell) for cell in row)


def _csv_columns(header: list[str], path: Path) -> tuple[list[int], list[int]]:
    """(column of each of the 63 values in canonical order, pass-through columns) from a header row."""
    names = [cell.strip().lower() for cell in header]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise HandpriorInputError(f"duplicate columns {duplicates}", path)
    passthrough = [i for i, name in enumerate(names) if name in CSV_PASSTHROUGH]
    values = [i for i, name in enumerate(names) if name not in CSV_PASSTHROUGH]
    named = [name for name in names if name in CSV_COLUMNS]
    if named:
        missing = [name for name in CSV_COLUMNS if name not in names]
        unknown = [header[i] for i in values if names[i] not in CSV_COLUMNS]
        if missing or unknown:
            parts = [f"missing columns {missing[:6]}{' ...' if len(missing) > 6 else ''}"] if missing else []
            parts += [f"unknown columns {unknown}"] if unknown else []
            raise HandpriorInputError(
                f"{'; '.join(parts)}; expected the 63 columns wrist_x, wrist_y, wrist_z, thumb1_x, ..., pinky4_z "
                f"and optionally {', '.join(CSV_PASSTHROUGH)}",
                path,
            )
        return [names.index(name) for name in CSV_COLUMNS], passthrough
    if len(values) != VALUES:
        raise HandpriorInputError(
            f"expected 63 value columns (21 joints x, y, z) or joint-named columns (wrist_x, ..., pinky4_z), found "
            f"{len(values)}: {[header[i] for i in values][:8]}{' ...' if len(values) > 8 else ''}",
            path,
        )
    return values, passthrough


def _read_csv(path: Path, text: str) -> SequenceFile:
    try:
        rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    except csv.Error as error:
        raise HandpriorInputError(f"not a readable CSV file ({error})", path) from None
    if not rows:
        raise HandpriorInputError("file is empty", path)
    header = rows[0] if is_header(rows[0]) else None
    if header is None:
        columns, passthrough = list(range(VALUES)), []
        width = VALUES
    else:
        columns, passthrough = _csv_columns(header, path)
        width = len(header)
        rows = rows[1:]
    if not rows:
        raise HandpriorInputError("holds no frames (a header only)", path)
    joints = np.empty((len(rows), VALUES), dtype=np.float64)
    first = 2 if header is not None else 1
    for index, row in enumerate(rows):
        if len(row) != width:
            raise HandpriorInputError(
                f"row {index + first} has {len(row)} cells, expected {width} (a truncated or malformed file?)", path
            )
        for k, column in enumerate(columns):
            cell = row[column].strip()
            try:
                joints[index, k] = _cell_value(cell)
            except ValueError:
                raise HandpriorInputError(
                    f"row {index + first}, column {column + 1}: {cell!r} is not a number", path
                ) from None
    kept = {column: [row[column] for row in rows] for column in passthrough}
    return _single(path, "csv", joints.reshape(-1, NUM_JOINTS, 3), csv_header=header, csv_joint_columns=columns,
                   csv_passthrough=kept)  # fmt: skip


# ------------------------------------------------------------------------------------------------- writing
def sidecar_path(path: str | Path) -> Path:
    """Where arrays that a ``.json`` / ``.csv`` output cannot hold go: ``<stem>.mano.npz`` beside it."""
    path = Path(path)
    return path.with_name(f"{path.stem}.mano.npz")


def output_files(path: str | Path, sidecar: bool = False) -> dict[str, Path | None]:
    """What writing ``path`` writes: the output and, with ``sidecar`` (arrays besides the joints), the
    :func:`sidecar_path` of a ``.json`` / ``.csv``."""
    path = Path(path)
    return {
        "the output": path,
        "the sidecar file": sidecar_path(path) if sidecar and file_format(path) != "npz" else None,
    }


def check_output(path: str | Path, source: SequenceFile, sidecar: bool = False) -> str:
    """The output format, refusing what cannot be written: an unknown extension, the input file itself (also
    through a link, and for the sidecar), a folder or an unwritable place, or several sequences into a
    one-sequence format."""
    kind = file_format(path)
    writes = output_files(path, sidecar)
    check_no_clash({"the input": source.path}, writes)
    for target in writes.values():
        if target is not None:
            check_writable(target)
    if kind != "npz" and source.num_sequences > 1:
        raise HandpriorInputError(
            f"the input holds {source.num_sequences} sequences; a .{kind} output holds one: write a .npz", path
        )
    return kind


def check_command_files(
    source: SequenceFile,
    output: str | Path,
    sidecar: bool = False,
    plot: str | Path | None = None,
    reads: dict[str, str | Path | None] | None = None,
) -> str:
    """Check every file a command will write against every file it reads, before any work: the output (and
    its sidecar), the figures in ``plot`` against the input and ``reads`` (role -> file or folder, whose files
    count). Returns the output format; :class:`HandpriorInputError` names both files of a clash."""
    kind = check_output(output, source, sidecar)
    read: dict[str, str | Path | None] = {"the input": source.path}
    for role, path in (reads or {}).items():
        if path is not None and Path(path).is_dir():
            read.update({f"{role} file": file for file in sorted(Path(path).iterdir()) if file.is_file()})
        else:
            read[role] = path
    writes: dict[str, str | Path | None] = {**output_files(output, sidecar)}
    if plot is not None:
        check_writable(plot, folder=True)
        if Path(plot).is_dir():  # figures are .png/.gif files named after the sequences; any there may be rewritten
            figures = [file for file in sorted(Path(plot).iterdir()) if file.suffix.lower() in PLOT_SUFFIXES]
            writes.update({f"the figure {file.name}": file for file in figures})
    check_no_clash(read, writes)
    return kind


def write_output(
    path: str | Path, source: SequenceFile, refined: np.ndarray, arrays: dict[str, np.ndarray], decimals: int = 4
) -> list[Path]:
    """Write refined joints (N,21,3) in the format of ``path``'s extension and return the written files.

    ``.npz`` holds ``refined``, ``input`` (as read), ``offsets``, ``names``, ``fps`` (if known), ``joints``
    (ground truth, if the input had it) and ``arrays``. ``.json`` / ``.csv`` hold the refined joints in the
    input's layout (rounded to ``decimals``); ``arrays`` then go to :func:`sidecar_path` when not empty.
    """
    path = Path(path)
    kind = check_output(path, source, sidecar=bool(arrays))
    if kind == "npz":
        content = {"refined": refined, "input": source.pred, "offsets": source.offsets,
                   "names": np.array(source.names), **arrays}  # fmt: skip
        if source.fps is not None:
            content["fps"] = np.array(source.fps)
        if source.gt is not None:
            content["joints"] = source.gt
        _atomic_write(path, lambda handle: np.savez(handle, **content))
        return [path]
    rounded = np.round(np.asarray(refined, dtype=np.float64), decimals)
    if kind == "json":
        _atomic_write(path, lambda handle: handle.write(_json_text(rounded, source).encode()))
    else:
        _atomic_write(path, lambda handle: handle.write(_csv_text(rounded, source, decimals).encode()))
    written = [path]
    if arrays:
        sidecar = sidecar_path(path)
        _atomic_write(sidecar, lambda handle: np.savez(handle, **arrays))
        written.append(sidecar)
    return written


def _json_text(joints: np.ndarray, source: SequenceFile) -> str:
    frames = joints.reshape(len(joints), -1) if source.format == "json" and source.json_flat else joints
    content: Any = frames.tolist()
    if source.format == "json" and source.json_wrapped:
        content = {"frames": content, **({"fps": source.fps} if source.fps is not None else {})}
    return json.dumps(content, separators=(",", ":"))


def _csv_text(joints: np.ndarray, source: SequenceFile, decimals: int) -> str:
    values = joints.reshape(len(joints), VALUES)
    from_csv = source.format == "csv"
    header = source.csv_header if from_csv else list(CSV_COLUMNS)
    columns = source.csv_joint_columns if from_csv else list(range(VALUES))
    width = len(header) if header is not None else VALUES
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header is not None:
        writer.writerow(header)
    for index, frame in enumerate(values):
        row = [""] * width
        for column, cells in (source.csv_passthrough if from_csv else {}).items():
            row[column] = cells[index]
        for k, column in enumerate(columns):
            row[column] = f"{frame[k]:.{decimals}f}"
        writer.writerow(row)
    return buffer.getvalue()


def _atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Write through ``write(handle)`` to a temporary file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
