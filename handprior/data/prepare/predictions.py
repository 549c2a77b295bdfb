"""The predictions file: per-frame joints of a single-frame estimator, keyed by the dataset's own frame ids.

Format (one ``.npz`` for a whole dataset, written by :func:`write_predictions`, no pickled objects)::

    keys           (P,)       str    frame identifier: the image's path relative to the dataset root, e.g.
                                     "images/test/Capture0/0266_dh_pray/cam400030/image1000.jpg" (docs/datasets.md
                                     lists the form per dataset; absolute paths work, the known tail is matched)
    hands          (P,)       str    "right" | "left" (required for InterHand2.6M and Re:InterHand; optional for
                                     single-hand datasets, where it must match the annotated hand if given)
    joints         (P,21,3)   float  camera frame of that image, canonical joint order, left hands NOT mirrored
    units          ()         str    "mm" | "m"; checked against the joints' magnitude
    root_relative  ()         bool   optional (default False): joints are relative to the wrist; the store then
                                     keeps ground truth and predictions wrist-relative
    source         ()         str    optional, the estimator's name (goes into meta.json)

Without a predictions file the preparers simulate one with the project's estimator-noise simulator
(:func:`simulate_predictions`) and say so in meta.json.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from handprior.body.joints import NUM_JOINTS, SIDES
from handprior.data.prepare.geometry import check_hand_size_mm
from handprior.data.prepare.report import NO_PREDICTION, PREDICTION_NOT_FINITE
from handprior.data.prepare.sequences import Track
from handprior.data.user_npz import check_joint_shape, read_npz
from handprior.errors import HandpriorInputError

FORMAT_VERSION = 1
UNIT_SCALE = {"mm": 1.0, "m": 1000.0}
ANY_SIDE = "any"


@dataclass(frozen=True)
class KeyScheme:
    """How one dataset names its frames: parse a key into a frame id tuple (view..., frame) and back."""

    dataset: str
    parse: Callable[[str], tuple[Any, ...] | None]  # None if the key does not have this dataset's form
    format: Callable[[tuple[Any, ...]], str]
    example: str
    two_hands: bool  # True if an image can show both hands (then "hands" is required)


def normalise_path(key: str) -> str:
    """Forward slashes, no leading "./" (keys written on Windows or with relative prefixes still match)."""
    key = key.replace("\\", "/")
    while key.startswith("./"):
        key = key[2:]
    return key


def as_strings(array: np.ndarray, key: str, path: Path, length: int | None = None) -> list[str]:
    """A 1-D string (or bytes) array as a list of str."""
    if array.ndim != 1 or array.dtype.kind not in "US":
        raise HandpriorInputError(f"{key!r} must be a 1-D string array, found dtype {array.dtype} {array.shape}", path)
    if length is not None and len(array) != length:
        raise HandpriorInputError(f"{key!r} has {len(array)} entries, expected {length}", path)
    return [v.decode() if isinstance(v, bytes) else str(v) for v in array.tolist()]


def scalar(data: dict[str, np.ndarray], key: str, default: Any) -> Any:
    """A 0-d entry of an npz as a Python value (str, bool, float) or ``default``."""
    if key not in data:
        return default
    value = data[key]
    value = value.item() if value.ndim == 0 else value.reshape(-1)[0].item() if value.size == 1 else value
    return value.decode() if isinstance(value, bytes) else value


def check_joint_array(joints: np.ndarray, key: str, path: Path) -> np.ndarray:
    """Shape ``(N,21,3)`` and a numeric dtype; returns float64 (non-finite rows are kept for counting)."""
    return check_joint_shape(joints, key, path).astype(np.float64)


@dataclass
class PredictionTable:
    """A loaded predictions file, indexed by (frame id..., side)."""

    path: Path
    joints: np.ndarray  # (P,21,3) mm, camera frame, not mirrored
    index: dict[tuple[Any, ...], int]  # frame id + (side,) -> row; side is "any" when the file has no hands
    root_relative: bool
    source: str
    seen: np.ndarray = field(init=False)  # (P,) bool: matched an annotated frame (kept or dropped)
    used: np.ndarray = field(init=False)  # (P,) bool: matched a kept frame

    def __post_init__(self) -> None:
        self.seen = np.zeros(len(self.joints), dtype=bool)
        self.used = np.zeros(len(self.joints), dtype=bool)

    def views(self) -> set[tuple[Any, ...]]:
        """The views (frame ids without the frame index) that have at least one prediction."""
        return {key[:-2] for key in self.index}

    def rows(self, track: Track) -> np.ndarray:
        """Row of each frame of ``track`` (F,), -1 where there is no prediction."""
        out = np.full(len(track.frames), -1, dtype=np.int64)
        for i in range(len(track.frames)):
            frame_id = track.frame_id(i)
            row = self.index.get((*frame_id, track.side), self.index.get((*frame_id, ANY_SIDE), -1))
            out[i] = row
        return out

    def summary(self) -> dict[str, int]:
        """How the predictions were used; unmatched ones are counted, never silently ignored."""
        return {
            "total": len(self.joints),
            "matched_kept_frames": int(self.used.sum()),
            "matched_dropped_frames": int((self.seen & ~self.used).sum()),
            "unmatched": int((~self.seen).sum()),
        }


def load_predictions(path: str | Path, scheme: KeyScheme) -> PredictionTable:
    """Read and validate a predictions file for the dataset of ``scheme``.

    Raises :class:`HandpriorInputError` for missing keys, bad shapes, unknown units, units that contradict the
    joints' magnitude, keys that are not frame identifiers of this dataset, and duplicate (key, hand) entries.
    """
    path = Path(path)
    data = read_npz(path)
    missing = [key for key in ("keys", "joints", "units") if key not in data]
    if missing:
        raise HandpriorInputError(f"missing {missing}; a predictions file needs keys, joints, units (docs/datasets.md)", path)
    joints = check_joint_array(data["joints"], "joints", path)  # (P,21,3)
    keys = as_strings(data["keys"], "keys", path, len(joints))
    units = scalar(data, "units", None)
    if units not in UNIT_SCALE:
        raise HandpriorInputError(f"'units' must be 'mm' or 'm', found {units!r}", path)
    joints = joints * UNIT_SCALE[units]
    check_hand_size_mm(joints, f"predictions declared in {units!r}", path)
    if "hands" in data:
        hands = as_strings(data["hands"], "hands", path, len(joints))
        bad = sorted({h for h in hands if h not in SIDES})
        if bad:
            raise HandpriorInputError(f"'hands' must hold 'right' or 'left', found {bad[:3]}", path)
    elif scheme.two_hands:
        raise HandpriorInputError(f"'hands' (right/left per row) is required: {scheme.dataset} images show two hands", path)
    else:
        hands = [ANY_SIDE] * len(joints)
    index: dict[tuple[Any, ...], int] = {}
    bad_keys: list[str] = []
    for row, (key, hand) in enumerate(zip(keys, hands)):
        frame_id = scheme.parse(normalise_path(key))
        if frame_id is None:
            bad_keys.append(key)
            continue
        if index.setdefault((*frame_id, hand), row) != row:
            raise HandpriorInputError(f"duplicate prediction for {key!r} ({hand} hand)", path)
    if bad_keys:
        raise HandpriorInputError(
            f"{len(bad_keys)} of {len(keys)} keys are not {scheme.dataset} frame identifiers (e.g. {bad_keys[:3]}); "
            f"expected image paths like {scheme.example!r}",
            path,
        )
    source = str(scalar(data, "source", path.stem))
    return PredictionTable(path, joints, index, bool(scalar(data, "root_relative", False)), source)


def attach_predictions(track: Track, table: PredictionTable) -> Track:
    """Set ``track.pred`` from the table; frames without a (finite) prediction are marked dropped."""
    rows = table.rows(track)  # (F,)
    found = rows >= 0
    table.seen[rows[found]] = True
    pred = np.full(track.gt.shape, np.nan)  # (F,21,3)
    pred[found] = table.joints[rows[found]]
    track.drop(~found, NO_PREDICTION)
    track.drop(~np.isfinite(pred).all(axis=(1, 2)), PREDICTION_NOT_FINITE)
    kept = track.reasons == ""
    table.used[rows[kept]] = True
    track.pred = pred
    return track


def check_matched(table: PredictionTable, scheme: KeyScheme) -> None:
    """Raise if no prediction matched any annotated frame: the identifiers do not belong to these annotations."""
    if len(table.joints) and not table.seen.any():
        example = next(iter(table.index))
        raise HandpriorInputError(
            f"none of the {len(table.joints)} predictions matches an annotated frame of the prepared splits "
            f"(first key parses as {example[:-1]}, hand {example[-1]!r}; annotated frames look like "
            f"{scheme.example!r}): wrong dataset root, split or identifiers",
            table.path,
        )


def write_predictions(
    path: str | Path,
    keys: Sequence[str],
    joints: np.ndarray,
    units: str,
    hands: Sequence[str] | None = None,
    root_relative: bool = False,
    source: str = "",
) -> Path:
    """Write a predictions file in the format of this module (``joints (P,21,3)`` in ``units``)."""
    if units not in UNIT_SCALE:
        raise ValueError(f"units must be 'mm' or 'm', got {units!r}")
    joints = np.asarray(joints, dtype=np.float32)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3) or len(joints) != len(keys):
        raise ValueError(f"joints must be (P,21,3) with one row per key, got {joints.shape} for {len(keys)} keys")
    arrays: dict[str, np.ndarray] = {
        "keys": np.asarray(list(keys), dtype=str),
        "joints": joints,
        "units": np.asarray(units),
        "root_relative": np.asarray(bool(root_relative)),
        "source": np.asarray(source),
        "version": np.asarray(FORMAT_VERSION),
    }
    if hands is not None:
        arrays["hands"] = np.asarray(list(hands), dtype=str)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def simulate_predictions(gt: np.ndarray, offsets: np.ndarray, profile: str, seed: int, fps: float) -> np.ndarray:
    """Simulated single-frame estimates (N,21,3) mm for ground truth ``gt (N,21,3)`` with the noise simulator."""
    from handprior.data.synthetic.noise import get_profile, simulate

    try:
        noise = get_profile(profile)
    except ValueError as error:
        raise HandpriorInputError(str(error)) from None
    return simulate(gt, offsets, noise, np.random.default_rng(seed), fps=fps).astype(np.float32)
