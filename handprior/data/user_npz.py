"""A user's own data as one ``.npz``: ground truth, per-frame estimates and sequence boundaries.

Keys: ``joints (N,21,3)`` ground truth in mm, ``pred (N,21,3)`` per-frame estimates in mm, ``offsets (S+1,)``
sequence boundaries (sequence s is frames offsets[s]:offsets[s+1]), optional ``names (S,)`` (strings), ``fps``
(scalar) and ``valid (N,21)`` (bool or 0/1: which ground-truth joints are annotated; absent = all). Joints in the
framework's order (wrist, thumb..pinky base to tip), right hands. Where ``valid`` is false, ``joints`` may hold
anything (NaN included): the joint is neither supervised nor scored, and its value is replaced by a finite
placeholder (:func:`handprior.data.prepare.sequences.fill_invalid`); the wrist must be valid in every frame.
"""

from __future__ import annotations

import math
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from handprior.body.joints import MIDDLE_MCP, NUM_JOINTS, WRIST
from handprior.data.file_checks import MAX_ARRAY_BYTES, SNIFF_BYTES, check_looks_like, sniff
from handprior.data.store import SequenceStore, check_offsets
from handprior.errors import HandpriorInputError

REQUIRED_KEYS = ("joints", "pred", "offsets")
OPTIONAL_KEYS = ("names", "fps", "valid")
# An adult wrist -> middle-MCP bone is 80-110 mm; a median under this many units means metres, not mm.
METRES_THRESHOLD = 1.0


