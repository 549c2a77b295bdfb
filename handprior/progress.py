"""Progress bars for long work (``handprior refine``, ``handprior prepare``): rich, on stderr, with the count, the
rate and the time left; off with ``quiet`` and whenever stdout is not a terminal (a log file or a pipe)."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text


def progress_wanted(quiet: bool = False) -> bool:
    """Whether to draw a progress bar: not ``quiet`` and stdout is a terminal."""
    return not quiet and sys.stdout.isatty()


class RateColumn(ProgressColumn):
    """Items per second, e.g. ``1,204 frames/s``."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-" if speed is None else f"{speed:,.0f} {self.unit}/s", style="progress.data.speed")


def progress_bar(unit: str, console: Console | None = None, transient: bool = True) -> Progress:
    """A rich progress bar (description, bar, done/total, rate in ``unit``/s, time left) on stderr; use it as a
    context manager and add tasks to it."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
               RateColumn(unit), TimeRemainingColumn())  # fmt: skip
    return Progress(*columns, console=console or Console(stderr=True), transient=transient)
