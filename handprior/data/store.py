"""The packed sequence store: one folder per split, memory-mapped ``.npy`` arrays (docs/architecture.md, "Stages").

Layout of a store folder::

    pred.npy        (N,21,3) float32  per-frame estimates, mm, canonical joint order, right hand
    gt.npy          (N,21,3) float32  ground truth, same conventions
    gt_theta.npy    (N,48)   float32  optional MANO pose (3 global orientation + 45 finger axis-angle)
    gt_beta.npy     (N,10)   float32  optional MANO shape
    offsets.npy  (S+1,)   int64    sequence s is frames offsets[s]:offsets[s+1]
    valid.npy       (N,21)   bool     optional ground-truth validity per joint (a dataset's partly annotated hands);
                                   absent = every joint valid. An invalid joint's gt holds a finite placeholder
                                   (handprior.data.prepare.sequences.fill_invalid) that is never scored or supervised
    mask_<name>.npy (N,...) bool   optional per-frame masks (the synthetic benchmark's: mask_occluded (N,5),
                                   fingers inside an occlusion burst; mask_gross (N,), gross failures)
    meta.json                         dataset, estimator, fps, sides, units, joint_order, version, ...

Arrays are opened with ``mmap_mode="r"`` so a multi-million-frame dataset is never loaded into memory.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from handprior.body.joints import NUM_JOINTS
from handprior.errors import HandpriorInputError

STORE_VERSION = 1
REQUIRED_FILES = ("pred.npy", "gt.npy", "offsets.npy", "meta.json")
VALID_FILE = "valid.npy"
LEGACY_OFFSETS = "seq_starts.npy"  # the same array, as stores of earlier versions name it
JOINT_ORDER_NAME = "openpose21"
MASK_PREFIX = "mask_"


@dataclass
class SequenceStore:
    """A memory-mapped split: per-frame predictions, ground truth and sequence boundaries."""

    root: Path
    pred: np.ndarray  # (N,21,3) mm
    gt: np.ndarray  # (N,21,3) mm
    offsets: np.ndarray  # (S+1,)
    meta: dict[str, Any] = field(default_factory=dict)
    gt_theta: np.ndarray | None = None  # (N,48)
    gt_beta: np.ndarray | None = None  # (N,10)
    masks: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (N,...) bool
    valid: np.ndarray | None = None  # (N,21) bool ground-truth validity per joint; None: all valid

    @property
    def num_frames(self) -> int:
        return int(self.offsets[-1])

    @property
    def num_sequences(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def has_mano(self) -> bool:
        return self.gt_theta is not None and self.gt_beta is not None

    def sequence(self, index: int) -> slice:
        """Frame range of sequence ``index``."""
        return slice(int(self.offsets[index]), int(self.offsets[index + 1]))

    @classmethod
    def open(cls, root: str | Path) -> SequenceStore:
        """Open a store folder read-only with memory mapping; checks shapes and boundaries, not every value."""
        root = Path(root)
        if not root.is_dir():
            raise HandpriorInputError("sequence store folder does not exist (run `handprior prepare` first)", root)
        boundaries = root / "offsets.npy"
        if not boundaries.is_file() and (root / LEGACY_OFFSETS).is_file():
            boundaries = root / LEGACY_OFFSETS  # stores written before the file was named offsets.npy
        missing = [name for name in REQUIRED_FILES if not (root / name).is_file() and name != "offsets.npy"]
        missing += [] if boundaries.is_file() else ["offsets.npy"]
        if missing:
            raise HandpriorInputError(f"not a sequence store: missing {', '.join(missing)}", root)
        meta = _read_meta(root / "meta.json")
        pred = _load_array(root / "pred.npy", (None, NUM_JOINTS, 3))
        gt = _load_array(root / "gt.npy", (None, NUM_JOINTS, 3))
        offsets = np.asarray(_load_array(boundaries, (None,)))
        gt_theta = _load_array(root / "gt_theta.npy", (None, 48)) if (root / "gt_theta.npy").is_file() else None
        gt_beta = _load_array(root / "gt_beta.npy", (None, 10)) if (root / "gt_beta.npy").is_file() else None
        masks = {
            path.stem.removeprefix(MASK_PREFIX): _load_mask(path) for path in sorted(root.glob(f"{MASK_PREFIX}*.npy"))
        }
        valid = _load_valid(root / VALID_FILE) if (root / VALID_FILE).is_file() else None
        store = cls(root, pred, gt, offsets, meta, gt_theta, gt_beta, masks, valid)
        _check_consistent(store)
        return store


def write_store(
    root: str | Path,
    pred: np.ndarray,
    gt: np.ndarray,
    offsets: np.ndarray,
    meta: dict[str, Any],
    gt_theta: np.ndarray | None = None,
    gt_beta: np.ndarray | None = None,
    masks: dict[str, np.ndarray] | None = None,
    valid: np.ndarray | None = None,
) -> Path:
    """Validate and write a store folder; each file is written to a temporary name and renamed into place.

    ``masks``: optional per-frame boolean arrays (N,...), written as ``mask_<name>.npy``.
    ``valid``: optional (N,21) bool ground-truth validity per joint, written as ``valid.npy``; None writes none
    (and removes one left in the folder by an earlier write), meaning every joint is valid. ``gt`` must be
    finite everywhere, invalid joints included (fill them first).

    ``meta`` gets ``units``, ``joint_order``, ``version``, ``num_frames`` and ``num_sequences`` filled in.
    Raises :class:`HandpriorInputError` on non-finite values or inconsistent shapes.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {
        "pred": np.ascontiguousarray(pred, dtype=np.float32),
        "gt": np.ascontiguousarray(gt, dtype=np.float32),
        "offsets": np.ascontiguousarray(offsets, dtype=np.int64),
    }
    if gt_theta is not None:
        arrays["gt_theta"] = np.ascontiguousarray(gt_theta, dtype=np.float32)
    if gt_beta is not None:
        arrays["gt_beta"] = np.ascontiguousarray(gt_beta, dtype=np.float32)
    for name, array in arrays.items():
        if name != "offsets" and not np.isfinite(array).all():
            bad = int((~np.isfinite(array)).reshape(len(array), -1).any(axis=1).sum())
            raise HandpriorInputError(f"{name} has non-finite values in {bad} frames; drop or repair them first", root)
    mask_arrays = {name: np.ascontiguousarray(mask, dtype=bool) for name, mask in (masks or {}).items()}
    for name in mask_arrays:
        if not name.isidentifier():
            raise ValueError(f"mask names must be identifiers, got {name!r}")
    meta = dict(meta)
    meta.update(units="mm", joint_order=JOINT_ORDER_NAME, version=STORE_VERSION)
    meta.update(num_frames=int(arrays["offsets"][-1]), num_sequences=len(arrays["offsets"]) - 1)
    valid_array = None if valid is None else np.ascontiguousarray(valid)
    if valid_array is not None and (valid_array.dtype != np.bool_ or valid_array.shape != (len(arrays["gt"]), NUM_JOINTS)):
        raise HandpriorInputError(f"valid must be (N,{NUM_JOINTS}) bool with N={len(arrays['gt'])}, "
                                  f"found {valid_array.dtype} {valid_array.shape}", root)  # fmt: skip
    store = SequenceStore(root, arrays["pred"], arrays["gt"], arrays["offsets"], meta,
                          arrays.get("gt_theta"), arrays.get("gt_beta"), mask_arrays, valid_array)  # fmt: skip
    _check_consistent(store)
    arrays.update({MASK_PREFIX + name: mask for name, mask in mask_arrays.items()})
    if valid_array is not None:
        arrays["valid"] = valid_array
    elif (root / VALID_FILE).is_file():
        (root / VALID_FILE).unlink()  # a stale mask would mark this data's joints invalid
    for name, array in arrays.items():
        tmp = root / f".{name}.tmp.npy"
        np.save(tmp, array)
        os.replace(tmp, root / f"{name}.npy")
    tmp = root / ".meta.json.tmp"
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True))
    os.replace(tmp, root / "meta.json")
    return root


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise HandpriorInputError(f"meta.json is not valid JSON ({error})", path) from None
    if not isinstance(meta, dict):
        raise HandpriorInputError("meta.json must hold a JSON object", path)
    if meta.get("units", "mm") != "mm":
        raise HandpriorInputError(f"store units must be mm, found {meta.get('units')!r}", path)
    return meta