def read_npz(path: str | Path, max_bytes: int = MAX_ARRAY_BYTES) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` without unpickling anything; clear errors for bad files.

    Before anything is read, each member's ``.npy`` header is checked: an object dtype (pickled data) and
    arrays declaring more than ``max_bytes`` (in all) or more data than the member holds are refused.
    """
    path = Path(path)
    if path.is_dir():
        raise HandpriorInputError("is a folder, not a .npz file", path)
    if not path.is_file():
        raise HandpriorInputError("file does not exist", path)
    if path.stat().st_size == 0:
        raise HandpriorInputError("file is empty", path)
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if sniff(head) != "npz":
        check_looks_like(path, "npz", head)
        raise HandpriorInputError("not a .npz archive (it does not start like a zip file)", path)
    try:
        with zipfile.ZipFile(path) as archive:
            _check_members(archive, path, max_bytes)
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except HandpriorInputError:
        raise
    except ValueError as error:
        if "allow_pickle" in str(error) or "Object arrays" in str(error):
            raise HandpriorInputError(
                "holds Python objects (pickled arrays); save plain numeric/string arrays", path
            ) from None
        raise HandpriorInputError(f"cannot read ({error})", path) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, EOFError, NotImplementedError,
            RuntimeError, struct.error, OverflowError) as error:  # fmt: skip
        raise HandpriorInputError(f"not a valid .npz archive or truncated ({error})", path) from None


def _check_members(archive: zipfile.ZipFile, path: Path, max_bytes: int) -> None:
    """Each member is a ``.npy`` whose header declares a plain dtype and a shape that fits ``max_bytes`` (all
    members together) and the member's own size; nothing beyond the headers is read."""
    total = 0
    for info in archive.infolist():
        with archive.open(info) as member:
            try:
                version = np.lib.format.read_magic(member)
            except ValueError:
                raise HandpriorInputError(f"member {info.filename!r} is not a numpy array", path) from None
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise HandpriorInputError(f"member {info.filename!r} has an unsupported .npy version {version}", path)
            if dtype.hasobject:
                raise HandpriorInputError(
                    "holds Python objects (pickled arrays); save plain numeric/string arrays", path
                )
            declared = math.prod(shape) * max(dtype.itemsize, 1)  # zero-size items still cost
            total += declared
            if total > max_bytes:
                raise HandpriorInputError(
                    f"{info.filename!r} declares {shape} {dtype}: {declared / 2**20:.0f} MiB, over the limit of "
                    f"{max_bytes / 2**20:.0f} MiB of arrays per file",
                    path,
                )
            if declared > info.file_size - member.tell():
                raise HandpriorInputError(
                    f"{info.filename!r} declares {shape} {dtype} ({declared} bytes) but holds "
                    f"{max(info.file_size - member.tell(), 0)} bytes of data (truncated or corrupt)",
                    path,
                )


def check_joint_shape(array: np.ndarray, key: str, path: Path) -> np.ndarray:
    """Shape (N,21,3) and a numeric dtype; returns the array unchanged (values are not checked)."""
    if array.ndim != 3 or array.shape[1:] != (NUM_JOINTS, 3):
        raise HandpriorInputError(f"{key!r} must have shape (N,21,3), found {tuple(array.shape)}", path)
    if not np.issubdtype(array.dtype, np.number):
        raise HandpriorInputError(f"{key!r} must be numeric, found dtype {array.dtype}", path)
    return array




def check_valid(array: np.ndarray, frames: int, path: Path, key: str = "valid") -> np.ndarray:
    """Ground-truth validity per joint: shape (N,21), bool or integers 0/1; returns (N,21) bool."""
    if array.shape != (frames, NUM_JOINTS):
        raise HandpriorInputError(f"{key!r} must have shape (N,21) with N={frames}, found {tuple(array.shape)}", path)
    if array.dtype != np.bool_:
        if array.dtype.kind not in "iu" or not np.isin(array, (0, 1)).all():
            raise HandpriorInputError(f"{key!r} must be bool or integers 0/1, found dtype {array.dtype}", path)
    return array.astype(bool)


def check_joints(array: np.ndarray, key: str, path: Path, valid: np.ndarray | None = None) -> np.ndarray:
    """Shape (N,21,3), finite (where ``valid (N,21)`` is true, if given), in mm; returns float32."""
    check_joint_shape(array, key, path)
    finite = np.isfinite(array).all(axis=2)  # (N,21)
    bad = ~(finite | ~valid).all(axis=1) if valid is not None else ~finite.all(axis=1)
    if bad.any():
        frames = np.flatnonzero(bad)
        raise HandpriorInputError(f"{key!r} has NaN/inf in {len(frames)} frames (first: {frames[:5].tolist()})", path)
    bone = np.linalg.norm(array[:, MIDDLE_MCP] - array[:, WRIST], axis=-1)
    bone = bone[np.isfinite(bone)]  # a masked middle MCP may be NaN
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
        raise HandpriorInputError(
            f"missing keys {missing}; expected {list(REQUIRED_KEYS)} (+ optional {list(OPTIONAL_KEYS)})", path
        )
    unknown = sorted(set(data) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise HandpriorInputError(f"unknown keys {unknown}; allowed: {list(REQUIRED_KEYS + OPTIONAL_KEYS)}", path)
    valid = check_valid(data["valid"], len(data["joints"]), path) if "valid" in data else None
    gt, pred = check_joints(data["joints"], "joints", path, valid), check_joints(data["pred"], "pred", path)
    if len(gt) != len(pred):
        raise HandpriorInputError(f"'joints' has {len(gt)} frames but 'pred' has {len(pred)}", path)
    offsets = check_offsets(data["offsets"], len(gt), path)
    if valid is not None:
        from handprior.data.prepare.sequences import fill_invalid

        no_wrist = np.flatnonzero(~valid[:, WRIST])
        if no_wrist.size:
            raise HandpriorInputError(
                f"'valid' marks the wrist invalid in {no_wrist.size} frames (first: {no_wrist[:5].tolist()}); a frame "
                "without a wrist cannot be aligned: remove those frames (`handprior prepare npz` drops them)",
                path,
            )
        for start, stop in zip(offsets[:-1].tolist(), offsets[1:].tolist()):
            gt[start:stop] = fill_invalid(gt[start:stop], valid[start:stop])  # finite placeholders
        valid = None if valid.all() else valid
    meta: dict = {"dataset": path.stem, "source": str(path), "fps": float(data["fps"]) if "fps" in data else 30.0}
    if "names" in data:
        names = data["names"]
        if names.shape != (len(offsets) - 1,):
            raise HandpriorInputError(f"'names' must have one entry per sequence ({len(offsets) - 1})", path)
        meta["names"] = [str(n) for n in names]
    meta["sides"] = ["right"] * (len(offsets) - 1)
    return SequenceStore(path, pred, gt, offsets, meta, valid=valid)
