"""The part every preparer shares: splits -> views -> tracks -> predictions -> sequences -> store folders.

A dataset module provides a :class:`Preparer` (how to list the views of a split and read the tracks of one
view); :func:`run_prepare` does the rest, the same way for every dataset.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console

from handprior.data.file_checks import check_no_clash, store_files
from handprior.data.prepare.geometry import check_hand_size_mm
from handprior.data.prepare.predictions import (
    KeyScheme,
    PredictionTable,
    attach_predictions,
    check_matched,
    load_predictions,
    simulate_predictions,
)
from handprior.data.prepare.report import RunReport, SplitReport, print_summary, track
from handprior.data.prepare.sequences import PackedSplit, SplitBuilder, Track
from handprior.data.store import write_store
from handprior.errors import HandpriorInputError

SIMULATED_SEED_STRIDE = 1000  # split i is simulated with seed + i * stride: disjoint, reproducible streams


class Preparer(Protocol):
    """What a dataset module implements."""

    dataset: str
    scheme: KeyScheme
    split_names: tuple[str, ...]  # the splits this dataset has, in order
    fps: float

    def views(self, split: str) -> list[tuple[Any, ...]]:
        """Every view of ``split`` (a frame id without its frame index), in a stable order."""
        ...

    def tracks(self, split: str, view: tuple[Any, ...], report: SplitReport) -> list[Track]:
        """The hand tracks of one view (one per annotated hand), with drop reasons set."""
        ...

    def split_meta(self, split: str) -> dict[str, Any]:
        """Dataset facts for meta.json: ``annotations`` (path), ``mano`` (convention or why absent), notes."""
        ...

    def missing_split(self, split: str) -> str | None:
        """Why the annotation files of ``split`` are not there (None if they are)."""
        ...


def resolve_splits(split: str, available: tuple[str, ...], dataset: str) -> list[str]:
    """``"all"`` or a comma-separated list of split names -> the list, checked against ``available``."""
    if split.strip() == "all":
        return list(available)
    names = [name.strip() for name in split.split(",") if name.strip()]
    unknown = [name for name in names if name not in available]
    if unknown or not names:
        raise HandpriorInputError(f"{dataset} has splits {', '.join(available)} (or 'all'); got {split!r}")
    return names


def build_split(
    preparer: Preparer,
    split: str,
    report: SplitReport,
    table: PredictionTable | None,
    min_length: int,
    frame_step: int | None,
    progress: bool,
) -> PackedSplit | None:
    """All sequences of one split, or None if no frame was kept."""
    builder = SplitBuilder(report, min_length, frame_step, root_relative=bool(table and table.root_relative))
    views = preparer.views(split)
    if table is not None:
        wanted = table.views()
        views = [view for view in views if view in wanted]
    if not views:
        report.notes.append("no view in this split" + (" has a prediction" if table is not None else ""))
    for view in track(views, f"{preparer.dataset} {split}", enabled=progress):
        for hand in preparer.tracks(split, view, report):
            builder.add(attach_predictions(hand, table) if table is not None else hand)
    return builder.finish() if builder.num_sequences else None


def write_split(
    preparer: Preparer,
    packed: PackedSplit,
    out: Path,
    split: str,
    report: SplitReport,
    table: PredictionTable | None,
    simulation: dict[str, Any],
) -> Path:
    """Check units, simulate predictions if none were given, write the store folder with its meta.json."""
    meta = dict(preparer.split_meta(split))
    check_hand_size_mm(packed.gt, f"{preparer.dataset} {split} ground truth", meta.get("annotations", out))
    pred = packed.pred
    if table is not None:
        predictions = {"simulated": False, "file": str(table.path), "source": table.source,
                       "root_relative": table.root_relative}  # fmt: skip
    else:
        seed = simulation["seed"] + SIMULATED_SEED_STRIDE * preparer.split_names.index(split)
        pred = simulate_predictions(packed.gt, packed.offsets, simulation["profile"], seed, preparer.fps)
        predictions = {"simulated": True, "profile": simulation["profile"], "seed": seed,
                       "simulator": "handprior.data.synthetic.noise.simulate", "root_relative": False}  # fmt: skip
    meta.update(
        dataset=preparer.dataset,
        split=split,
        fps=preparer.fps,
        estimator=predictions.get("source") or f"simulated:{simulation['profile']}",
        predictions=predictions,
        root_relative=predictions["root_relative"],
        mirrored_left_hands=True,
        prepare=report.to_dict(),
        **packed.sequence_meta(),
    )
    if packed.theta is None:
        meta["mano"] = {**meta.get("mano", {}), "available": False}
    return write_store(out / split, pred, packed.gt, packed.offsets, meta, packed.theta, packed.beta,
                       valid=packed.valid)  # fmt: skip


def run_prepare(
    preparer: Preparer,
    out: str | Path,
    split: str = "all",
    predictions: str | Path | None = None,
    profile: str = "interwild",
    seed: int = 0,
    min_length: int = 1,
    frame_step: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Prepare the requested splits of a dataset into ``out/<split>`` store folders; returns the summary.

    A split in which no frame survives is skipped (and reported) when ``split`` is ``"all"``; a split named
    explicitly raises :class:`HandpriorInputError` instead.
    """
    out = Path(out)
    names = resolve_splits(split, preparer.split_names, preparer.dataset)
    if min_length < 1:
        raise HandpriorInputError(f"min_length must be at least 1, got {min_length}")
    writes = {role: path for name in names for role, path in store_files(out / name).items()}
    check_no_clash({"the predictions file": predictions}, {**writes, "the summary": out / "prepare.json"})
    table = load_predictions(predictions, preparer.scheme) if predictions is not None else None
    run = RunReport(preparer.dataset)
    simulation = {"profile": profile, "seed": seed}
    for name in names:
        report = SplitReport(name)
        missing = preparer.missing_split(name)
        if missing is not None:
            if split.strip() != "all":
                raise HandpriorInputError(f"{preparer.dataset} split {name!r}: {missing}", out)
            run.skipped_splits[name] = missing
            continue
        packed = build_split(preparer, name, report, table, min_length, frame_step, progress)
        if packed is None:
            reason = "; ".join(report.notes) or f"no frame kept ({report.dropped_total} dropped: {dict(report.dropped)})"
            if split.strip() != "all":
                if table is not None:
                    check_matched(table, preparer.scheme)  # the clearer error when no identifier matched
                raise HandpriorInputError(f"{preparer.dataset} split {name!r}: {reason}", out)
            run.skipped_splits[name] = reason
            continue
        write_split(preparer, packed, out, name, report, table, simulation)
        run.splits.append(report)
    if table is not None:
        check_matched(table, preparer.scheme)
    if not run.splits:
        raise HandpriorInputError(f"{preparer.dataset}: no split produced any sequence ({run.skipped_splits})", out)
    if table is not None:
        run.predictions = table.summary()
    summary = run.to_dict()
    (out / "prepare.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
    print_summary(run, Console(stderr=True))
    return summary
