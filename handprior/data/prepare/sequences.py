"""From per-view hand tracks to continuous per-hand sequences, packed for the sequence store.

A preparer describes every annotated hand it sees from one view as a :class:`Track`: frame indices, ground
truth in the camera frame (mm, canonical order, *not* mirrored), optional MANO parameters, and per frame a
drop reason ("" keeps the frame) and, where the dataset marks single joints invalid, per joint a mask reason.
:class:`SplitBuilder` then counts the drops and masks, cuts the kept frames into continuous sequences (a gap in
frame indices, which any dropped frame leaves, starts a new sequence), fills masked joints with a finite
placeholder (:func:`fill_invalid`), mirrors left hands to right hands and concatenates everything into store
arrays (``valid (N,21)`` is the store's per-joint validity; None when every stored joint is valid).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from handprior.body.joints import NUM_JOINTS, PARENTS, SIDES, WRIST, mirror_x
from handprior.data.prepare.geometry import mirror_axis_angle
from handprior.data.prepare.report import SHORT_SEQUENCE, SplitReport


@dataclass
class Track:
    """All annotated frames of one hand seen from one view, before validation and splitting."""

    name: str  # readable id of the view and hand, e.g. "test/Capture0/0266_dh_pray/cam400030/left"
    side: str  # "right" | "left"
    view: tuple[Any, ...]  # frame id without the frame index: frame id = view + (frame,)
    frames: np.ndarray  # (F,) int64, strictly increasing
    gt: np.ndarray  # (F,21,3) mm, camera frame, canonical order, not mirrored; dropped rows may hold anything
    reasons: np.ndarray  # (F,) str: "" keeps the frame, anything else is the reason it is dropped
    theta: np.ndarray | None = None  # (F,48) MANO pose, camera-frame global orientation, not mirrored
    beta: np.ndarray | None = None  # (F,10)
    pred: np.ndarray | None = None  # (F,21,3) mm, camera frame, not mirrored (attached from predictions)
    # (F,21) str per ground-truth joint: "" valid, anything else the reason it is masked (kept frames stay kept);
    # None: every joint valid. Masked joints may hold anything (NaN included): they are filled when stored.
    joint_reasons: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise ValueError(f"side must be 'right' or 'left', got {self.side!r}")
        self.frames = np.asarray(self.frames, dtype=np.int64)
        self.reasons = np.asarray(self.reasons, dtype=object)
        if len(self.frames) > 1 and np.any(np.diff(self.frames) <= 0):
            raise ValueError(f"{self.name}: frame indices must strictly increase")
        for key in ("gt", "reasons", "theta", "beta", "pred", "joint_reasons"):
            value = getattr(self, key)
            if value is not None and len(value) != len(self.frames):
                raise ValueError(f"{self.name}: {key} has {len(value)} rows for {len(self.frames)} frames")

    def frame_id(self, index: int) -> tuple[Any, ...]:
        """The dataset's identifier of frame ``index`` of this track (view + frame index)."""
        return (*self.view, int(self.frames[index]))

    def drop(self, mask: np.ndarray, reason: str) -> None:
        """Mark the frames in boolean ``mask (F,)`` that are still kept as dropped for ``reason``."""
        self.reasons[np.asarray(mask, dtype=bool) & (self.reasons == "")] = reason

    def mask(self, joints: np.ndarray, reason: str) -> None:
        """Mark the ground-truth joints in boolean ``joints (F,21)`` that are still valid as masked for ``reason``
        (the frame is kept; the joint is neither supervised nor scored)."""
        if self.joint_reasons is None:
            self.joint_reasons = np.full((len(self.frames), NUM_JOINTS), "", dtype=object)
        self.joint_reasons[np.asarray(joints, dtype=bool) & (self.joint_reasons == "")] = reason


