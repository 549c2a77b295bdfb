"""The benchmark's ceiling: the error left when the simulator's terms are removed exactly, and every method placed
on that scale (trains nothing; about a minute on the default test split).

    .venv/bin/python -m experiments.bench.ceiling                  # after `handprior bench ...synthetic.yaml`
    .venv/bin/python -m experiments.bench.ceiling --markdown

The simulator (handprior/data/synthetic/noise.py) knows every error term it adds. The split's predictions are
simulated again from its ground truth with the split's own noise seed, once with each term removed
(handprior/data/synthetic/terms.py: its size set to zero, every random draw kept, so the other terms are exactly
those of the stored predictions) and once with everything but the slow bias removed. The slow bias is the error
a temporal method cannot see: it changes over about bias_sigma frames and looks like motion. What is left
without it is the floor; input minus floor is the *removable* error. The offline and live tables then give each
method's share of the removable error that it removes: 100 % would reach the floor, 0 % is the input, negative
is worse than the input.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from handprior.data.store import SequenceStore
from handprior.data.synthetic.generate import split_seed
from handprior.data.synthetic.noise import NoiseProfile, get_profile, simulate
from handprior.data.synthetic.terms import BIAS, TERMS, without
from handprior.metrics.modules import sequence_scores
from handprior.reporting.live_offline import VIEW_TITLES, split_live_offline
from handprior.reporting.rows import read_rows
from handprior.reporting.table import TableRow, summarize

METRICS = ("mpjpe", "accel")


def split_noise(store: SequenceStore, split: str) -> tuple[NoiseProfile, np.random.SeedSequence]:
    """The noise profile and the noise seed a synthetic split was generated with (from its meta.json)."""
    meta = store.meta
    if not meta.get("simulated_predictions") or "seed" not in meta:
        raise SystemExit(f"{store.root}: not a synthetic split with simulated predictions")
    return get_profile(meta["estimator"]), split_seed(int(meta["seed"]), split).spawn(2)[1]


def metrics_of(pred: np.ndarray, store: SequenceStore) -> dict[str, float]:
    """MPJPE (mm) and Accel (mm/frame²) of predictions (N,21,3) against the store's ground truth, per sequence."""
    frames = [store.sequence(s) for s in range(store.num_sequences)]
    pairs = (
        (torch.from_numpy(np.array(pred[f], np.float32)), torch.from_numpy(np.array(store.gt[f]))) for f in frames
    )
    return sequence_scores(pairs)


def ceiling(store: SequenceStore, split: str) -> dict[str, dict[str, float]]:
    """MPJPE and Accel of the stored input, of the input with each term removed, and of the slow bias alone."""
    profile, seed = split_noise(store, split)
    gt = np.asarray(store.gt, dtype=np.float64)

    def simulated(removed: list[str]) -> np.ndarray:
        return simulate(gt, store.offsets, without(profile, removed), np.random.default_rng(seed))

    again = simulated([])
    gap = float(np.abs(again - store.pred).max())
    if gap > 0.01:  # float32 storage and a float32 ground truth: about 1e-4 mm
        raise SystemExit(f"{store.root}: re-simulated predictions differ from the stored ones by {gap:.3f} mm")
    scenarios = {"input (every term)": metrics_of(store.pred, store)}
    for term in TERMS:
        scenarios[f"without {term}"] = metrics_of(simulated([term]), store)
    scenarios["slow bias only (the floor)"] = metrics_of(simulated([t for t in TERMS if t != BIAS]), store)
    return scenarios


def shares(row: TableRow, input_row: TableRow, floor: Mapping[str, float]) -> dict[str, float]:
    """Share (%) of the removable error (input - floor) that a method removes, per metric."""
    out = {}
    for metric in METRICS:
        if metric in row.stats and metric in input_row.stats:
            removable = input_row.stats[metric].mean - floor[metric]
            out[metric] = 100.0 * (input_row.stats[metric].mean - row.stats[metric].mean) / removable
    return out


def markdown(headers: list[str], lines: list[list[str]]) -> str:
    aligns = [":---" if i == 0 else "---:" for i in range(len(headers))]
    rows = [headers, aligns, *lines]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in rows) + "\n"


def main() -> None:
    """Print the ceiling table and the offline and live tables with each method's share of the removable error."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default="results/bench_synthetic.csv", help="the benchmark's result rows")
    parser.add_argument("--group", default=None, help="the bench's group (default: every group of test rows)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--root", default="data/synthetic", help="the synthetic benchmark's cache folder")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables (the default: the same)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    store = SequenceStore.open(Path(args.root) / args.split)  # as it is: never regenerated here
    scenarios = ceiling(store, args.split)
    base, floor = scenarios["input (every term)"], scenarios["slow bias only (the floor)"]
    lines = [[name, f"{v['mpjpe']:.2f}", f"{v['accel']:.2f}", f"{base['mpjpe'] - v['mpjpe']:+.2f}"]
             for name, v in scenarios.items()]  # fmt: skip
    print(f"\nError left with the simulator's terms removed exactly ({args.split} split, {store.num_frames} frames)\n")
    print(markdown(["scenario", "MPJPE (mm)", "Accel (mm/frame²)", "MPJPE removed (mm)"], lines))
    print(f"Removable by a temporal method: {base['mpjpe'] - floor['mpjpe']:.2f} mm of {base['mpjpe']:.2f} MPJPE, "
          f"{base['accel'] - floor['accel']:.2f} of {base['accel']:.2f} Accel.")  # fmt: skip
    table = summarize(read_rows(args.results), split=args.split, group=args.group)
    inputs = {row.dataset: row for row in table if row.method == "input"}
    for row in inputs.values():
        if abs(row.stats["mpjpe"].mean - base["mpjpe"]) > 0.01:
            print(f"warning: the results' input MPJPE on {row.dataset} is {row.stats['mpjpe'].mean:.2f}, this split's "
                  f"{base['mpjpe']:.2f}: the rows were measured on other data than --root")  # fmt: skip
    for view, rows in split_live_offline(table).items():
        lines = []
        for row in rows:
            share = shares(row, inputs[row.dataset], floor) if row.dataset in inputs else {}
            lines.append([row.method, str(row.seeds)]
                         + [row.stats[m].format() if m in row.stats else "-" for m in METRICS]
                         + [f"{share[m]:+.0f}%" if m in share else "-" for m in METRICS])  # fmt: skip
        headers = ["method", "seeds", "MPJPE", "Accel", "MPJPE: share of removable", "Accel: share of removable"]
        print(f"\n{VIEW_TITLES[view]}, {args.split} split (mm, mm/frame²)\n\n{markdown(headers, lines)}")


if __name__ == "__main__":
    main()
