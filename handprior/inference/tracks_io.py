"""Reading and writing the output of HaMeR / WiLoR over a video: several hands per frame, a track per hand.

The layout (``docs/estimator_tracks.md`` describes it in full) has one row per detected hand:

* ``.npz``: per-detection arrays ``frame (D,)``, ``track_id (D,)`` (integers or strings), ``is_right (D,)``,
  ``global_orient (D,1,3,3)``, ``hand_pose (D,15,3,3)``, ``betas (D,10)``, ``keypoints_3d (D,21,3)``,
  ``cam_t (D,3)``; optional ``vertices (D,778,3)`` and ``fps``. Other arrays are copied to the output unchanged.
* ``.json``: a list of per-frame records ``{"frame": 0, "hands": [{"track_id": 0, "is_right": true,
  "global_orient": ..., "hand_pose": ..., "betas": ..., "keypoints_3d": ..., "cam_t": ...}, ...]}``, or
  ``{"frames": [...], "fps": 30}``. ``frame`` defaults to the record's position; other keys of records and
  hands are copied to the output unchanged.

Rotations are rotation matrices (HaMeR: ``(1,3,3)`` and ``(15,3,3)``; ``(3,3)`` is accepted for the global
orientation) or axis-angle (WiLoR-mini: ``(1,3)`` / ``(3,)`` and ``(15,3)`` / ``(45,)``), one kind per file; the
output keeps the kind and the shapes. Hands are as seen in the image: a left hand's keypoints are a left hand's,
and its MANO parameters are those of the left MANO model, the mirror of the right one's (matrices ``M R M``
with ``M = diag(-1, 1, 1)``, axis-angle ``(x, -y, -z)``). ``keypoints_3d + cam_t`` are the joints in the camera
frame, 21 in OpenPose order (the framework's), in metres (or millimetres: the units are detected).

Nothing read executes code: ``.npz`` members are checked from their headers and read without pickles, JSON is
size-limited and parsed as data.
"""

from __future__ import annotations

import copy
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from handprior.body.joints import NUM_JOINTS
from handprior.data.user_npz import read_npz
from handprior.errors import HandpriorInputError
from handprior.inference.io import _atomic_write, file_format, is_real, read_text

HAND_KEYS = ("track_id", "is_right", "global_orient", "hand_pose", "betas", "keypoints_3d", "cam_t")
NPZ_REQUIRED = ("frame", *HAND_KEYS)
MARKERS = ("keypoints_3d", "global_orient", "hand_pose")  # keys that say a file is in this layout
ROTATION_TOLERANCE = 1e-3  # max |R^T R - I| and |det R - 1| of an accepted rotation matrix
NUM_BETAS = 10
NUM_VERTS = 778
# Accepted per-hand shapes: key -> {shape: rotation kind or None}
SHAPES: dict[str, dict[tuple[int, ...], str | None]] = {
    "global_orient": {(1, 3, 3): "matrix", (3, 3): "matrix", (1, 3): "axis_angle", (3,): "axis_angle"},
    "hand_pose": {(15, 3, 3): "matrix", (15, 3): "axis_angle", (45,): "axis_angle"},
    "betas": {(NUM_BETAS,): None},
    "keypoints_3d": {(NUM_JOINTS, 3): None},
    "cam_t": {(3,): None},
    "vertices": {(NUM_VERTS, 3): None},
}
MIRROR = np.diag([-1.0, 1.0, 1.0])  # x -> -x
JSON_HEAD_BYTES = 1 << 16  # how much of a JSON file is looked at to tell the layout
_JSON_MARKER = re.compile(rb'"(hands|keypoints_3d|global_orient)"\s*:')


