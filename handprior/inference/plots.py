"""Figures of one refined sequence: input vs refined, with ground truth when there is some.

With ground truth the test figures of :mod:`handprior.reporting.plots` are written (per-frame errors, a
fingertip trajectory, an animated skeleton). A user's own sequence usually has none; then the figures show
what refinement changed: a fingertip trajectory with the per-frame jitter (mean joint acceleration), and an
animated skeleton of the input and the refined hand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from handprior.body.joints import JOINT_NAMES, WRIST
from handprior.reporting.plots import COLORS, LABELS, new_figure, safe_name, save_figure, skeleton_gif, write_test_plots

INDEX_TIP = JOINT_NAMES.index("index4")
SHOWN = ("input", "refined")


def jitter(joints: np.ndarray) -> np.ndarray:
    """Per-frame mean joint acceleration magnitude (L-2,), mm/frame², of wrist-relative joints (L,21,3)."""
    relative = joints - joints[:, WRIST : WRIST + 1]
    accel = relative[2:] - 2 * relative[1:-1] + relative[:-2]  # (L-2,21,3)
    return np.linalg.norm(accel, axis=-1).mean(axis=-1)


def input_vs_refined_figure(input: np.ndarray, refined: np.ndarray, joint: int = INDEX_TIP, title: str = "") -> Figure:
    """x, y, z of one joint over time (camera space, mm) and the per-frame jitter, input vs refined."""
    figure = new_figure(9, 7.5)
    axes = figure.subplots(4, 1, sharex=True)
    for name, joints in zip(SHOWN, (input, refined)):
        joints = np.asarray(joints, dtype=float)
        for axis in range(3):
            axes[axis].plot(joints[:, joint, axis], color=COLORS[name], lw=1, label=LABELS[name])
        shake = jitter(joints)
        mean = np.nanmean(shake) if np.isfinite(shake).any() else float("nan")
        axes[3].plot(np.arange(1, 1 + shake.size), shake, color=COLORS[name], lw=1, label=f"{name} (mean {mean:.2f})")
    for axis, name in enumerate("xyz"):
        axes[axis].set_ylabel(f"{name} (mm)")
    axes[3].set_ylabel("jitter (mm/frame²)")
    axes[3].set_xlabel("frame")
    axes[0].legend(fontsize=8, ncols=2)
    axes[3].legend(fontsize=8)
    axes[0].set_title(title or f"{JOINT_NAMES[joint]} trajectory and per-frame jitter")
    return figure


def write_refine_plots(
    input: np.ndarray, refined: np.ndarray, out_dir: str | Path, name: str, gt: np.ndarray | None = None
) -> list[Path]:
    """Figures and a GIF of one sequence (joints (L,21,3) in mm) into ``out_dir``; returns the files."""
    out_dir = Path(out_dir)
    if gt is not None:
        example = {"name": name, "input": input, "refined": refined, "gt": gt}
        return list(write_test_plots({}, [example], out_dir).values())
    stem = safe_name(name)
    figure = save_figure(input_vs_refined_figure(input, refined, title=name), out_dir / f"{stem}_refined.png")
    return [figure, skeleton_gif(input, refined, None, out_dir / f"{stem}_skeleton.gif", title=name)]
