"""`handprior tune EXPERIMENT.yaml`: each filter's settings chosen on the validation split by a small grid.

A method of an experiment file with a ``tune`` grid (init argument -> values) is tuned::

      - name: One-Euro
        command: test
        seeds: [0]
        args: [--model.net=handprior.models.filters.OneEuro]
        tune: {min_cutoff: [0.25, 0.5, 1, 2, 4], beta: [0, 0.001, 0.003, 0.01, 0.03]}

Every combination of the grid is applied to the validation split of the method's own data settings (the
experiment's configs and args, then the method's), scored with the framework's MPJPE and Accel, and the one with
the lowest validation MPJPE is kept (ties: the lower Accel) — the criterion that picks the networks' checkpoints
(``val/mpjpe``). The choice is written as a config file, ``<results folder>/tuned/<group>/<method>-<hash>.yaml``
(the hash covers the grid and the data settings, so changing either tunes again), that ``handprior test --config``
accepts; every grid point is also added to the results CSV as rows of the ``val`` split (group ``<group>/tune``).
``handprior bench`` tunes a method before its run when its file is missing, runs it with the file, and labels its
rows with the chosen values, e.g. ``One-Euro(min_cutoff=0.5, beta=0.01)``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from filelock import FileLock
from rich.console import Console
from rich.table import Table

from handprior.errors import HandpriorInputError
from handprior.reporting.bench import Experiment, Method, load_experiment
from handprior.reporting.rows import ResultRow, append_rows, git_sha, store_data_version

SELECTION_METRIC = "mpjpe"  # lowest validation MPJPE wins; Accel breaks ties


def grid_points(grid: Sequence[tuple[str, Sequence[Any]]]) -> list[dict[str, Any]]:
    """Every combination of a grid ``((name, values), ...)``, in the grid's order."""
    names = [name for name, _ in grid]
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*(values for _, values in grid))]


def tuned_label(name: str, settings: Mapping[str, Any]) -> str:
    """The method label that carries the chosen settings: ``One-Euro(min_cutoff=0.5, beta=0.01)``."""
    return f"{name}({', '.join(f'{key}={value:g}' if isinstance(value, float) else f'{key}={value}' for key, value in settings.items())})"


def method_arguments(spec: Experiment, method: Method) -> list[str]:
    """The configs and overrides of a method's runs, without the seed and the result writer."""
    configs = [arg for config in (*spec.base, *method.configs) for arg in ("--config", config)]
    return [*configs, *spec.args, *method.args]


def tuned_path(spec: Experiment, method: Method, results: str | Path) -> Path:
    """Where the tuned settings of ``method`` go: named by the method and a hash of its grid and data settings."""
    key = json.dumps({"grid": method.tune, "args": method_arguments(spec, method)}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in method.name)
    return Path(results).parent / "tuned" / spec.name / f"{slug}-{digest}.yaml"


def read_tuned(path: str | Path) -> dict[str, Any]:
    """The chosen settings recorded in a tuned config file (its ``# tuned:`` line, JSON)."""
    for line in Path(path).read_text().splitlines():
        if line.startswith("# tuned: "):
            return json.loads(line.removeprefix("# tuned: "))
    raise HandpriorInputError("not a tuned config file (no '# tuned:' line)", path)


def _build(argv: list[str]) -> tuple[Any, Any, dict[str, Any], bool]:
    """The data module, the refinement model and the network configuration of a run's arguments, without
    running anything (LightningCLI with ``run=False``)."""
    from handprior.lightning_cli import build_cli

    cli = build_cli(argv, run=False, save_config_callback=None)
    net = cli.config["model"]["net"]
    spec = net.clone().as_dict() if hasattr(net, "clone") else dict(net)
    return cli.datamodule, cli.model.inference, spec, bool(cli.config["model"].get("accel_pad", False))


def score(
    model: Any, store: Any, accel_pad: bool = False, stride: int | None = None, taper: int = 0
) -> dict[str, float]:
    """MPJPE (mm) and Accel (mm/frame²) of a refinement model on every sequence of a store (the run's metrics),
    refined with windows every ``stride`` frames (None: the model's ``eval_stride``) blended with ``taper``."""
    from handprior.data.datasets import SequenceDataset
    from handprior.metrics.modules import sequence_scores

    pairs = ((model.refine_sequence(item["pred"], stride, taper)["joints"], item["gt"], item.get("valid"))
             for item in SequenceDataset(store))  # fmt: skip
    return sequence_scores(pairs, accel_pad)  # pred, gt (L,21,3) mm, valid (L,21) bool or None


