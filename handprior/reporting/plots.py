"""Figures of a test run: per-joint errors, per-frame errors, a joint trajectory and an animated skeleton.

Pure functions: numpy arrays in (joints ``(L,21,3)`` in mm), a ``matplotlib.figure.Figure`` or a file out.
They draw on the Agg canvas directly (no pyplot, no display, safe in worker processes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.animation import FuncAnimation, PillowWriter
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from handprior.body.joints import BONES, JOINT_NAMES, WRIST
from handprior.metrics.functional import accel_errors, mpjpe

COLORS = {"input": "tab:red", "refined": "tab:blue", "gt": "tab:green"}
LABELS = {"input": "input", "refined": "refined", "gt": "ground truth"}
INDEX_TIP = JOINT_NAMES.index("index4")


def new_figure(width: float, height: float, dpi: int = 100, layout: str | None = "constrained") -> Figure:
    """A figure on an Agg canvas."""
    figure = Figure(figsize=(width, height), dpi=dpi, layout=layout)
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Figure, path: str | Path) -> Path:
    """Write a figure (format from the suffix) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path


def per_joint_figure(per_joint: Mapping[str, np.ndarray], joint_names: Sequence[str] = JOINT_NAMES) -> Figure:
    """Grouped bars of the mean error of each joint (mm), one bar per method (e.g. ``input``, ``refined``)."""
    figure = new_figure(10, 3.5)
    axes = figure.add_subplot()
    positions = np.arange(len(joint_names))
    width = 0.8 / max(1, len(per_joint))
    for k, (name, errors) in enumerate(per_joint.items()):
        errors = np.asarray(errors, dtype=float)
        axes.bar(positions + (k - (len(per_joint) - 1) / 2) * width, errors, width,
                 label=f"{LABELS.get(name, name)} (mean {errors.mean():.2f})", color=COLORS.get(name))  # fmt: skip
    axes.set_xticks(positions, joint_names, rotation=60, ha="right", fontsize=8)
    axes.set_ylabel("error (mm)")
    axes.set_title("per-joint error before and after refinement")
    axes.legend()
    return figure