def _load_array(path: Path, shape: tuple[int | None, ...]) -> np.ndarray:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise HandpriorInputError(f"cannot read array ({error}); the file is truncated or not a .npy", path) from None
    if array.ndim != len(shape) or any(want is not None and got != want for got, want in zip(array.shape, shape)):
        want = "(" + ",".join("N" if s is None else str(s) for s in shape) + ")"
        raise HandpriorInputError(f"expected shape {want}, found {tuple(array.shape)}", path)
    return array


def _load_mask(path: Path) -> np.ndarray:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise HandpriorInputError(f"cannot read array ({error}); the file is truncated or not a .npy", path) from None
    if array.dtype != np.bool_ or array.ndim < 1:
        raise HandpriorInputError(f"a mask must be a boolean array (N,...), found {array.dtype} {array.shape}", path)
    return array


def _load_valid(path: Path) -> np.ndarray:
    """``valid.npy``: (N,21) bool, memory-mapped."""
    array = _load_mask(path)
    if array.shape[1:] != (NUM_JOINTS,):
        raise HandpriorInputError(f"expected shape (N,{NUM_JOINTS}) (one flag per joint), found {array.shape}", path)
    return array


def _check_consistent(store: SequenceStore) -> None:
    root, n = store.root, len(store.pred)
    store.offsets = check_offsets(store.offsets, n, root / "offsets.npy")  # the one check of sequence boundaries
    for name in ("pred", "gt", "gt_theta", "gt_beta"):
        array = getattr(store, name)
        if array is not None and len(array) != n:
            raise HandpriorInputError(f"{name} has {len(array)} frames but pred has {n}", root)
    for name, mask in store.masks.items():
        if len(mask) != n:
            raise HandpriorInputError(f"mask {name!r} has {len(mask)} frames but pred has {n}", root)
    if store.valid is not None and len(store.valid) != n:
        raise HandpriorInputError(f"valid has {len(store.valid)} frames but pred has {n}", root / VALID_FILE)
    sides = store.meta.get("sides")
    if sides is not None and len(sides) != store.num_sequences:
        raise HandpriorInputError(f"meta.json lists {len(sides)} sides for {store.num_sequences} sequences", root)


def check_offsets(offsets: np.ndarray, frames: int, path: Path) -> np.ndarray:
    """Sequence boundaries ``offsets (S+1,)``: integers rising strictly from 0 to ``frames``; returns int64."""
    if offsets.ndim != 1 or offsets.dtype.kind not in "iu":
        raise HandpriorInputError(f"'offsets' must be a 1-D integer array, found {offsets.dtype} {offsets.shape}", path)
    # Compared as Python ints first: uint64 values past int64 would wrap when cast (and np.diff wraps too).
    in_range = offsets.size > 0 and int(offsets.min()) >= 0 and int(offsets.max()) <= frames
    offsets = offsets.astype(np.int64) if in_range else offsets
    if not in_range or len(offsets) < 2 or offsets[0] != 0 or offsets[-1] != frames or np.any(np.diff(offsets) <= 0):
        raise HandpriorInputError(
            f"'offsets' must rise strictly from 0 to the frame count {frames} (no empty sequences), "
            f"found {offsets[:3].tolist()}...{offsets[-2:].tolist()}",
            path,
        )
    return offsets
