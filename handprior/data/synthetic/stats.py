"""Statistics that compare synthetic motion and simulated estimator error with real data (the reference
values are in docs/architecture.md, "Synthetic benchmark").

Motion statistics are computed within sequences only (no difference crosses a sequence boundary).
Error statistics use the framework's metric alignment: root at the wrist, prediction scaled so that its
wrist -> middle-MCP bone matches the ground truth (:mod:`handprior.metrics.functional`).

``python -m handprior.data.synthetic.stats`` prints the finger-coordination, dynamics and palm-rotation
statistics (:mod:`.hand_stats`) of the v1 and the v2 (benchmark) motion beside the real ranges (:mod:`.real_ranges`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from handprior.body.joints import FINGERTIPS, MIDDLE_MCP, PARENTS, WRIST
from handprior.metrics.functional import accel_errors, bone_scale, mpjpe

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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


def compare(
    sequences: int = 40, frames: tuple[int, int] = (200, 300), seed: int = 7, figure: str | None = None
) -> None:
    """Print the motion statistics of the v1 and the v2 (the benchmark's) motion beside the real ranges.

    Generates ``sequences`` sequences of ``frames`` (inclusive range) frames with each motion configuration from
    the same seed, posed through the built-in stand-in MANO model at 30 fps, and prints one row per statistic:
    v1, v2, the real range and the bounds the tests accept (the range widened by its stated tolerance).

    Args:
        sequences: number of generated sequences per configuration.
        frames: shortest and longest sequence, frames.
        seed: seed of the motion generator.
        figure: also write a figure of the neighbour-finger correlations and the flexion-speed percentiles
            (v1, v2 and the real ranges) to this path (e.g. ``docs/synthetic_v2.png``).
    """
    from handprior.data.synthetic.generate import mano_layer, sample_ground_truth
    from handprior.data.synthetic.hand_stats import hand_motion_statistics
    from handprior.data.synthetic.motion import MOTIONS
    from handprior.data.synthetic.real_ranges import REAL_RANGES

    layer = mano_layer()
    columns = {}
    for name, motion in MOTIONS.items():
        truth = sample_ground_truth(np.random.default_rng(seed), sequences, frames, layer, motion=motion)
        columns[name] = hand_motion_statistics(truth["gt"], truth["offsets"])
    print("| statistic | unit | v1 | v2 | real | accepted (tolerance) | v2 inside |")
    print("|---|---|---|---|---|---|---|")
    for key, real in REAL_RANGES.items():
        low, high = real.bounds()
        tol = f"±{real.tolerance:g}" if real.unit == "" else f"±{real.tolerance:.0%}"
        span = f"{_fmt(real.low)}" if real.low == real.high else f"{_fmt(real.low)}–{_fmt(real.high)}"
        inside = "yes" if real.accepts(columns["v2"][key]) else "NO"
        print(
            f"| {key} | {real.unit or '-'} | {_fmt(columns['v1'][key])} | {_fmt(columns['v2'][key])} | {span} | "
            f"{_fmt(low)}–{_fmt(high)} ({tol}) | {inside} |"
        )
    if figure is not None:
        from handprior.reporting.plots import save_figure

        print(f"figure: {save_figure(comparison_figure(columns), figure)}")


def comparison_figure(columns: dict[str, dict[str, float]]) -> Figure:
    """Neighbour-finger flexion correlations (level and velocity) and flexion-speed percentiles of each motion
    version (``columns``: version -> :func:`.hand_stats.hand_motion_statistics`), the real ranges as grey bands."""
    from handprior.data.synthetic.real_ranges import REAL_RANGES
    from handprior.reporting.plots import new_figure

    figure = new_figure(9.0, 3.2, dpi=80)
    corr_axes, speed_axes = figure.subplots(1, 2, width_ratios=[2, 1])
    panels = (
        (
            corr_axes,
            [
                f"corr_{kind}_{pair}"
                for kind in ("level", "velocity")
                for pair in ("index_middle", "middle_ring", "ring_pinky")
            ],  # fmt: skip
            ["level\nI–M", "level\nM–R", "level\nR–P", "velocity\nI–M", "velocity\nM–R", "velocity\nR–P"],
            "neighbour-finger flexion correlation",
        ),
        (
            speed_axes,
            ["flexion_speed_p50", "flexion_speed_p90", "flexion_speed_p99"],
            ["p50", "p90", "p99"],
            "flexion speed (deg/s)",
        ),
    )
    colours = {"v1": "tab:gray", "v2": "tab:blue"}
    for axes, keys, labels, title in panels:
        x = np.arange(len(keys))
        width = 0.8 / len(columns)
        for i, key in enumerate(keys):
            real = REAL_RANGES[key]
            low, high = (real.low, real.high) if real.high > real.low else (real.low * 0.99, real.high * 1.01)
            axes.fill_between([i - 0.45, i + 0.45], low, high, color="0.75", lw=0, label="real" if i == 0 else None)
        for k, (name, stats) in enumerate(columns.items()):
            offset = (k - (len(columns) - 1) / 2) * width
            axes.bar(x + offset, [stats[key] for key in keys], width * 0.9, color=colours.get(name), alpha=0.8,
                     label=f"synthetic {name}")  # fmt: skip
        axes.set_xticks(x, labels, fontsize=8)
        axes.set_title(title, fontsize=9)
    speed_axes.set_yscale("log")
    corr_axes.set_ylim(0.0, 1.0)
    corr_axes.legend(fontsize=8, loc="upper left")
    return figure


def _fmt(value: float) -> str:
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"


if __name__ == "__main__":
    from jsonargparse import CLI

    CLI(compare)
