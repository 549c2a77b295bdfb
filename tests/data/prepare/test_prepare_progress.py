"""`handprior prepare`'s progress bar (issue #22, item 3): views done, their rate and the time left, on a terminal
only, and off with --progress false."""

from __future__ import annotations

import io

from rich.console import Console

from handprior.data.prepare import report
from handprior.progress import RateColumn, progress_bar


def test_the_bar_shows_count_rate_and_time_left_on_a_terminal_only(monkeypatch) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    monkeypatch.setattr(report, "progress_bar", lambda unit: progress_bar(unit, console=console, transient=False))
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert list(report.track(range(5), "hanco test")) == list(range(5))
    drawn = buffer.getvalue()
    assert "hanco test" in drawn and "5/5" in drawn and "views/s" in drawn
    buffer.truncate(0)
    assert list(report.track(range(5), "hanco test", enabled=False)) == list(range(5))
    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    assert list(report.track(range(5), "hanco test")) == list(range(5))
    assert buffer.getvalue().strip("\x00") == ""
    assert any(isinstance(column, RateColumn) for column in progress_bar("frames").columns)