def tune_method(spec: Experiment, method: Method, results: str, split: str = "val") -> Path:
    """Tune one method on ``split``; writes its tuned config file and its grid rows; returns the file."""
    from handprior.models.registry import canonical_class_path, check_net_config

    if not method.tune:
        raise HandpriorInputError(f"method {method.name!r} has no `tune` grid")
    datamodule, model, net_spec, accel_pad = _build(method_arguments(spec, method))
    cls, base_args = check_net_config(net_spec)
    store = datamodule.open_split(split)
    console = Console()
    scored = []
    for point in grid_points(method.tune):
        model.net = cls(**{**base_args, **point})
        scored.append((point, score(model, store, accel_pad)))
        console.print(f"{method.name} {point}: " + ", ".join(f"{k} {v:.3f}" for k, v in scored[-1][1].items()))
    best, best_scores = min(scored, key=lambda item: (item[1][SELECTION_METRIC], item[1]["accel"]))
    path = tuned_path(spec, method, results)
    net = {"class_path": canonical_class_path(cls), "init_args": {**base_args, **best}}
    header = (
        f"# handprior tune: {method.name} on the {split} split of {spec.name}, the lowest {split} MPJPE "
        f"({best_scores['mpjpe']:.3f} mm, Accel {best_scores['accel']:.3f} mm/frame^2) of {len(scored)} settings\n"
        f"# grid: {json.dumps(dict(method.tune))}\n# tuned: {json.dumps(best)}\n"
    )
    _write_atomic(path, header + yaml.safe_dump({"model": {"net": net}}, sort_keys=False))
    stamp, sha = datetime.now(timezone.utc).isoformat(timespec="seconds"), git_sha()
    dataset = Path(str(getattr(datamodule, "root", ""))).name or type(datamodule).__name__
    version = store_data_version(store)
    rows = [
        ResultRow(
            stamp,
            f"{spec.name}/{method.name}/tune",
            f"{spec.name}/tune",
            tuned_label(method.name, point),
            "",
            dataset,
            split,
            metric,
            value,
            "mm" if metric == "mpjpe" else "mm/frame^2",
            str(path),
            sha,
            version,
        )  # fmt: skip
        for point, values in scored
        for metric, value in values.items()
    ]
    append_rows(results, rows)
    table = Table(title=f"{method.name}: {split} split, best first (chosen: {tuned_label(method.name, best)})")
    for column in ("settings", "MPJPE", "Accel"):
        table.add_column(column, justify="left" if column == "settings" else "right")
    for point, values in sorted(scored, key=lambda item: (item[1]["mpjpe"], item[1]["accel"]))[:8]:
        table.add_row(json.dumps(point), f"{values['mpjpe']:.3f}", f"{values['accel']:.3f}")
    console.print(table)
    return path


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(handle, "w") as file:
        file.write(text)
    os.replace(temporary, path)


def ensure_tuned(spec: Experiment, method: Method, results: str, force: bool = False) -> Path:
    """The tuned config file of ``method``, tuning it first when it is missing (or ``force``); a file lock lets
    parallel bench jobs wait for one tuning instead of repeating it."""
    path = tuned_path(spec, method, results)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{path}.lock"):
        if force or not path.is_file():
            tune_method(spec, method, results)
    return path


def tune(experiment: str, method: str | None = None, results: str | None = None, force: bool = False) -> None:
    """Choose the settings of every method with a `tune` grid in an experiment file on the validation split.

    Each combination of the method's grid is scored on the validation split of the method's data settings; the
    one with the lowest validation MPJPE (ties: lower Accel) is written as a config file under
    `<results folder>/tuned/<experiment>/` for `handprior test --config`, and every grid point is added to the
    results CSV as rows of the val split. `handprior bench` does this by itself before a tuned method's run.

    Args:
        experiment: the experiment file (e.g. experiments/bench/synthetic.yaml).
        method: tune only this method (default: every method with a grid).
        results: the results CSV (default: the file's `results`).
        force: tune again even when the tuned file exists.
    """
    spec = load_experiment(experiment)
    csv_path = results or spec.results
    chosen = [m for m in spec.methods if m.tune and (method is None or m.name == method)]
    if not chosen:
        raise HandpriorInputError(
            f"no method {'named ' + repr(method) + ' ' if method else ''}with a `tune` grid", experiment
        )
    for entry in chosen:
        path = ensure_tuned(spec, entry, csv_path, force)
        Console().print(f"{entry.name}: {tuned_label(entry.name, read_tuned(path))} ({path})", highlight=False)