@dataclass
class HandTracks:
    """One file of per-frame hand detections with track ids, as read (D detections, file units, left hands as
    seen, rotations as matrices whatever the file held)."""

    path: Path
    format: str  # "npz" | "json"
    frame: np.ndarray  # (D,) int64 frame index of each detection
    track_id: list[Any]  # (D,) the track of each detection, as in the file (int or str)
    is_right: np.ndarray  # (D,) bool
    global_orient: np.ndarray  # (D,3,3) float64 rotation matrices
    hand_pose: np.ndarray  # (D,15,3,3) float64 rotation matrices
    betas: np.ndarray  # (D,10) float64
    keypoints_3d: np.ndarray  # (D,21,3) float64
    cam_t: np.ndarray  # (D,3) float64
    rotation: str  # "matrix" | "axis_angle": what the file holds (and the output will)
    shapes: dict[str, tuple[int, ...]]  # per-hand shape of each key as in the file, for writing back
    fps: float | None = None
    has_vertices: bool = False
    raw: Any = None  # npz: the arrays as read; json: the parsed document (copied when writing)
    hands: list[dict[str, Any]] = field(default_factory=list)  # json: the hand objects of ``raw``, in row order

    @property
    def num_detections(self) -> int:
        return len(self.frame)

    def camera_joints(self) -> np.ndarray:
        """(D,21,3) joints in the camera frame, file units: ``keypoints_3d + cam_t``."""
        return self.keypoints_3d + self.cam_t[:, None, :]

    def tracks(self) -> list[tuple[Any, np.ndarray]]:
        """(track id, rows sorted by frame) per track, in order of first appearance; checked: one side per
        track, one detection per track and frame."""
        order: dict[Any, list[int]] = {}
        for row, tid in enumerate(self.track_id):
            order.setdefault(tid, []).append(row)
        out = []
        for tid, rows in order.items():
            rows_sorted = np.array(rows, dtype=np.int64)[np.argsort(self.frame[rows], kind="stable")]
            frames = self.frame[rows_sorted]
            repeated = frames[1:][np.diff(frames) == 0]
            if len(repeated):
                raise HandpriorInputError(
                    f"track {tid!r} has two detections in frame {int(repeated[0])}; one hand per track and frame",
                    self.path,
                )
            sides = self.is_right[rows_sorted]
            if not (sides == sides[0]).all():
                change = int(np.flatnonzero(sides != sides[0])[0])
                was, now = ("right", "left") if sides[0] else ("left", "right")
                raise HandpriorInputError(
                    f"track {tid!r} changes side at frame {int(frames[change])} ({was} before, {now} there); a track "
                    "is one hand: split it or fix is_right",
                    self.path,
                )
            out.append((tid, rows_sorted))
        return out


def is_track_file(path: str | Path) -> bool:
    """Whether a file is in this layout, from its keys: an ``.npz`` with ``keypoints_3d`` / ``global_orient`` /
    ``hand_pose`` members (read from the zip directory only), a ``.json`` whose first 64 KiB name ``hands``,
    ``keypoints_3d`` or ``global_orient``. False for anything unreadable (the ordinary readers say why)."""
    path = Path(path)
    try:
        kind = file_format(path)
        if not path.is_file():
            return False
        if kind == "npz":
            with zipfile.ZipFile(path) as archive:
                names = {name.removesuffix(".npy") for name in archive.namelist()}
            return bool(names & set(MARKERS))
        if kind == "json":
            with path.open("rb") as handle:
                return _JSON_MARKER.search(handle.read(JSON_HEAD_BYTES)) is not None
    except (HandpriorInputError, OSError, zipfile.BadZipFile, ValueError):
        return False
    return False


def read_tracks(path: str | Path) -> HandTracks:
    """Read a ``.npz`` or ``.json`` track file; :class:`HandpriorInputError` (one line naming the file) for
    missing keys, shape mismatches, non-rotations, sides changing within a track or repeated detections."""
    path = Path(path)
    kind = file_format(path)
    if kind == "npz":
        tracks = _read_npz(path)
    elif kind == "json":
        tracks = _read_json(path)
    else:
        raise HandpriorInputError("a HaMeR/WiLoR track file is a .npz or a .json", path)
    tracks.tracks()  # sides and repeats checked on reading
    return tracks


