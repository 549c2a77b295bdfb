"""What limits the CPU-sized full network: its test MPJPE against training length, training-set size and width,
beside the tuned filters and the ceiling's floor (trains nothing; run after the two benches).

    handprior bench experiments/bench/synthetic.yaml --jobs 2          # the default runs and the tuned filters
    handprior bench experiments/bench/learning_curves.yaml --jobs 2    # one change each against the default
    .venv/bin/python -m experiments.bench.learning_curves               # table, results/learning_curves_summary.csv,
                                                                        # docs/learning_curves.png

Each run's best checkpoint (the one its test used) is scored again on the test split twice: as trained
(``bones=free``, its benchmark numbers) and with one skeleton per sequence (``bones=sequence``). The filters' lines
are the benchmark's tuned rows, the floor is the ceiling's (``experiments.bench.ceiling``: the slow bias alone).
The CPU recipe's test MPJPE over its seeds (the benchmark's ``ours-recipe`` rows: 12 epochs, ``configs/recipe.yaml``)
is drawn as mean ± std at the 12-epoch variant.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import torch

from experiments.bench.ceiling import ceiling
from experiments.bench.protocols import best_checkpoint
from handprior.data.datamodule import SyntheticDataModule
from handprior.inference.model import RefinementModel
from handprior.reporting.plots import new_figure, save_figure
from handprior.reporting.rows import read_rows
from handprior.reporting.table import Stat, summarize
from handprior.reporting.tune import score

# Variant label -> (results file, method, what changes against the default job).
VARIANTS: dict[str, tuple[str, str, str]] = {
    "default": ("bench", "ours", "3 epochs, 200 training sequences, dim 32"),
    "6 epochs": ("curves", "ours-epochs6", "--trainer.max_epochs=6"),
    "12 epochs": ("curves", "ours-epochs12", "--trainer.max_epochs=12"),
    "400 sequences": ("curves", "ours-sequences400", "--data.init_args.train_sequences=400"),
    "dim 64": ("curves", "ours-dim64", "--model.net.init_args.dim=64 (and dim_rep)"),
}
FILTERS = ("Gaussian1d", "Savitzky-Golay", "RTS")


def test_runs(path: str, method: str, seed: int = 0) -> list[str]:
    """The config paths of ``method``'s test runs with ``seed`` in a result file."""
    return sorted(
        {r.config for r in read_rows(path) if r.split == "test" and r.method == method and str(r.seed) == str(seed)}
    )


def best_filter(path: str, suffix: str = "") -> tuple[str, float, float]:
    """The tuned offline filter (label, MPJPE, Accel) with the lowest test MPJPE; ``suffix`` ``+bones`` picks the
    ones run with one skeleton per sequence."""
    values: dict[str, dict[str, float]] = {}
    for r in read_rows(path):
        name = r.method.split("(", 1)[0]
        if r.split == "test" and name in {f + suffix for f in FILTERS}:
            values.setdefault(r.method, {})[r.metric] = r.value
    label = min(values, key=lambda m: values[m]["mpjpe"])
    return label, values[label]["mpjpe"], values[label]["accel"]


def seed_spread(path: str, method: str) -> Stat | None:
    """``method``'s test MPJPE over its seeds in a result file, as the benchmark table gives it (None: no rows)."""
    found = [row.stats["mpjpe"] for row in summarize(read_rows(path)) if row.method == method and "mpjpe" in row.stats]
    return found[0] if found else None


