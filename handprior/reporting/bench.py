"""`handprior bench EXPERIMENT.yaml`: methods x seeds, one subprocess per run, rows to a shared CSV, a table.

An experiment file::

    name: synthetic-bench               # the rows' group (and the W&B group if the args set it)
    results: results/bench.csv          # default CSV (the --results option overrides it)
    base: [configs/synthetic.yaml]      # configs every run starts from
    seeds: [0, 1, 2]                    # seed_everything values (a method may override them)
    args: [--trainer.max_epochs=5]      # overrides for every run
    methods:
      - name: Savitzky-Golay            # the method's label in the table
        command: test                   # test: score without training (filters); fit (default): train + test
        args: [--model.net=handprior.models.filters.SavitzkyGolay]
        seeds: [0]                      # deterministic methods need one seed
      - name: One-Euro
        command: test
        args: [--model.net=handprior.models.filters.OneEuro]
        tune: {min_cutoff: [0.5, 1, 2], beta: [0, 0.01]}   # chosen on the val split first (handprior tune)
        seeds: [0]
      - name: ours
        configs: [configs/paper.yaml]   # extra config files, after base

Each run is ``python -m handprior <command> --config <base> --config <configs> <args> <method args>
--seed_everything=<seed>`` plus a :class:`~handprior.reporting.results.ResultRowsWriter`, in its own process
(a crash or an out-of-memory kill ends that run only). A run is done when all its rows are in the CSV, so an
interrupted bench, started again, goes on with the runs that have no rows yet. A run writes all its rows in
one atomic write (see :mod:`handprior.reporting.rows`), so it has all of them or none; a run that a crash cut
short in a file written by an earlier version, which appended in place, counts as not done: it is run again,
and its rows replace the partial ones. A method with a ``tune`` grid is tuned on the validation split before its
first run (:mod:`handprior.reporting.tune`), then run with the tuned config file, and its rows are labelled
with the chosen settings. The table is printed twice: offline methods, and causal (live) ones.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from rich.console import Console

from handprior.errors import HandpriorInputError
from handprior.reporting.live_offline import VIEW_TITLES, split_live_offline
from handprior.reporting.rows import RUN_ID_ENV, partial_runs, read_rows
from handprior.reporting.table import summarize, to_rich

COMMANDS = ("fit", "test")
EXPERIMENT_KEYS = {"name", "results", "base", "seeds", "args", "methods"}
METHOD_KEYS = {"name", "command", "configs", "args", "seeds", "tune"}
WRITER = "handprior.reporting.results.ResultRowsWriter"


@dataclass(frozen=True)
class Method:
    """One row of the table: how to run it."""

    name: str
    command: str = "fit"
    configs: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    seeds: tuple[int, ...] | None = None
    tune: tuple[tuple[str, tuple[Any, ...]], ...] | None = None  # grid: (init argument, values) pairs


@dataclass(frozen=True)
class Experiment:
    """A parsed experiment file."""

    name: str
    methods: tuple[Method, ...]
    results: str = "results/runs.csv"
    base: tuple[str, ...] = ("configs/synthetic.yaml",)
    seeds: tuple[int, ...] = (0, 1, 2)
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Run:
    """One process: a method with a seed."""

    run_id: str
    method: str
    seed: int
    argv: tuple[str, ...] = ()


def _strings(value: Any, what: str, path: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise HandpriorInputError(f"{what} must be a list of strings", path)
    return tuple(str(v) for v in value)


def _seeds(value: Any, what: str, path: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, int) for v in value):
        raise HandpriorInputError(f"{what} must be a non-empty list of integers", path)
    return tuple(value)


def _grid(value: Any, what: str, path: str) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    scalar = (int, float, str, bool)
    if (
        not isinstance(value, dict)
        or not value
        or not all(isinstance(k, str) and isinstance(v, list) and v and all(isinstance(x, scalar) for x in v)
                   for k, v in value.items())
    ):  # fmt: skip
        raise HandpriorInputError(f"{what} must map init arguments to non-empty lists of values", path)
    return tuple((key, tuple(values)) for key, values in value.items())


def load_experiment(path: str | Path) -> Experiment:
    """Read and check an experiment file (unknown keys and bad types are errors that name the key)."""
    where = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise HandpriorInputError(f"cannot read the experiment file: {error}", path) from None
    if not isinstance(data, dict):
        raise HandpriorInputError("an experiment file is a mapping with `name` and `methods`", path)
    unknown = set(data) - EXPERIMENT_KEYS
    if unknown:
        raise HandpriorInputError(f"unknown keys {sorted(unknown)}; known: {sorted(EXPERIMENT_KEYS)}", path)
    if not isinstance(data.get("name"), str) or not data["name"]:
        raise HandpriorInputError("`name` (the experiment's group) is required", path)
    if not isinstance(data.get("methods"), list) or not data["methods"]:
        raise HandpriorInputError("`methods` must be a non-empty list", path)
    methods = []
    for index, entry in enumerate(data["methods"]):
        what = f"methods[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise HandpriorInputError(f"{what} needs a `name`", path)
        unknown = set(entry) - METHOD_KEYS
        if unknown:
            raise HandpriorInputError(f"{what}: unknown keys {sorted(unknown)}; known: {sorted(METHOD_KEYS)}", path)
        command = entry.get("command", "fit")
        if command not in COMMANDS:
            raise HandpriorInputError(f"{what}.command must be one of {COMMANDS}, got {command!r}", path)
        methods.append(
            Method(
                name=entry["name"],
                command=command,
                configs=_strings(entry.get("configs", []), f"{what}.configs", where),
                args=_strings(entry.get("args", []), f"{what}.args", where),
                seeds=_seeds(entry["seeds"], f"{what}.seeds", where) if "seeds" in entry else None,
                tune=_grid(entry["tune"], f"{what}.tune", where) if "tune" in entry else None,
            )
        )
    names = [m.name for m in methods]
    if len(set(names)) != len(names):
        raise HandpriorInputError(f"method names must be unique, got {names}", path)
    return Experiment(
        name=data["name"],
        methods=tuple(methods),
        results=str(data.get("results", Experiment.results)),
        base=_strings(data.get("base", list(Experiment.base)), "base", where),
        seeds=_seeds(data.get("seeds", list(Experiment.seeds)), "seeds", where),
        args=_strings(data.get("args", []), "args", where),
    )


def plan_runs(experiment: Experiment, results: str) -> list[Run]:
    """Every (method, seed) run with its command line, in file order."""
    return [plan_run(experiment, method, seed, results) for method in experiment.methods
            for seed in method.seeds or experiment.seeds]  # fmt: skip


def plan_run(experiment: Experiment, method: Method, seed: int, results: str) -> Run:
    """One run's command line. A tuned method adds its tuned config file and is labelled with the chosen
    settings (``<name>(tuned)`` until it is tuned)."""
    from handprior.reporting.tune import method_arguments, read_tuned, tuned_label, tuned_path

    label, tuned = method.name, []
    if method.tune:
        path = tuned_path(experiment, method, results)
        label = tuned_label(method.name, read_tuned(path)) if path.is_file() else f"{method.name}(tuned)"
        tuned = ["--config", str(path)]
    argv = (
        method.command,
        *method_arguments(experiment, method),
        *tuned,
        f"--seed_everything={seed}",
        f"--trainer.callbacks+={WRITER}",
        f"--trainer.callbacks.init_args.path={results}",
        f"--trainer.callbacks.init_args.method={label}",
        f"--trainer.callbacks.init_args.group={experiment.name}",
    )
    return Run(run_id=f"{experiment.name}/{method.name}/seed{seed}", method=method.name, seed=seed, argv=argv)


def finished_runs(results: str | Path) -> set[str]:
    """Run ids that have all their rows in the CSV (a partial run is not finished)."""
    return {row.run_id for row in read_rows(results)}


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGKILL when the bench process dies, so no orphan finishes a run later."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run_one(run: Run, log_path: Path, env: dict[str, str], timeout: float | None = None) -> int:
    """Run one process, its output into ``log_path``; returns the exit status (124 on timeout)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        log.write(" ".join([sys.executable, "-m", "handprior", *run.argv]) + "\n\n")
        log.flush()
        process = subprocess.Popen(
            [sys.executable, "-m", "handprior", *run.argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**env, RUN_ID_ENV: run.run_id},
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return 124


def tune_first(
    experiment: str, spec: Experiment, method: Method, results: str, log_path: Path, env: dict[str, str]
) -> int:
    """Tune ``method`` in its own process (``handprior tune``) unless its tuned file exists; the exit status."""
    from handprior.reporting.tune import tuned_path

    if tuned_path(spec, method, results).is_file():
        return 0
    argv = ("tune", experiment, f"--method={method.name}", f"--results={results}")
    return run_one(Run(f"{spec.name}/{method.name}/tune", method.name, 0, argv), log_path, env)


def _tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def bench(
    experiment: str,
    results: str | None = None,
    wandb: Literal["offline", "disabled", "online"] = "offline",
    timeout: float | None = None,
    dry_run: bool = False,
    jobs: int = 1,
) -> None:
    """Run every method x seed of an experiment file and print the table (mean ± std over seeds).

    Each run is a `handprior fit` (train, then test the best checkpoint) or `handprior test` (filters) in
    its own process; it adds its result rows to the CSV, all in one atomic write. Runs whose rows are already
    in the CSV are skipped, so after an interruption the same command continues where it stopped; a run whose
    rows a crash cut short is run again and its new rows replace the partial ones. Logs of each run go to
    `<csv folder>/bench_logs/`.

    Args:
        experiment: the experiment file (e.g. experiments/bench/synthetic.yaml).
        results: the results CSV (default: the file's `results`, else results/runs.csv).
        wandb: W&B mode of the runs: offline (default; `wandb sync` uploads later), disabled, or online.
        timeout: seconds after which a run is stopped and counted as failed (default: none).
        dry_run: print the command lines and exit.
        jobs: runs at once; each gets cores/jobs torch threads (OMP_NUM_THREADS). On a small CPU, 2 jobs of one
            thread finish sooner than 1 job of two threads.
    """
    spec = load_experiment(experiment)
    csv_path = results or spec.results
    runs = plan_runs(spec, csv_path)
    console = Console()
    if dry_run:
        for run in runs:
            console.print(f"[bold]{run.run_id}[/]: handprior " + " ".join(run.argv), soft_wrap=True, highlight=False)
        return
    env = {**os.environ, "WANDB_MODE": wandb}
    if jobs > 1:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))
    logs = Path(csv_path).parent / "bench_logs"
    done, partial = finished_runs(csv_path), partial_runs(csv_path)
    failed: list[str] = []

    methods = {method.name: method for method in spec.methods}

    def execute(number: int, run: Run) -> None:
        prefix = f"[{number}/{len(runs)}] {run.run_id}"
        if run.run_id in done:
            console.print(f"{prefix}: done before, skipped", highlight=False)
            return
        log_path = logs / (run.run_id.replace("/", "__") + ".log")
        if methods[run.method].tune:
            tuning = tune_first(experiment, spec, methods[run.method], csv_path, log_path.with_suffix(".tune.log"), env)
            if tuning:
                failed.append(run.run_id)
                console.print(f"[red]{prefix}: tuning failed (exit status {tuning})[/]", highlight=False)
                return
            run = plan_run(spec, methods[run.method], run.seed, csv_path)
        again = " again, its rows in the CSV cut short by a crash" if run.run_id in partial else ""
        console.print(f"{prefix}: running{again} (log: {log_path})", highlight=False)
        start = time.monotonic()
        status = run_one(run, log_path, env, timeout)
        seconds = time.monotonic() - start
        if status == 0 and run.run_id in finished_runs(csv_path):
            console.print(f"{prefix}: finished in {seconds:.0f} s", highlight=False)
        else:
            failed.append(run.run_id)
            reason = f"exit status {status}" if status else "no result rows written"
            console.print(
                f"[red]{prefix}: failed ({reason}) after {seconds:.0f} s[/]\n{_tail(log_path)}", highlight=False
            )

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(execute, range(1, len(runs) + 1), runs))
    rows = summarize(read_rows(csv_path), group=spec.name)
    for view, part in split_live_offline(rows).items():
        console.print(to_rich(part, title=f"{spec.name}, {VIEW_TITLES[view]}: mean ± std over seeds (mm, mm/frame²)"))
    if failed:
        console.print(f"[red]{len(failed)} run(s) failed:[/] {', '.join(failed)}; run the same command to retry them")
        raise SystemExit(1)


def main(argv: Sequence[str] | None = None) -> None:
    """Standalone entry (``python -m handprior.reporting.bench EXPERIMENT.yaml``) until the CLI wires it."""
    from jsonargparse import CLI

    CLI(bench, args=None if argv is None else list(argv), as_positional=True)


if __name__ == "__main__":
    main()
