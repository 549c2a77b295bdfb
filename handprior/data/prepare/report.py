"""Drop accounting, progress and the summary a prepare command prints and stores in meta.json.

Nothing is dropped silently: every frame a preparer leaves out is counted under a reason, and the counts are
printed at the end and written into the split's ``meta.json`` (key ``prepare``). Likewise every ground-truth joint
that is kept but masked (a partly annotated hand: the frame stays, the joint is neither supervised nor scored) is
counted under a reason, with the number of stored frames it touches.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rich.console import Console
from rich.table import Table

from handprior.progress import progress_bar, progress_wanted

T = TypeVar("T")

# Frame-level drop reasons shared by the preparers (dataset-specific ones are plain strings too).
NO_GROUND_TRUTH = "no ground truth"
INVALID_WRIST = "invalid wrist"
INVALID_JOINTS = "invalid joints"
TRUNCATED_JOINTS = "joints outside the image"
NO_MANO = "no MANO fit"
NO_CAMERA = "no camera parameters"
NO_PREDICTION = "no prediction"
PREDICTION_NOT_FINITE = "prediction not finite"
SHORT_SEQUENCE = "sequence shorter than min_length"
# Joint-level mask reasons.
JOINT_MARKED_INVALID = "joint marked invalid"


@dataclass
class SplitReport:
    """Counts for one split: what was kept and, per reason, how many frames were dropped."""

    split: str
    sequences: int = 0
    frames: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    masked_frames: Counter[str] = field(default_factory=Counter)  # reason -> stored frames with a joint masked
    masked_joints: Counter[str] = field(default_factory=Counter)  # reason -> joints masked in stored frames

    def drop(self, reason: str, count: int = 1) -> None:
        """Count ``count`` frames left out for ``reason``."""
        if count:
            self.dropped[reason] += int(count)

    def mask(self, reason: str, frames: int, joints: int) -> None:
        """Count ``joints`` ground-truth joints, in ``frames`` stored frames, masked for ``reason``."""
        if joints:
            self.masked_frames[reason] += int(frames)
            self.masked_joints[reason] += int(joints)

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (stored in meta.json)."""
        return {
            "split": self.split,
            "sequences": self.sequences,
            "frames": self.frames,
            "dropped_frames": self.dropped_total,
            "dropped": dict(sorted(self.dropped.items())),
            "masked": {reason: {"frames": self.masked_frames[reason], "joints": self.masked_joints[reason]}
                       for reason in sorted(self.masked_joints)},  # fmt: skip
            "notes": list(self.notes),
        }


@dataclass
class RunReport:
    """Counts for a whole prepare run: the splits plus what happened to the predictions file."""

    dataset: str
    splits: list[SplitReport] = field(default_factory=list)
    predictions: dict[str, Any] = field(default_factory=dict)
    skipped_splits: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "splits": {s.split: s.to_dict() for s in self.splits},
            "skipped_splits": dict(self.skipped_splits),
            "predictions": dict(self.predictions),
        }


def print_summary(report: RunReport, console: Console | None = None) -> None:
    """Print one table: per split the sequences and frames kept, then the dropped frames by reason."""
    console = console or Console(stderr=True)
    table = Table(title=f"handprior prepare {report.dataset}")
    table.add_column("split")
    table.add_column("sequences", justify="right")
    table.add_column("frames", justify="right")
    table.add_column("dropped frames (why)")
    table.add_column("masked joints, in frames (why)")
    for split in report.splits:
        why = ", ".join(f"{reason}: {count}" for reason, count in sorted(split.dropped.items())) or "-"
        masked = ", ".join(f"{reason}: {split.masked_joints[reason]} in {split.masked_frames[reason]}"
                           for reason in sorted(split.masked_joints)) or "-"  # fmt: skip
        table.add_row(split.split, str(split.sequences), str(split.frames), f"{split.dropped_total} ({why})", masked)
    for split, reason in report.skipped_splits.items():
        table.add_row(split, "-", "-", f"skipped: {reason}", "-")
    console.print(table)
    for key, value in report.predictions.items():
        console.print(f"predictions {key}: {value}")
    for split in report.splits:
        for note in split.notes:
            console.print(f"[yellow]{split.split}: {note}[/yellow]")


def track(
    items: Sequence[T] | Iterable[T], description: str, enabled: bool = True, total: int | None = None
) -> Iterator[T]:
    """Iterate over views with a rich progress bar on stderr (views done, views/s, time left); nothing is drawn
    when ``enabled`` is False or stdout is not a terminal."""
    if not progress_wanted(quiet=not enabled):
        yield from items
        return
    if total is None and isinstance(items, Sequence):
        total = len(items)
    with progress_bar("views") as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task)
