"""A user's own data as one ``.npz``: ground truth, per-frame estimates and sequence boundaries.

Keys: ``joints (N,21,3)`` ground truth in mm, ``pred (N,21,3)`` per-frame estimates in mm, ``offsets (S+1,)``
sequence boundaries (sequence s is frames offsets[s]:offsets[s+1]), optional ``names (S,)`` (strings) and
``fps`` (scalar). Joints in the framework's order (wrist, thumb..pinky base to tip), right hands.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from handprior.body.joints import MIDDLE_MCP, NUM_JOINTS, WRIST
from handprior.data.store import SequenceStore
from handprior.errors import HandpriorInputError

REQUIRED_KEYS = ("joints", "pred", "offsets")
OPTIONAL_KEYS = ("names", "fps")
# An adult wrist -> middle-MCP bone is 80-110 mm; a median under this many units means metres, not mm.
METRES_THRESHOLD = 1.0


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` without unpickling anything; clear errors for bad files."""
    path = Path(path)
    if not path.is_file():
        raise HandpriorInputError("file does not exist", path)
    if path.stat().st_size == 0:
        raise HandpriorInputError("file is empty", path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except ValueError as error:
        if "allow_pickle" in str(error) or "Object arrays" in str(error):
            raise HandpriorInputError("holds Python objects (pickled arrays); save plain numeric/string arrays", path) from None
        raise HandpriorInputError(f"cannot read ({error})", path) from None
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise HandpriorInputError(f"not a valid .npz archive or truncated ({error})", path) from None


def check_joint_shape(array: np.ndarray, key: str, path: Path) -> np.ndarray:
    """Shape (N,21,3) and a numeric dtype; returns the array unchanged (values are not checked)."""
    if array.ndim != 3 or array.shape[1:] != (NUM_JOINTS, 3):
        raise HandpriorInputError(f"{key!r} must have shape (N,21,3), found {tuple(array.shape)}", path)
    if not np.issubdtype(array.dtype, np.number):
        raise HandpriorInputError(f"{key!r} must be numeric, found dtype {array.dtype}", path)
    return array


def check_offsets(offsets: np.ndarray, frames: int, path: Path) -> np.ndarray:
    """Sequence boundaries ``offsets (S+1,)``: integers rising strictly from 0 to ``frames``; returns int64."""
    if offsets.ndim != 1 or not np.issubdtype(offsets.dtype, np.integer):
        raise HandpriorInputError(f"'offsets' must be a 1-D integer array, found {offsets.dtype} {offsets.shape}", path)
    if len(offsets) < 2 or offsets[0] != 0 or offsets[-1] != frames or np.any(np.diff(offsets) <= 0):
        raise HandpriorInputError(
            f"'offsets' must rise strictly from 0 to the frame count {frames} (no empty sequences), "
            f"found {offsets[:3].tolist()}...{offsets[-2:].tolist()}",
            path,
        )
    return offsets.astype(np.int64)


def check_joints(array: np.ndarray, key: str, path: Path) -> np.ndarray:
    """Shape (N,21,3), finite, in mm; returns float32."""
    check_joint_shape(array, key, path)
    bad = ~np.isfinite(array).all(axis=(1, 2))
    if bad.any():
        frames = np.flatnonzero(bad)
        raise HandpriorInputError(f"{key!r} has NaN/inf in {len(frames)} frames (first: {frames[:5].tolist()})", path)
    bone = np.linalg.norm(array[:, MIDDLE_MCP] - array[:, WRIST], axis=-1)
    if len(bone) and np.median(bone) < METRES_THRESHOLD:
        raise HandpriorInputError(
            f"{key!r} looks like metres (median wrist-middle MCP {np.median(bone):.3f}); the framework expects mm: "
            "multiply by 1000",
            path,
        )
    return array.astype(np.float32)


def load_user_npz(path: str | Path) -> SequenceStore:
    """Validate a user ``.npz`` and return it as an in-memory :class:`SequenceStore`."""
    path = Path(path)
    data = read_npz(path)
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise HandpriorInputError(f"missing keys {missing}; expected {list(REQUIRED_KEYS)} (+ optional {list(OPTIONAL_KEYS)})", path)
    unknown = sorted(set(data) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise HandpriorInputError(f"unknown keys {unknown}; allowed: {list(REQUIRED_KEYS + OPTIONAL_KEYS)}", path)
    gt, pred = check_joints(data["joints"], "joints", path), check_joints(data["pred"], "pred", path)
    if len(gt) != len(pred):
        raise HandpriorInputError(f"'joints' has {len(gt)} frames but 'pred' has {len(pred)}", path)
    offsets = check_offsets(data["offsets"], len(gt), path)
    meta: dict = {"dataset": path.stem, "source": str(path), "fps": float(data["fps"]) if "fps" in data else 30.0}
    if "names" in data:
        names = data["names"]
        if names.shape != (len(offsets) - 1,):
            raise HandpriorInputError(f"'names' must have one entry per sequence ({len(offsets) - 1})", path)
        meta["names"] = [str(n) for n in names]
    meta["sides"] = ["right"] * (len(offsets) - 1)
    return SequenceStore(path, pred, gt, offsets, meta)
