"""Statistics that compare synthetic motion and simulated estimator error with real data (the reference
values are in docs/architecture.md, "Synthetic benchmark").

Motion statistics are computed within sequences only (no difference crosses a sequence boundary).
Error statistics use the framework's metric alignment: root at the wrist, prediction scaled so that its
wrist -> middle-MCP bone matches the ground truth (:mod:`handprior.metrics.functional`).
"""

from __future__ import annotations

import numpy as np
import torch

from handprior.body.joints import FINGERTIPS, MIDDLE_MCP, PARENTS, WRIST
from handprior.metrics.functional import accel_errors, bone_scale, mpjpe

MCPS = (5, 9, 13, 17)


def within_sequences(offsets: np.ndarray, lag: int = 1) -> np.ndarray:
    """Frame indices t such that t and t+lag lie in the same sequence: (M,)."""
    starts = np.asarray(offsets, dtype=np.int64)
    return np.concatenate([np.arange(a, b - lag) for a, b in zip(starts[:-1], starts[1:]) if b - a > lag])


def motion_statistics(joints: np.ndarray, offsets: np.ndarray, fps: float = 30.0) -> dict[str, float]:
    """Speeds (mm/s), wrist-relative acceleration (mm/frame^2) and hand size (mm) of joints (N,21,3) mm."""
    joints = np.asarray(joints, dtype=np.float64)
    rel = joints - joints[:, WRIST : WRIST + 1]  # (N,21,3)
    t1 = within_sequences(offsets, 1)
    t2 = within_sequences(offsets, 2)
    wrist_speed = np.linalg.norm(joints[t1 + 1, WRIST] - joints[t1, WRIST], axis=-1) * fps  # (M,)
    tips = list(FINGERTIPS)
    tip_speed = np.linalg.norm(joints[t1 + 1][:, tips] - joints[t1][:, tips], axis=-1).ravel() * fps
    tip_rel_speed = np.linalg.norm(rel[t1 + 1][:, tips] - rel[t1][:, tips], axis=-1).ravel() * fps
    mcp_speed = np.linalg.norm(joints[t1 + 1][:, list(MCPS)] - joints[t1][:, list(MCPS)], axis=-1).ravel() * fps
    accel = rel[t2] - 2 * rel[t2 + 1] + rel[t2 + 2]  # (M,21,3) centred at t2+1
    accel_norm = np.linalg.norm(accel[:, 1:], axis=-1).ravel()  # the wrist itself is 0
    hand_size = np.linalg.norm(rel[:, MIDDLE_MCP], axis=-1)  # (N,)
    out: dict[str, float] = {}
    for name, values in (("wrist_speed", wrist_speed), ("tip_speed", tip_speed), ("tip_rel_speed", tip_rel_speed),
                         ("mcp_speed", mcp_speed)):  # fmt: skip
        out.update(_percentiles(name, values))
    out.update(_percentiles("rel_accel", accel_norm))
    out["rel_accel_mean"] = float(accel_norm.mean())
    out["hand_size_mean"] = float(hand_size.mean())
    out["hand_size_min"] = float(hand_size.min())
    out["hand_size_max"] = float(hand_size.max())
    out["bone_length_max_std"] = float(bone_length_std(joints, offsets).max())
    return out


def bone_length_std(joints: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Standard deviation over time of each bone's length within each sequence: (S,20) mm."""
    joints = np.asarray(joints, dtype=np.float64)
    lengths = np.linalg.norm(joints[:, 1:] - joints[:, list(PARENTS[1:])], axis=-1)  # (N,20)
    return np.stack([lengths[a:b].std(axis=0) for a, b in zip(offsets[:-1], offsets[1:])])


def aligned_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Error vectors after the metric's root and bone-scale alignment: (N,21,3) x2 -> (N,21,3) mm."""
    pred_t, gt_t = torch.as_tensor(pred, dtype=torch.float64), torch.as_tensor(gt, dtype=torch.float64)
    pred_rel = (pred_t - pred_t[:, WRIST : WRIST + 1]) * bone_scale(pred_t, gt_t)
    return (pred_rel - (gt_t - gt_t[:, WRIST : WRIST + 1])).numpy()


def error_statistics(pred: np.ndarray, gt: np.ndarray, offsets: np.ndarray) -> dict[str, float]:
    """Error of predictions (N,21,3) against ground truth, as in the estimator rows of the table in
    docs/architecture.md ("Synthetic benchmark").

    ``mpjpe`` (mm) and ``accel`` (mm/frame^2, whole sequences, no padding) use the framework's metrics;
    ``lag1`` is the pooled lag-1 autocorrelation of the aligned error vectors (each sequence's mean error
    per joint removed); ``change`` is the mean norm of the frame-to-frame change of the error (mm).
    """
    pred_t, gt_t = torch.as_tensor(pred, dtype=torch.float64), torch.as_tensor(gt, dtype=torch.float64)
    starts = np.asarray(offsets, dtype=np.int64)
    accel = torch.cat([accel_errors(pred_t[a:b], gt_t[a:b]) for a, b in zip(starts[:-1], starts[1:])])
    err = aligned_error(pred, gt)  # (N,21,3)
    centred = np.concatenate([err[a:b] - err[a:b].mean(axis=0) for a, b in zip(starts[:-1], starts[1:])])
    t1 = within_sequences(starts, 1)
    lag1 = float(np.sum(centred[t1] * centred[t1 + 1]) / np.sum(centred**2))
    change = float(np.linalg.norm(err[t1 + 1] - err[t1], axis=-1).mean())
    return {"mpjpe": float(mpjpe(pred_t, gt_t).mean()), "accel": float(accel.mean()), "lag1": lag1, "change": change}


def _percentiles(name: str, values: np.ndarray) -> dict[str, float]:
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {f"{name}_median": float(p50), f"{name}_p90": float(p90), f"{name}_p99": float(p99)}