# --------------------------------------------------------------------------------------------- checks
def _per_hand(array: np.ndarray, key: str, path: Path, what: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """Check one key's per-hand shape (array (D,...) for npz, (...) stacked for json) and dtype."""
    shape = tuple(array.shape[1:])
    if shape not in SHAPES[key]:
        allowed = " or ".join(str(s) for s in SHAPES[key])
        raise HandpriorInputError(f"{what}{key!r} has shape {shape} per hand; expected {allowed}", path)
    if not is_real(array):
        raise HandpriorInputError(f"{what}{key!r} must be numeric, found dtype {array.dtype}", path)
    bad = ~np.isfinite(array.reshape(len(array), -1)).all(axis=1)
    if bad.any():
        raise HandpriorInputError(f"{what}{key!r} has NaN/inf in detection {int(np.flatnonzero(bad)[0])}", path)
    return array.astype(np.float64), shape


def check_rotations(matrices: np.ndarray, key: str, path: Path, tolerance: float = ROTATION_TOLERANCE) -> None:
    """Refuse matrices (...,3,3) that are not rotations: ``max |R^T R - I| > tolerance`` or ``|det R - 1| >
    tolerance`` (a reflection has det -1), naming the first bad detection."""
    flat = matrices.reshape(len(matrices), -1, 3, 3)  # (D,K,3,3)
    gram = np.einsum("dkji,dkjl->dkil", flat, flat) - np.eye(3)  # R^T R - I
    ortho = np.abs(gram).max(axis=(2, 3))  # (D,K)
    det = np.linalg.det(flat)  # (D,K)
    bad = (ortho > tolerance) | (np.abs(det - 1.0) > tolerance)
    if bad.any():
        d, k = (int(i) for i in np.argwhere(bad)[0])
        which = f" (joint {k})" if flat.shape[1] > 1 else ""
        raise HandpriorInputError(
            f"{key!r} of detection {d}{which} is not a rotation matrix: max |R^T R - I| = {ortho[d, k]:.3g}, det = "
            f"{det[d, k]:.4g} (tolerance {tolerance:g}; a rotation has R^T R = I and det = +1)",
            path,
        )


def _as_matrices(array: np.ndarray, kind: str | None, key: str, path: Path) -> np.ndarray:
    """(D,...) rotations of either kind -> (D,K,3,3) float64 matrices (checked when given as matrices)."""
    count = len(array)
    if kind == "matrix":
        matrices = array.reshape(count, -1, 3, 3)
        check_rotations(matrices, key, path)
        return matrices
    vectors = array.reshape(-1, 3)
    return Rotation.from_rotvec(vectors).as_matrix().reshape(count, -1, 3, 3)


def _build(path: Path, kind: str, columns: dict[str, np.ndarray], ids: list[Any], what: str = "") -> HandTracks:
    """Checked arrays per key (D,...) -> HandTracks."""
    count = len(ids)
    arrays, shapes = {}, {}
    for key in ("global_orient", "hand_pose", "betas", "keypoints_3d", "cam_t", "vertices"):
        if key in columns:
            arrays[key], shapes[key] = _per_hand(columns[key], key, path, what)
    kinds = {SHAPES[key][shapes[key]] for key in ("global_orient", "hand_pose")}
    if len(kinds) != 1:
        raise HandpriorInputError(
            "'global_orient' and 'hand_pose' mix rotation matrices and axis-angle; use one kind", path
        )
    rotation = kinds.pop()
    assert rotation is not None
    frame = columns["frame"]
    if not (frame.dtype.kind in "iu" or (frame.dtype.kind == "f" and np.all(frame == np.round(frame)))):
        raise HandpriorInputError(f"{what}'frame' must hold integer frame indices, found dtype {frame.dtype}", path)
    if (frame < 0).any():
        raise HandpriorInputError(f"{what}'frame' holds a negative index ({int(frame.min())})", path)
    is_right = columns["is_right"]
    if is_right.dtype.kind not in "biuf" or not np.isin(is_right, (0, 1)).all():
        raise HandpriorInputError(f"{what}'is_right' must be true/false or 1/0 per hand", path)
    return HandTracks(
        path=path,
        format=kind,
        frame=frame.astype(np.int64).reshape(count),
        track_id=ids,
        is_right=is_right.astype(bool).reshape(count),
        global_orient=_as_matrices(arrays["global_orient"], rotation, "global_orient", path)[:, 0],
        hand_pose=_as_matrices(arrays["hand_pose"], rotation, "hand_pose", path),
        betas=arrays["betas"],
        keypoints_3d=arrays["keypoints_3d"],
        cam_t=arrays["cam_t"],
        rotation=rotation,
        shapes=shapes,
        has_vertices="vertices" in arrays,
    )


def _read_npz(path: Path) -> HandTracks:
    data = read_npz(path)
    missing = [key for key in NPZ_REQUIRED if key not in data]
    if missing:
        raise HandpriorInputError(
            f"missing keys {missing} for a HaMeR/WiLoR track file (needs {list(NPZ_REQUIRED)}); found {sorted(data)}",
            path,
        )
    if data["frame"].ndim != 1:
        raise HandpriorInputError(f"'frame' must be 1-D (one entry per detection), found {data['frame'].shape}", path)
    count = len(data["frame"])
    if count == 0:
        raise HandpriorInputError("holds no detections", path)
    for key in (*HAND_KEYS, *(["vertices"] if "vertices" in data else [])):
        if data[key].ndim == 0 or len(data[key]) != count:
            found = "a scalar" if data[key].ndim == 0 else f"{len(data[key])} entries"
            raise HandpriorInputError(f"{key!r} has {found}, but 'frame' has {count} detections", path)
    for key in ("track_id", "is_right"):
        if data[key].ndim != 1:
            raise HandpriorInputError(f"{key!r} must be 1-D (one entry per detection), found {data[key].shape}", path)
    track = data["track_id"]
    if track.dtype.kind in "iu":
        ids: list[Any] = [int(t) for t in track]
    elif track.dtype.kind in "US":
        ids = [t.decode() if isinstance(t, bytes) else str(t) for t in track.tolist()]
    else:
        raise HandpriorInputError(f"'track_id' must hold integers or strings, found dtype {track.dtype}", path)
    tracks = _build(path, "npz", data, ids)
    if "fps" in data:
        if data["fps"].size != 1 or not is_real(data["fps"]):
            raise HandpriorInputError("'fps' must be one number", path)
        tracks.fps = float(data["fps"].reshape(()))
    tracks.raw = data
    return tracks


def _read_json(path: Path) -> HandTracks:
    text = read_text(path, "json")
    try:
        content = json.loads(text)
    except json.JSONDecodeError as error:
        raise HandpriorInputError(
            f"not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); truncated?", path
        ) from None
    except RecursionError:
        raise HandpriorInputError("JSON nested too deeply", path) from None
    fps = None
    records = content
    if isinstance(content, dict):
        if "frames" not in content or not isinstance(content["frames"], list):
            raise HandpriorInputError(
                "a track file's JSON is a list of frame records or an object whose 'frames' is that list", path
            )
        records = content["frames"]
        if "fps" in content:
            if not isinstance(content["fps"], int | float) or isinstance(content["fps"], bool):
                raise HandpriorInputError("'fps' must be a number", path)
            fps = float(content["fps"])
    if not isinstance(records, list) or not records:
        raise HandpriorInputError("holds no frame records", path)
    frames: list[int] = []
    hands: list[dict[str, Any]] = []
    for position, record in enumerate(records):
        if not isinstance(record, dict) or not isinstance(record.get("hands"), list):
            raise HandpriorInputError(
                f"frame record {position} must be an object with a 'hands' list (each hand: {list(HAND_KEYS)})", path
            )
        frame = record.get("frame", position)
        if not isinstance(frame, int) or isinstance(frame, bool):
            raise HandpriorInputError(f"frame record {position}: 'frame' must be an integer, found {frame!r}", path)
        for number, hand in enumerate(record["hands"]):
            where = f"frame record {position}, hand {number}"
            if not isinstance(hand, dict):
                raise HandpriorInputError(f"{where} must be an object with {list(HAND_KEYS)}", path)
            missing = [key for key in HAND_KEYS if key not in hand]
            if missing:
                raise HandpriorInputError(f"{where} is missing keys {missing} (needs {list(HAND_KEYS)})", path)
            tid = hand["track_id"]
            if isinstance(tid, bool) or not isinstance(tid, int | str):
                raise HandpriorInputError(f"{where}: 'track_id' must be an integer or a string, found {tid!r}", path)
            if not isinstance(hand["is_right"], bool | int) or hand["is_right"] not in (0, 1):
                raise HandpriorInputError(f"{where}: 'is_right' must be true/false or 1/0, found {hand['is_right']!r}",
                                          path)  # fmt: skip
            frames.append(frame)
            hands.append(hand)
    if not hands:
        raise HandpriorInputError("holds no hands in any frame record", path)
    has_vertices = all("vertices" in hand for hand in hands)
    columns: dict[str, np.ndarray] = {
        "frame": np.array(frames, dtype=np.int64),
        "is_right": np.array([int(hand["is_right"]) for hand in hands], dtype=np.int64),
    }
    for key in (
        "global_orient",
        "hand_pose",
        "betas",
        "keypoints_3d",
        "cam_t",
        *(["vertices"] if has_vertices else []),
    ):
        columns[key] = _stack(hands, key, path)
    tracks = _build(path, "json", columns, [hand["track_id"] for hand in hands])
    tracks.fps, tracks.raw, tracks.hands = fps, content, hands
    return tracks


def _stack(hands: list[dict[str, Any]], key: str, path: Path) -> np.ndarray:
    """One key of every hand as an array (D,...): every hand must give it the same numeric shape."""
    shapes = set()
    values = []
    for row, hand in enumerate(hands):
        try:
            value = np.asarray(hand[key], dtype=np.float64)
        except (ValueError, TypeError, OverflowError):
            raise HandpriorInputError(
                f"hand {row}: {key!r} is not a numeric array (ragged or non-numeric)", path
            ) from None
        shapes.add(value.shape)
        if len(shapes) > 1:
            raise HandpriorInputError(
                f"hand {row}: {key!r} has shape {value.shape}, other hands {sorted(shapes - {value.shape})[0]}; use one "
                "shape",
                path,
            )
        values.append(value)
    return np.stack(values)


# -------------------------------------------------------------------------------------------- writing
def check_track_output(path: str | Path, tracks: HandTracks) -> None:
    """A track file is written in its own format (its keys and layout kept): the output's extension must be
    the input's."""
    kind = file_format(path)
    if kind != tracks.format:
        raise HandpriorInputError(
            f"a HaMeR/WiLoR track file is written in its input's format (.{tracks.format}), to keep its layout; "
            f"got .{kind}",
            path,
        )


def _rotations_out(matrices: np.ndarray, kind: str, shape: tuple[int, ...]) -> np.ndarray:
    """(D,K,3,3) matrices -> (D,*shape) in the file's kind."""
    count = len(matrices)
    if kind == "matrix":
        return matrices.reshape(count, *shape)
    return Rotation.from_matrix(matrices.reshape(-1, 3, 3)).as_rotvec().reshape(count, *shape)


def write_tracks(path: str | Path, tracks: HandTracks, values: dict[str, np.ndarray], decimals: int = 8) -> Path:
    """Write ``tracks`` with new per-detection ``values`` (row order of the file): ``global_orient (D,3,3)``,
    ``hand_pose (D,15,3,3)`` (matrices; written in the file's kind and shapes), ``betas``, ``keypoints_3d``,
    ``cam_t`` replace the input's; other keys (``refined_joints``, ``fit_error``, ``vertices``) are added or
    replaced. Everything else of the input is copied unchanged. JSON numbers are rounded to ``decimals``."""
    path = Path(path)
    check_track_output(path, tracks)
    shapes = tracks.shapes
    out: dict[str, np.ndarray] = {}
    for key, array in values.items():
        if key in ("global_orient", "hand_pose"):
            matrices = array.reshape(len(array), -1, 3, 3)
            out[key] = _rotations_out(matrices, tracks.rotation, shapes[key])
        elif key in shapes:
            out[key] = array.reshape(len(array), *shapes[key])
        else:
            out[key] = array
    if tracks.format == "npz":
        content = dict(tracks.raw)
        for key, array in out.items():
            dtype = content[key].dtype if key in content and content[key].dtype.kind == "f" else np.float32
            content[key] = array.astype(dtype)
        _atomic_write(path, lambda handle: np.savez(handle, **content))
        return path
    document = copy.deepcopy(tracks.raw)
    records = document["frames"] if isinstance(document, dict) else document
    hands = [hand for record in records for hand in record["hands"]]
    for row, hand in enumerate(hands):
        for key, array in out.items():
            hand[key] = np.round(array[row].astype(np.float64), decimals).tolist()
    _atomic_write(path, lambda handle: handle.write(json.dumps(document, separators=(",", ":")).encode()))
    return path