def fill_invalid(gt: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Finite placeholders for the invalid joints of one sequence: gt (T,21,3), valid (T,21) bool -> (T,21,3).

    An invalid joint takes its own wrist-relative position from the nearest frame of the sequence where it is
    valid (the earlier one on a tie), added to this frame's wrist; a joint valid in no frame of the sequence sits
    on its (filled) parent joint. The placeholders are never scored or supervised; they keep the stored ground
    truth finite, and predictions simulated from it plausible. The wrist must be valid in every frame.
    """
    gt = np.array(gt, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    if valid.all():
        return gt
    if not valid[:, WRIST].all():
        raise ValueError("fill_invalid needs a valid wrist in every frame (frames without one are dropped)")
    wrist = gt[:, WRIST : WRIST + 1]  # (T,1,3)
    rel = gt - wrist  # (T,21,3)
    frames = np.arange(len(gt))
    for j in range(1, NUM_JOINTS):  # canonical order: every parent comes before its children
        ok = valid[:, j]
        if ok.all():
            continue
        if not ok.any():
            rel[:, j] = rel[:, PARENTS[j]]
            continue
        where = np.flatnonzero(ok)  # (K,) frames where joint j is valid
        after = np.searchsorted(where, frames)  # index of the first valid frame >= t
        later = where[np.minimum(after, len(where) - 1)]
        earlier = where[np.maximum(after - 1, 0)]
        nearest = np.where(np.abs(frames - earlier) <= np.abs(later - frames), earlier, later)  # (T,)
        rel[~ok, j] = rel[nearest[~ok], j]
    gt[~valid] = (rel + wrist)[~valid]  # valid joints keep their values exactly
    return gt


def frame_step(frames: np.ndarray) -> int:
    """Nominal step between consecutive frame indices of a track: the smallest positive difference."""
    diffs = np.diff(np.asarray(frames, dtype=np.int64))
    return int(diffs.min()) if diffs.size else 1


def continuous_runs(frames: np.ndarray, step: int) -> np.ndarray:
    """Boundaries ``(R+1,)`` of the runs of ``frames (F,)`` whose consecutive indices differ by exactly ``step``."""
    frames = np.asarray(frames, dtype=np.int64)
    if frames.size == 0:
        return np.zeros(1, dtype=np.int64)
    breaks = np.flatnonzero(np.diff(frames) != step) + 1  # first frame of every new run
    return np.concatenate([[0], breaks, [len(frames)]]).astype(np.int64)


@dataclass
class PackedSplit:
    """Store arrays of one split plus the per-sequence facts that go into meta.json."""

    gt: np.ndarray  # (N,21,3) mm, right hands
    pred: np.ndarray | None  # (N,21,3) mm, or None when predictions are to be simulated
    offsets: np.ndarray  # (S+1,)
    theta: np.ndarray | None  # (N,48)
    beta: np.ndarray | None  # (N,10)
    valid: np.ndarray | None  # (N,21) bool ground-truth validity per joint; None: all valid
    names: list[str]
    sides: list[str]
    first_frames: list[int]
    frame_steps: list[int]

    def sequence_meta(self) -> dict[str, Any]:
        """Per-sequence lists for meta.json (frame ``k`` of sequence ``s`` is ``first_frames[s] + k*frame_steps[s]``)."""
        return {"names": self.names, "sides": self.sides, "first_frames": self.first_frames,
                "frame_steps": self.frame_steps}  # fmt: skip


@dataclass
class SplitBuilder:
    """Accumulates tracks of one split: drop accounting, splitting, mirroring, packing."""

    report: SplitReport
    min_length: int = 1
    step: int | None = None  # None: infer per track (smallest positive frame difference)
    root_relative: bool = False  # store both gt and pred relative to their own wrist
    _parts: dict[str, list[np.ndarray]] = field(default_factory=dict)
    _names: list[str] = field(default_factory=list)
    _sides: list[str] = field(default_factory=list)
    _first: list[int] = field(default_factory=list)
    _steps: list[int] = field(default_factory=list)
    _with: dict[str, bool] = field(default_factory=dict)
    _valid: list[np.ndarray] = field(default_factory=list)

    def add(self, track: Track) -> None:
        """Count the track's drops, then add each continuous run of kept frames as a sequence."""
        for reason, count in zip(*np.unique(track.reasons[track.reasons != ""].astype(str), return_counts=True)):
            self.report.drop(str(reason), int(count))
        keep = np.flatnonzero(track.reasons == "")
        if keep.size == 0:
            return
        frames = track.frames[keep]
        step = self.step or frame_step(track.frames)
        bounds = continuous_runs(frames, step)
        for start, stop in zip(bounds[:-1], bounds[1:]):
            rows = keep[start:stop]
            if len(rows) < self.min_length:
                self.report.drop(SHORT_SEQUENCE, len(rows))
                continue
            self._append(track, rows, len(self._names))
            self._names.append(track.name if len(bounds) == 2 else f"{track.name}@{int(frames[start])}")
            self._sides.append(track.side)
            self._first.append(int(frames[start]))
            self._steps.append(int(step))

    def _append(self, track: Track, rows: np.ndarray, index: int) -> None:
        left = track.side == "left"
        valid = np.ones((len(rows), NUM_JOINTS), dtype=bool)  # (T,21)
        if track.joint_reasons is not None:
            reasons = track.joint_reasons[rows]  # (T,21)
            for reason in sorted(set(reasons[reasons != ""].astype(str))):
                masked = reasons == reason
                self.report.mask(reason, int(masked.any(axis=1).sum()), int(masked.sum()))
            valid = reasons == ""
        self._valid.append(valid)
        arrays = {"gt": track.gt, "pred": track.pred, "theta": track.theta, "beta": track.beta}
        for key, array in arrays.items():
            present = array is not None
            if self._with.setdefault(key, present) != present:
                raise ValueError(f"{track.name}: {key} is given for some tracks of the split but not for others")
            if not present:
                continue
            part = np.asarray(array[rows], dtype=np.float64)
            if key == "gt":
                part = fill_invalid(part, valid)  # finite placeholders for masked joints, before mirroring
            if key in ("gt", "pred"):
                part = mirror_x(part) if left else part  # (T,21,3)
                if self.root_relative:
                    part = part - part[:, WRIST : WRIST + 1]
            elif key == "theta" and left:
                part = mirror_axis_angle(part)  # (T,48)
            self._parts.setdefault(key, []).append(part.astype(np.float32))

    @property
    def num_sequences(self) -> int:
        return len(self._names)

    def finish(self) -> PackedSplit:
        """Concatenate the sequences; fills the report's sequence and frame counts."""
        if not self._names:
            raise ValueError("no sequence was kept")
        lengths = [len(part) for part in self._parts["gt"]]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        joined = {key: np.concatenate(parts) if parts else None for key, parts in self._parts.items()}
        valid = np.concatenate(self._valid)  # (N,21)
        self.report.sequences, self.report.frames = len(lengths), int(offsets[-1])
        return PackedSplit(joined["gt"], joined.get("pred"), offsets, joined.get("theta"), joined.get("beta"),
                           None if valid.all() else valid, list(self._names), list(self._sides), list(self._first),
                           list(self._steps))  # fmt: skip
