"""Reading the official annotation files: JSON, YAML (DexYCB's ``!!python/tuple``), text lists, npz members.

Every reader turns a missing or corrupt file into a :class:`HandpriorInputError` that names the file.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from handprior.errors import HandpriorInputError


def read_json(path: str | Path, what: str = "annotation file") -> Any:
    """Parse a JSON file (plain ``json``, no pycocotools)."""
    path = Path(path)
    if not path.is_file():
        raise HandpriorInputError(f"{what} not found", path)
    try:
        with path.open("rb") as handle:
            return json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise HandpriorInputError(f"{what} is not valid JSON ({error})", path) from None


def read_json_optional(path: Path) -> Any | None:
    """Like :func:`read_json` but None when the file does not exist (e.g. a frame without a fit)."""
    return read_json(path) if path.is_file() else None


class TupleSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads ``!!python/tuple`` (DexYCB's extrinsics) as a tuple, nothing else."""


def _construct_tuple(loader: yaml.SafeLoader, node: yaml.Node) -> tuple[Any, ...]:
    return tuple(loader.construct_sequence(node, deep=True))  # type: ignore[arg-type]


TupleSafeLoader.add_constructor("tag:yaml.org,2002:python/tuple", _construct_tuple)


def read_yaml(path: str | Path, what: str = "annotation file") -> Any:
    """Parse YAML safely (never executes tags other than ``!!python/tuple``)."""
    path = Path(path)
    if not path.is_file():
        raise HandpriorInputError(f"{what} not found", path)
    try:
        with path.open("r", encoding="utf-8") as handle:
            return yaml.load(handle, Loader=TupleSafeLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise HandpriorInputError(f"{what} is not valid YAML ({error})", path) from None


def read_npz_members(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """Only the listed members of an ``.npz`` (others, like large images, are never decompressed).

    None if the file does not exist; :class:`HandpriorInputError` if it is corrupt or lacks a member.
    """
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in keys if key not in archive.files]
            if missing:
                raise HandpriorInputError(f"missing arrays {missing} (has {archive.files})", path)
            return {key: archive[key] for key in keys}
    except (ValueError, zipfile.BadZipFile, OSError, EOFError) as error:
        raise HandpriorInputError(f"cannot read .npz ({error})", path) from None


def as_array(value: Any, shape: tuple[int, ...], what: str, path: Path) -> np.ndarray:
    """A JSON/YAML list as a float64 array of exactly ``shape`` (a flat list of the right size is reshaped)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise HandpriorInputError(f"{what} is not a numeric array", path) from None
    if array.size != math.prod(shape):
        raise HandpriorInputError(f"{what} has {array.size} values, expected shape {shape}", path)
    return array.reshape(shape)
