"""Evaluation protocols: the benchmark's trained networks re-scored with different ``eval_stride`` (trains nothing).

    .venv/bin/python -m experiments.bench.protocols                       # after `handprior bench ...synthetic.yaml`
    .venv/bin/python -m experiments.bench.protocols --strides 27 9 1 --methods MotionBERT ours
    .venv/bin/python -m experiments.bench.protocols --strides 27 9 --bones free sequence   # + one skeleton
    .venv/bin/python -m experiments.bench.protocols --strides 27 9 --seamless --methods ours-recipe
    .venv/bin/python -m experiments.bench.protocols --strides --seamless        # the seamless setting only

A windowed network refines a whole sequence window by window. With ``eval_stride`` = T (the default, MotionBERT's
protocol) every frame is predicted by one window; with a smaller stride each frame is predicted by T/stride
overlapping windows whose outputs are averaged, a test-time ensemble. The ensemble helps a network whose
per-window errors differ from window to window more than one whose outputs are already smooth, so the two
protocols can order methods differently; this script measures both on the same checkpoints.

For every run of ``--methods`` in the benchmark's result file, the run's best checkpoint (the one its test
used) is loaded weights-only, the test split is refined at each stride, and MPJPE and Accel are computed with
the framework's metrics. ``--seamless`` adds ``handprior refine``'s default offline setting (windows every T/3
frames blended with weights tapered over T/2 frames at each end, so no frame sits at a window's edge; group
``<bench group>/seamless``). ``--bones`` scores each stride also with one skeleton per sequence (``sequence``: every
frame gets the sequence's median bone lengths, as ``model.bones``; such rows are labelled ``<method>+bones``).
Prints mean ± std over seeds per method and stride; ``--output`` also appends one row per run, stride, bone mode
and metric (group ``<bench group>/eval_stride=<s>``) for ``handprior table``.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

import torch
from rich.console import Console

from handprior.data.datamodule import SyntheticDataModule
from handprior.inference.model import RefinementModel
from handprior.reporting.rows import ResultRow, append_rows, git_sha, read_rows, store_data_version
from handprior.reporting.table import summarize, to_markdown, to_rich
from handprior.reporting.tune import score


def best_checkpoint(config_path: str) -> Path:
    """The best checkpoint of the run whose ``config.yaml`` is ``config_path`` (ModelCheckpoint's top-1 file)."""
    folder = Path(config_path).parent / "checkpoints"
    found = sorted(p for p in folder.glob("*.ckpt") if p.name != "last.ckpt")
    if not found:
        raise SystemExit(f"{folder}: no best checkpoint (was the run trained by `handprior bench`?)")
    return found[-1]


def settings(model: RefinementModel, strides: list[int], seamless: bool) -> dict[str, tuple[int, int]]:
    """The evaluation settings to score, by group suffix: ``eval_stride=S`` -> (S, taper 0) for each stride, and
    ``seamless`` -> the model's seamless (stride, taper) when asked."""
    chosen = {f"eval_stride={stride}": (stride, 0) for stride in strides}
    if seamless:
        chosen["seamless"] = model.seamless()
    return chosen


def main() -> None:
    """Re-score the benchmark's trained runs at several evaluation strides and, with --seamless, refine's blend."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default="results/bench_synthetic.csv", help="the benchmark's result rows")
    parser.add_argument("--methods", nargs="+", default=["MotionBERT", "ours"], help="methods to re-score")
    parser.add_argument("--strides", nargs="*", type=int, default=[27, 9], help="eval_stride values (frames)")
    parser.add_argument("--seamless", action="store_true", help="also score refine's seamless setting")
    parser.add_argument("--bones", nargs="+", default=["free"], choices=["free", "sequence"],
                        help="bone modes to score (sequence: one skeleton per sequence, rows labelled +bones)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--root", default="data/synthetic", help="the synthetic benchmark's cache folder")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--output", default=None, help="also append the rows to this CSV")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = parser.parse_args()
    if not args.strides and not args.seamless:
        parser.error("nothing to score: give --strides and/or --seamless")
    torch.set_num_threads(args.threads)
    runs = {}  # run_id -> the run's test rows' (method, seed, config, group)
    for row in read_rows(args.results):
        if row.split == args.split and row.method in args.methods and row.metric == "mpjpe":
            runs[row.run_id] = (row.method, row.seed, row.config, row.group)
    if not runs:
        raise SystemExit(f"{args.results}: no {args.split} rows of {args.methods}")
    store = SyntheticDataModule(root=args.root).open_split(args.split)
    version = store_data_version(store)
    rows, sha = [], git_sha()
    for run_id, (method, seed, config, group) in sorted(runs.items()):
        ckpt = best_checkpoint(config)
        for bones in args.bones:
            model = RefinementModel.from_checkpoint(ckpt, bones=bones)
            label = method if bones == "free" else f"{method}+bones"
            for setting, (stride, taper) in settings(model, args.strides, args.seamless).items():
                values = score(model, store, stride=stride, taper=taper)
                print(f"{run_id} {label} {setting}: " + ", ".join(f"{k} {v:.3f}" for k, v in values.items()))
                stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
                for metric, value in values.items():
                    unit = "mm" if metric == "mpjpe" else "mm/frame^2"
                    rows.append(ResultRow(stamp, run_id, f"{group}/{setting}", label, seed, "synthetic",
                                          args.split, metric, value, unit, str(ckpt), sha, version))  # fmt: skip
    if args.output:
        append_rows(args.output, rows)
    console = Console()
    for setting in dict.fromkeys(r.group.rsplit("/", 1)[1] for r in rows):  # in the order scored
        group = {r.group for r in rows if r.group.endswith(f"/{setting}")}.pop()
        table = summarize(rows, split=args.split, group=group)
        title = f"{setting}: {args.split} split, mean ± std over seeds (mm, mm/frame²)"
        if args.markdown:
            print(f"\n{title}\n\n{to_markdown(table)}")
        else:
            console.print(to_rich(table, title=title))


if __name__ == "__main__":
    main()