def main() -> None:
    """Score every variant's checkpoint with free and sequence bones, then write the table, CSV and figure."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", default="results/bench_synthetic.csv", help="the benchmark's result rows")
    parser.add_argument("--curves", default="results/learning_curves.csv", help="the learning curves' result rows")
    parser.add_argument("--root", default="data/synthetic", help="the synthetic benchmark's cache folder")
    parser.add_argument("--output", default="results/learning_curves_summary.csv")
    parser.add_argument("--figure", default="docs/learning_curves.png")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    store = SyntheticDataModule(root=args.root).open_split("test")
    files = {"bench": args.bench, "curves": args.curves}
    lines = []
    for label, (source, method, change) in VARIANTS.items():
        runs = test_runs(files[source], method)
        if not runs:
            print(f"{label}: no test run of {method} in {files[source]} yet, skipped")
            continue
        ckpt = best_checkpoint(runs[-1])
        scores = {}
        for bones in ("free", "sequence"):
            model = RefinementModel.from_checkpoint(ckpt, bones=bones)
            scores[bones] = score(model, store)
        params = sum(p.numel() for p in model.net.parameters())
        lines.append({"variant": label, "change": change, "parameters": params, "checkpoint": str(ckpt),
                      "mpjpe": scores["free"]["mpjpe"], "accel": scores["free"]["accel"],
                      "mpjpe_bones": scores["sequence"]["mpjpe"], "accel_bones": scores["sequence"]["accel"]})  # fmt: skip
        print(f"{label:14s} {params / 1e3:6.0f} K  MPJPE {lines[-1]['mpjpe']:.2f} / Accel {lines[-1]['accel']:.2f}"
              f"   +bones {lines[-1]['mpjpe_bones']:.2f} / {lines[-1]['accel_bones']:.2f}")  # fmt: skip
    if not lines:
        raise SystemExit("no variant has a test run yet: run the two benches first")
    scenarios = ceiling(store, "test")
    floor = scenarios["slow bias only (the floor)"]["mpjpe"]
    reference = {
        "input": scenarios["input (every term)"]["mpjpe"],
        "best filter": best_filter(args.bench),
        "best filter+bones": best_filter(args.bench, "+bones"),
        "floor": floor,
    }
    recipe = seed_spread(args.bench, "ours-recipe")
    if recipe is not None:
        print(f"recipe (ours-recipe, {recipe.n} seeds): MPJPE {recipe.format()}")
    for name, value in reference.items():
        print(f"{name:18s} {value if isinstance(value, float) else value}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(lines[0]))
        writer.writeheader()
        writer.writerows(lines)
    print(f"wrote {args.output}")
    print(f"figure: {save_figure(figure(lines, reference, recipe), args.figure)}")


def figure(lines: list[dict], reference: dict, recipe: Stat | None = None):  # noqa: ANN201
    """Test MPJPE per variant (as trained, and with one skeleton per sequence) against the reference lines, and the
    recipe's mean ± std over seeds at the 12-epoch variant (a matplotlib Figure)."""
    fig = new_figure(7.5, 3.4, dpi=90)
    axes = fig.subplots()
    x = range(len(lines))
    axes.plot(x, [line["mpjpe"] for line in lines], "o-", color="tab:blue", label="full network")
    axes.plot(x, [line["mpjpe_bones"] for line in lines], "s-", color="tab:green", label="full network + bones")
    styles = {"input": ("0.3", ":"), "best filter": ("tab:orange", "--"), "best filter+bones": ("tab:red", "--"),
              "floor": ("0.5", "-.")}  # fmt: skip
    variants = [line["variant"] for line in lines]
    if recipe is not None and "12 epochs" in variants:
        axes.errorbar(variants.index("12 epochs") + 0.12, recipe.mean, yerr=recipe.std, fmt="D", color="tab:purple",
                      capsize=3, markersize=4, label=f"recipe, 12 epochs ({recipe.n} seeds: {recipe.format()})")  # fmt: skip
    for name, value in reference.items():
        label, mpjpe = (name, value) if isinstance(value, float) else (value[0], value[1])
        colour, style = styles[name]
        axes.axhline(mpjpe, color=colour, linestyle=style, linewidth=1, label=f"{label} ({mpjpe:.2f})")
    axes.set_xticks(list(x), [line["variant"] for line in lines], fontsize=8)
    axes.set_ylabel("test MPJPE (mm)")
    axes.set_title("full network (CPU size) on synthetic v2: one change at a time", fontsize=9)
    axes.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


if __name__ == "__main__":
    main()
