"""Pure functions that bring a user's joints to the framework's conventions: units and missing frames.

Joints are ``(L,21,3)`` arrays in the framework's joint order. Units are told apart by the wrist -> middle-MCP
bone, about 70-110 mm on an adult hand: a median of 0.02-0.3 is metres, 20-300 is millimetres, anything else
is neither. Frames with any NaN/inf coordinate are missing; short gaps can be filled by linear interpolation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from handprior.body.joints import MIDDLE_MCP, WRIST
from handprior.errors import HandpriorInputError

UNITS = ("mm", "m")
TO_MM = {"mm": 1.0, "m": 1000.0}
BONE_RANGE = {"mm": (20.0, 300.0), "m": (0.02, 0.3)}  # plausible median wrist -> middle-MCP bone


def median_bone(joints: np.ndarray) -> float:
    """Median wrist -> middle-MCP length over the frames where both joints are finite (NaN if none)."""
    bone = np.linalg.norm(joints[:, MIDDLE_MCP] - joints[:, WRIST], axis=-1)  # (L,)
    bone = bone[np.isfinite(bone)]
    return float(np.median(bone)) if bone.size else float("nan")


def infer_units(bone: float) -> str | None:
    """``"mm"`` or ``"m"`` for a plausible median bone length, None when it fits neither."""
    for units, (low, high) in BONE_RANGE.items():
        if low <= bone <= high:
            return units
    return None


def resolve_units(joints: np.ndarray, stated: str, source: str | Path | None = None) -> tuple[str, str]:
    """The units of ``joints`` and a message saying how they were decided.

    ``stated`` is ``"mm"``, ``"m"`` or ``"auto"``. Stated units are checked against the bone length (so that
    metres declared as millimetres are caught); ``"auto"`` detects them. Raises a
    :class:`HandpriorInputError` when the bone fits no unit or contradicts the stated one.
    """
    if stated not in (*UNITS, "auto"):
        raise HandpriorInputError(f"units must be 'mm', 'm' or 'auto', got {stated!r}", source)
    bone = median_bone(joints)
    if np.isnan(bone):
        if missing_frames(joints).all():
            raise HandpriorInputError("every frame is missing (NaN, null or empty values): nothing to refine", source)
        raise HandpriorInputError("the wrist or the middle MCP is missing in every frame: nothing to refine", source)
    inferred = infer_units(bone)
    expected = "about 70-110 mm on an adult hand (plausible: 20-300 mm or 0.02-0.3 m)"
    if inferred is None:
        raise HandpriorInputError(
            f"cannot tell the units: the median wrist-middle MCP bone is {bone:.4g}, {expected}; the joints may be "
            "in centimetres, normalised, or not in the framework's joint order (wrist first, middle MCP 10th)",
            source,
        )
    if stated == "auto":
        return inferred, f"units: detected {inferred} (median wrist-middle MCP bone {bone:.4g} {inferred})"
    if stated != inferred:
        raise HandpriorInputError(
            f"the joints were declared in {stated} but look like {inferred}: the median wrist-middle MCP bone is "
            f"{bone:.4g}, {expected}; pass --units {inferred} (or auto)",
            source,
        )
    return stated, f"units: {stated} (median wrist-middle MCP bone {bone:.4g} {stated})"


def missing_frames(joints: np.ndarray) -> np.ndarray:
    """(L,) bool: frames with any NaN or infinite coordinate."""
    return ~np.isfinite(joints).all(axis=tuple(range(1, joints.ndim)))


def gap_runs(missing: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive missing frames as ``(start, stop)`` pairs (stop exclusive)."""
    edges = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def fill_gaps(
    joints: np.ndarray, max_gap: int, source: str | Path | None = None, key: str = "joints"
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Fill runs of missing frames of up to ``max_gap`` frames by linear interpolation between the frames
    around them (a run at the start or end of the sequence copies its one valid neighbour).

    Returns the filled joints, the (L,) mask of filled frames and a message (None when nothing was missing).
    Raises a :class:`HandpriorInputError` naming the frames when something is missing and ``max_gap`` is 0,
    when a run is longer than ``max_gap``, or when no frame is valid.
    """
    missing = missing_frames(joints)
    runs = gap_runs(missing)
    if not runs:
        return joints, missing, None
    frames = np.flatnonzero(missing)
    if missing.all():
        raise HandpriorInputError(f"{key!r}: every frame has NaN/inf coordinates", source)
    if max_gap <= 0:
        raise HandpriorInputError(
            f"{key!r} has NaN/inf in {len(frames)} frames (first: {frames[:5].tolist()}); pass --interpolate_gaps N "
            "to fill gaps of up to N frames by linear interpolation",
            source,
        )
    too_long = [(a, b) for a, b in runs if b - a > max_gap]
    if too_long:
        listed = ", ".join(f"{a}-{b - 1} ({b - a} frames)" for a, b in too_long[:5])
        raise HandpriorInputError(
            f"{key!r} has gaps of NaN/inf frames longer than --interpolate_gaps {max_gap}: {listed}", source
        )
    valid = np.flatnonzero(~missing)
    flat = joints.reshape(len(joints), -1)  # (L,63)
    filled = flat.copy()
    for channel in range(flat.shape[1]):  # np.interp holds the end values outside the valid range
        filled[missing, channel] = np.interp(frames, valid, flat[valid, channel])
    message = f"filled {len(frames)} missing frames in {len(runs)} gaps by linear interpolation"
    return filled.reshape(joints.shape), missing, message
