"""Paper-style tables from the result rows: mean ± std over seeds per method and dataset.

Rows follow the paper's order (input, Savitzky-Golay, Gaussian1d, SmoothNet, MotionBERT, ours), then any
other method alphabetically; columns are MPJPE / MPVPE / MPVPE (joints) (mm), Accel (mm/frame²) and bone-length
variation (Bone CV, per bone std / mean over a sequence, %), plus the relative improvement
of MPJPE and Accel over the unrefined input of the same dataset (positive = better).

MPVPE (metric ``mpvpe``) roots and scales each mesh by its own joints regressed from it, the protocol of the
evaluation the paper cites; MPVPE (joints) (``mpvpe_joints``) by the refined and ground-truth joints, so it also
counts an error of the mesh's overall size (result rows written before the split hold only ``mpvpe``, computed
the second way).
"""

from __future__ import annotations

import math
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from handprior.reporting.rows import INPUT_METHOD, ResultRow, read_rows

METRICS: tuple[str, ...] = ("mpjpe", "mpvpe", "mpvpe_joints", "accel", "bone_cv")
HEADERS = {
    "mpjpe": "MPJPE",
    "mpvpe": "MPVPE",
    "mpvpe_joints": "MPVPE (joints)",
    "accel": "Accel",
    "bone_cv": "Bone CV %",
}
IMPROVEMENT_METRICS: tuple[str, ...] = ("mpjpe", "accel")

# Display name of a method (the paper's labels); keys are lower-case names without spaces, "-" or "_".
PAPER_ORDER: tuple[str, ...] = ("input", "Savitzky-Golay", "Gaussian1d", "SmoothNet", "MotionBERT", "ours")
ALIASES: dict[str, str] = {
    "input": "input",
    "identity": "input",
    "savitzkygolay": "Savitzky-Golay",
    "savgol": "Savitzky-Golay",
    "gaussian1d": "Gaussian1d",
    "gaussian": "Gaussian1d",
    "smoothnet": "SmoothNet",
    "motionbert": "MotionBERT",
    "ours": "ours",
    "handpriornet": "ours",
}


def display_name(method: str) -> str:
    """The table label of a method name from the CSV (known aliases map to the paper's labels)."""
    return ALIASES.get(re.sub(r"[\s_\-]", "", method).lower(), method)


def method_order(name: str) -> tuple[int, str]:
    """Sort key: the paper's methods first, in its order, then the others alphabetically."""
    return (PAPER_ORDER.index(name), "") if name in PAPER_ORDER else (len(PAPER_ORDER), name.lower())


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation (ddof=1; 0 for a single seed) over ``n`` seeds."""

    mean: float
    std: float
    n: int

    def format(self, digits: int = 2) -> str:
        if self.n > 1:
            return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"
        return f"{self.mean:.{digits}f}"


@dataclass
class TableRow:
    """One line of the table: a method on a dataset."""

    dataset: str
    method: str
    stats: dict[str, Stat] = field(default_factory=dict)
    improvement: dict[str, float] = field(default_factory=dict)  # % lower than the input's mean

    @property
    def seeds(self) -> int:
        return max((s.n for s in self.stats.values()), default=0)


def summarize(rows: Iterable[ResultRow], split: str = "test", group: str | None = None) -> list[TableRow]:
    """Mean ± std over seeds per (dataset, method, metric), sorted by dataset then the paper's method order.

    Rows of one seed measured more than once (the input, scored again by every run) are averaged first,
    so each seed counts once.
    """
    per_seed: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)
    for row in rows:
        if row.split != split or (group is not None and row.group != group) or row.metric not in METRICS:
            continue
        seed = row.seed or row.run_id
        per_seed[(row.dataset, display_name(row.method), row.metric, seed)].append(row.value)
    values: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (dataset, method, metric, _), measured in per_seed.items():
        values[(dataset, method)][metric].append(statistics.fmean(measured))
    table = []
    for (dataset, method), metrics in values.items():
        stats = {
            metric: Stat(statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else 0.0, len(v))
            for metric, v in metrics.items()
        }
        table.append(TableRow(dataset, method, stats))
    inputs = {row.dataset: row for row in table if row.method == INPUT_METHOD}
    for row in table:
        reference = inputs.get(row.dataset)
        if reference is None or row.method == INPUT_METHOD:
            continue
        for metric in IMPROVEMENT_METRICS:
            if metric in row.stats and metric in reference.stats and reference.stats[metric].mean > 0:
                base = reference.stats[metric].mean
                row.improvement[metric] = 100.0 * (base - row.stats[metric].mean) / base
    return sorted(table, key=lambda r: (r.dataset, method_order(r.method)))


def _cells(row: TableRow, with_dataset: bool) -> list[str]:
    cells = [row.dataset] if with_dataset else []
    cells += [row.method, str(row.seeds)]
    cells += [row.stats[m].format() if m in row.stats else "-" for m in METRICS]
    for metric in IMPROVEMENT_METRICS:
        change = row.improvement.get(metric)
        cells.append("-" if change is None or math.isnan(change) else f"{change:+.1f}%")
    return cells


def _headers(with_dataset: bool) -> list[str]:
    headers = ["dataset"] if with_dataset else []
    return headers + [
        "method",
        "seeds",
        *(HEADERS[m] for m in METRICS),
        *(f"{HEADERS[m]} gain" for m in IMPROVEMENT_METRICS),
    ]


def to_markdown(table: list[TableRow]) -> str:
    """A GitHub Markdown table (the dataset column only when there are several datasets)."""
    with_dataset = len({row.dataset for row in table}) > 1
    headers = _headers(with_dataset)
    aligns = [":---" if h in ("dataset", "method") else "---:" for h in headers]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(aligns) + " |"]
    lines += ["| " + " | ".join(_cells(row, with_dataset)) + " |" for row in table]
    return "\n".join(lines) + "\n"


def to_rich(table: list[TableRow], title: str = "results (mm, mm/frame²), mean ± std over seeds") -> Table:
    """A rich console table."""
    with_dataset = len({row.dataset for row in table}) > 1
    rich_table = Table(title=title)
    for header in _headers(with_dataset):
        rich_table.add_column(header, justify="left" if header in ("dataset", "method") else "right")
    for row in table:
        rich_table.add_row(*_cells(row, with_dataset), style="dim" if row.method == INPUT_METHOD else None)
    return rich_table


def table(
    csv: str,
    markdown: bool = False,
    output: str | None = None,
    split: str = "test",
    group: str | None = None,
) -> None:
    """Print mean ± std over seeds per method and dataset from a results CSV, in the paper's row order.

    Columns: MPJPE, MPVPE and MPVPE (joints) (mm; see the module docstring), Accel (mm/frame²), bone-length
    variation (Bone CV: per bone, std / mean over a sequence, in %), and the improvement of MPJPE and Accel over the
    unrefined input, in percent (positive = better).

    Args:
        csv: the results CSV written by runs and by `handprior bench` (e.g. results/runs.csv).
        markdown: print Markdown (for docs) instead of a rich terminal table.
        output: also write the Markdown table to this file.
        split: which split's rows to use.
        group: only rows of this experiment group (default: all).
    """
    if not Path(csv).exists():
        from handprior.errors import HandpriorInputError

        raise HandpriorInputError("no such results file", csv)
    rows = summarize(read_rows(csv), split=split, group=group)
    text = to_markdown(rows)
    if output is not None:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text)
    if markdown:
        print(text, end="")
    else:
        Console().print(to_rich(rows))