def sequence_errors(joints: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame MPJPE (L,) in mm and acceleration error (L-2,) in mm/frame² of one sequence."""
    pred_t, gt_t = (
        torch.as_tensor(np.asarray(joints, dtype=np.float64)),
        torch.as_tensor(np.asarray(gt, dtype=np.float64)),
    )
    return mpjpe(pred_t, gt_t).numpy(), accel_errors(pred_t, gt_t).numpy()


def sequence_error_figure(input: np.ndarray, refined: np.ndarray, gt: np.ndarray, title: str = "") -> Figure:
    """Per-frame error (top) and acceleration error (bottom) of one sequence, input vs refined."""
    figure = new_figure(9, 5)
    top, bottom = figure.subplots(2, 1, sharex=True)
    for name, joints in (("input", input), ("refined", refined)):
        frame_error, accel = sequence_errors(joints, gt)
        top.plot(frame_error, color=COLORS[name], lw=1, label=f"{name} (mean {frame_error.mean():.2f})")
        accel_mean = accel.mean() if accel.size else float("nan")
        bottom.plot(
            np.arange(1, 1 + accel.size), accel, color=COLORS[name], lw=1, label=f"{name} (mean {accel_mean:.2f})"
        )
    top.set_ylabel("MPJPE (mm)")
    bottom.set_ylabel("accel error (mm/frame²)")
    bottom.set_xlabel("frame")
    top.legend(fontsize=8)
    bottom.legend(fontsize=8)
    top.set_title(title or "per-frame error")
    return figure


def trajectory_figure(
    input: np.ndarray,
    refined: np.ndarray,
    gt: np.ndarray,
    joint: int = INDEX_TIP,
    root_relative: bool = False,
    title: str = "",
) -> Figure:
    """x, y and z of one joint over time (default: the index fingertip), input vs refined vs ground truth.

    ``root_relative`` subtracts each sequence's own wrist first (the articulation without the global motion).
    """
    figure = new_figure(9, 6)
    axes = figure.subplots(3, 1, sharex=True)
    for name, joints in (("input", input), ("refined", refined), ("gt", gt)):
        joints = np.asarray(joints, dtype=float)
        track = joints[:, joint] - (joints[:, WRIST] if root_relative else 0.0)  # (L,3)
        for axis, ax in enumerate(axes):
            ax.plot(track[:, axis], color=COLORS[name], lw=1.2 if name == "gt" else 0.9,
                    ls="--" if name == "gt" else "-", label=LABELS[name])  # fmt: skip
    for axis, ax in zip("xyz", axes):
        ax.set_ylabel(f"{axis} (mm)")
    axes[-1].set_xlabel("frame")
    axes[0].legend(fontsize=8, ncols=3)
    where = "relative to the wrist" if root_relative else "camera space"
    axes[0].set_title(title or f"{JOINT_NAMES[joint]} trajectory ({where})")
    return figure


def skeleton_gif(
    input: np.ndarray,
    refined: np.ndarray,
    gt: np.ndarray | None,
    path: str | Path,
    max_frames: int = 120,
    fps: int = 15,
    dpi: int = 60,
    title: str = "",
) -> Path:
    """Animated 3D skeletons (input, refined and, when given, ground truth overlaid) written as a GIF.

    Every frame is centred on the ground-truth wrist (the refined one without ground truth), so the hand stays
    in view while its global motion and the errors remain visible; at most ``max_frames`` frames, evenly
    subsampled from the sequence.
    """
    named = (("input", input), ("refined", refined)) + ((("gt", gt),) if gt is not None else ())
    sequences = {name: np.asarray(j, dtype=float) for name, j in named}
    reference = "gt" if gt is not None else "refined"
    length = sequences[reference].shape[0]
    frames = np.unique(np.linspace(0, length - 1, min(max_frames, length)).round().astype(int))
    centre = sequences[reference][:, WRIST : WRIST + 1]  # (L,1,3)
    centred = {name: joints - centre for name, joints in sequences.items()}
    extent = 1.1 * max(float(np.abs(centred[reference][frames]).max()), 1e-6)  # the reference hand fills the view
    figure = new_figure(4, 4, dpi=dpi, layout=None)  # a layout engine would re-run on every frame
    axes = figure.add_axes((0.0, 0.0, 1.0, 1.0), projection="3d")
    axes.set(xlim=(-extent, extent), ylim=(-extent, extent), zlim=(-extent, extent), xlabel="x", ylabel="y", zlabel="z")
    axes.view_init(elev=-70, azim=-90)  # camera looking along +z, y pointing down
    axes.set_axis_off()  # axes, ticks and a legend would be most of the drawing time of every frame
    # One line per skeleton: the bones as segments separated by NaN breaks, (3 * bones, 3) points per frame.
    segments = np.array([[parent, child, WRIST] for parent, child in BONES]).reshape(-1)
    breaks = np.zeros(segments.shape, dtype=bool)
    breaks[2::3] = True
    lines = {
        name: axes.plot([], [], [], color=COLORS[name], lw=1.0 if name == "input" else 1.5, label=LABELS[name])[0]
        for name in centred
    }
    key = "red: input, blue: refined" + (", green: ground truth" if gt is not None else "")
    heading = figure.text(0.02, 0.97, "", fontsize=7, va="top")

    def draw(frame: int) -> list:
        for name, joints in centred.items():
            points = joints[frame, segments]  # (3 * bones, 3)
            points[breaks] = np.nan
            lines[name].set_data_3d(points[:, 0], points[:, 1], points[:, 2])
        heading.set_text(f"{title} frame {frame}\n{key}".strip())
        return list(lines.values())

    animation = FuncAnimation(figure, draw, frames=frames, blit=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    animation.save(path, writer=PillowWriter(fps=fps), dpi=dpi)
    return path


def safe_name(name: str) -> str:
    """A file-name-safe version of a sequence name."""
    return re.sub(r"[^\w.-]+", "_", str(name)).strip("_") or "sequence"


def write_test_plots(
    per_joint: Mapping[str, np.ndarray],
    examples: Sequence[Mapping[str, object]],
    out_dir: str | Path,
    gif: bool = True,
    max_frames: int = 120,
) -> dict[str, Path]:
    """All figures of a test run into ``out_dir``; returns {key: path}.

    ``per_joint``: mean error per joint for ``input`` and ``refined`` (21,), in mm (skipped when empty).
    ``examples``: sequences as dicts with ``name`` and ``input``, ``refined``, ``gt`` arrays (L,21,3) in mm;
    each gets per-frame errors, the index-tip trajectory and (if ``gif``) an animated skeleton.
    """
    out_dir = Path(out_dir)
    paths: dict[str, Path] = {}
    if len(per_joint):
        paths["per_joint"] = save_figure(per_joint_figure(per_joint), out_dir / "per_joint_error.png")
    for example in examples:
        name = safe_name(str(example["name"]))
        arrays = [np.asarray(example[key]) for key in ("input", "refined", "gt")]
        paths[f"{name}/errors"] = save_figure(
            sequence_error_figure(*arrays, title=name), out_dir / f"{name}_errors.png"
        )
        paths[f"{name}/trajectory"] = save_figure(trajectory_figure(*arrays), out_dir / f"{name}_trajectory.png")
        if gif:
            paths[f"{name}/skeleton"] = skeleton_gif(*arrays, out_dir / f"{name}_skeleton.gif", max_frames, title=name)
    return paths
