"""Seams between windows: offline refinement with one window per frame (the evaluation protocol of ``handprior
test``) against seamless refinement (overlapping windows blended with tapered weights, ``handprior refine``'s
default), on a split of the synthetic benchmark (trains nothing).

    .venv/bin/python -m experiments.bench.seams --ckpt logs/synthetic/version_0/checkpoints/last.ckpt
    .venv/bin/python -m experiments.bench.seams --ckpt CKPT --settings 27:0 9:0 9:13 3:13 --markdown

With one window per frame, neighbouring windows meet with a step: the refined sequence jumps where one window's
output ends and the next begins. This script measures, per setting ``stride:taper`` (``taper`` 0: equal
weights), over every sequence of the split:

* MPJPE (mm), Accel (mm/frame², the metric) and bone-length variation (Bone CV, %), with the framework's metrics;
* the acceleration error per frame (:func:`handprior.metrics.functional.accel_errors`) at the evaluation
  protocol's window boundaries (the two frames on either side of each seam, the same frames for every setting)
  and elsewhere: the mean and the largest value of each;
* the time to refine the split (seconds, and relative to the evaluation protocol).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from handprior.data.datamodule import SyntheticDataModule
from handprior.data.datasets import SequenceDataset
from handprior.data.windows import local_window_starts
from handprior.inference.model import RefinementModel
from handprior.metrics.functional import accel_errors
from handprior.metrics.modules import MPJPE, AccelError, BoneLengthVariation

COLUMNS = ("setting", "MPJPE", "Accel", "Bone CV %", "boundary accel mean", "boundary accel max",
           "elsewhere accel mean", "elsewhere accel max", "time (s)", "time ×")  # fmt: skip


def boundary_mask(length: int, window: int) -> np.ndarray:
    """Which per-frame acceleration errors (L-2,) touch a seam of the evaluation protocol (windows every
    ``window`` frames, the last aligned to the end): the centres s-1 and s of each window start s > 0."""
    mask = np.zeros(max(length - 2, 0), dtype=bool)  # index i is the acceleration centred on frame i + 1
    for start in local_window_starts(length, window, window)[1:]:
        for centre in (start - 1, start):
            if 1 <= centre <= length - 2:
                mask[centre - 1] = True
    return mask


def measure(model: RefinementModel, items: list[dict], stride: int | None, taper: int) -> dict[str, float]:
    """Metrics of one setting over ``items`` (pred, gt (L,21,3) mm); ``stride`` None and taper -1: the input."""
    mpjpe, accel, bones = MPJPE(), AccelError(), BoneLengthVariation()
    at_seams, elsewhere, seconds = [], [], 0.0
    for item in items:
        pred, gt = item["pred"], item["gt"]
        if taper < 0:
            joints = pred
        else:
            begin = time.perf_counter()
            joints = model.refine_sequence(pred, stride=stride, taper=taper)["joints"]
            seconds += time.perf_counter() - begin
        mpjpe.update(joints, gt)
        accel.update(joints, gt)
        bones.update(joints)
        errors = accel_errors(joints, gt).numpy()  # (L-2,)
        mask = boundary_mask(len(pred), model.window)
        at_seams.append(errors[mask])
        elsewhere.append(errors[~mask])
    seams, rest = np.concatenate(at_seams), np.concatenate(elsewhere)
    return {"MPJPE": float(mpjpe.compute()), "Accel": float(accel.compute()), "Bone CV %": float(bones.compute()),
            "boundary accel mean": float(seams.mean()), "boundary accel max": float(seams.max()),
            "elsewhere accel mean": float(rest.mean()), "elsewhere accel max": float(rest.max()),
            "time (s)": seconds}  # fmt: skip


def main() -> None:
    """Measure seams and their cost for each blending setting."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True, help="a checkpoint written by `handprior fit`")
    parser.add_argument("--settings", nargs="+", default=None,
                        help="stride:taper pairs (default: the evaluation protocol and the seamless default)")  # fmt: skip
    parser.add_argument("--split", default="test")
    parser.add_argument("--root", default="data/synthetic", help="the synthetic benchmark's cache folder")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = RefinementModel.from_checkpoint(args.ckpt)
    items = list(SequenceDataset(SyntheticDataModule(root=args.root).open_split(args.split)))
    stride, taper = model.seamless()
    settings = args.settings or [f"{model.window}:0", f"{stride}:{taper}"]
    rows = {"input (unrefined)": measure(model, items, None, -1)}
    for setting in settings:
        step, ramp = (int(part) for part in setting.split(":"))
        label = f"stride {step}, taper {ramp}"
        label += " (evaluation protocol)" if (step, ramp) == (model.window, 0) else ""
        label += " (seamless default)" if (step, ramp) == (stride, taper) else ""
        rows[label] = measure(model, items, step, ramp)
    base = next((r["time (s)"] for label, r in rows.items() if "evaluation" in label), None)
    frames = sum(len(item["pred"]) for item in items)
    title = (f"{args.split} split: {len(items)} sequences, {frames} frames, window {model.window}; "
             f"accel = per-frame acceleration error (mm/frame²), {args.threads} torch threads")  # fmt: skip
    cells = []
    for label, values in rows.items():
        timing = ["-", "-"] if label.startswith("input") else [
            f"{values['time (s)']:.2f}", "-" if not base else f"{values['time (s)'] / base:.2f}"]  # fmt: skip
        cells.append([label, *(f"{values[c]:.2f}" for c in COLUMNS[1:8]), *timing])
    if args.markdown:
        print(f"{title}\n\n| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS))
        print("\n".join("| " + " | ".join(row) + " |" for row in cells))
        return
    table = Table(title=title)
    for column in COLUMNS:
        table.add_column(column, justify="left" if column == "setting" else "right")
    for row in cells:
        table.add_row(*row)
    Console().print(table)


if __name__ == "__main__":
    main()
