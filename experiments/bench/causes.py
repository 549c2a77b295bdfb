"""Error by cause: MPJPE of the input and of every benchmark method on the frames where the simulator's rare terms
act, and on the rest (trains nothing; re-runs each method of the results file on the test split).

    .venv/bin/python -m experiments.bench.causes                   # after `handprior bench ...synthetic.yaml`
    .venv/bin/python -m experiments.bench.causes --methods ours One-Euro
    .venv/bin/python -m experiments.bench.causes --network-bones    # networks also with one skeleton per sequence

The synthetic splits store the simulator's masks (handprior/data/synthetic/noise.py, ``mask_occluded.npy`` (N,5):
the fingers inside an occlusion burst; ``mask_gross.npy`` (N,): gross failures). Columns, all MPJPE in mm with the
framework's alignment (wrist, wrist-middle-MCP bone scale):

- occluded fingers: the joints an occlusion burst rotates (each finger's three joints after its base), in the
  frames of the burst;
- gross failures: every joint in the frames of a gross failure (the whole hand rotated);
- rest: every joint in the frames with neither;
- all: every joint of every frame (the table's MPJPE).

Each run of the results file is rebuilt as its test ran it: a filter from its run's config.yaml (its tuned
settings included), a network from its best checkpoint (weights-only, as experiments/bench/protocols.py does).
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
import yaml

from experiments.bench.protocols import best_checkpoint
from handprior.data.datasets import SequenceDataset
from handprior.data.store import SequenceStore
from handprior.data.synthetic.noise import FINGER_CHAINS
from handprior.inference.model import RefinementModel
from handprior.metrics.functional import aligned_errors
from handprior.models.checkpoint import build_net
from handprior.reporting.live_offline import order_key
from handprior.reporting.rows import read_rows
from handprior.reporting.table import TableRow

CAUSES = ("all", "occluded fingers", "gross failures", "rest")


def cause_weights(store: SequenceStore) -> dict[str, np.ndarray]:
    """Per cause, which (frame, joint) errors count: (N,21) bool each."""
    if not {"occluded", "gross"} <= set(store.masks):
        raise SystemExit(
            f"{store.root}: no simulator masks (mask_occluded.npy, mask_gross.npy); the split was generated before "
            "they were stored: delete the folder and generate it again (any handprior command on it does)"
        )
    occluded, gross = np.asarray(store.masks["occluded"]), np.asarray(store.masks["gross"])  # (N,5), (N,)
    joints = np.zeros((store.num_frames, 21), dtype=bool)
    for finger, chain in enumerate(FINGER_CHAINS):
        joints[:, list(chain[1:])] |= occluded[:, finger : finger + 1]
    calm = ~occluded.any(axis=1) & ~gross  # (N,)
    every = np.ones_like(joints)
    return {
        "all": every,
        "occluded fingers": joints,
        "gross failures": every & gross[:, None],
        "rest": every & calm[:, None],
    }


def errors_by_cause(model: RefinementModel | None, store: SequenceStore) -> dict[str, float]:
    """MPJPE (mm) per cause of ``model`` (None: the unrefined input) on every sequence of ``store``."""
    weights = cause_weights(store)
    errors = np.empty((store.num_frames, 21))
    for index, item in enumerate(SequenceDataset(store)):  # pred, gt (L,21,3) mm
        joints = item["pred"] if model is None else model.refine_sequence(item["pred"])["joints"]
        errors[store.sequence(index)] = aligned_errors(joints.float(), item["gt"].float()).numpy()  # (L,21)
    return {cause: float(errors[mask].mean()) if mask.any() else float("nan") for cause, mask in weights.items()}


def run_model(config_path: str, bones: str | None = None) -> RefinementModel:
    """A run's method as its test ran it: the best checkpoint of a trained run, else the network of its config
    (with its ``model.bones``); ``bones`` replaces the run's bone mode."""
    folder = Path(config_path).parent / "checkpoints"
    if folder.is_dir() and any(p.name != "last.ckpt" for p in folder.glob("*.ckpt")):
        settings = {} if bones is None else {"bones": bones}
        return RefinementModel.from_checkpoint(best_checkpoint(config_path), **settings)
    config = yaml.safe_load(Path(config_path).read_text())
    window = int(config.get("data", {}).get("init_args", {}).get("window", 27))
    bones = bones or config["model"].get("bones", "free")
    return RefinementModel(build_net(config["model"]["net"]), window=window, bones=bones).eval()


def main() -> None:
    """Print MPJPE by cause for the input and every method of the benchmark's results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default="results/bench_synthetic.csv", help="the benchmark's result rows")
    parser.add_argument("--group", default=None, help="the bench's group (default: every group of test rows)")
    parser.add_argument("--methods", nargs="+", default=None, help="methods (table labels) to score; default: all")
    parser.add_argument("--split", default="test")
    parser.add_argument("--root", default="data/synthetic", help="the synthetic benchmark's cache folder")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--network-bones", action="store_true",
                        help="also score every trained network with one skeleton per sequence (rows <method>+bones)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    store = SequenceStore.open(Path(args.root) / args.split)  # as it is: never regenerated here
    runs: dict[str, tuple[str, str]] = {}  # run_id -> (method, config)
    for row in read_rows(args.results):
        if row.split == args.split and row.metric == "mpjpe" and row.method != "input" and row.config:
            if (args.group is None or row.group == args.group) and (args.methods is None or row.method in args.methods):
                runs[row.run_id] = (row.method, row.config)
    if not runs:
        raise SystemExit(f"{args.results}: no {args.split} rows to re-score")
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for cause, value in errors_by_cause(None, store).items():
        values["input"][cause].append(value)
    for run_id, (method, config) in sorted(runs.items()):
        trained = (Path(config).parent / "checkpoints").is_dir()
        for label, bones in [(method, None)] + ([(f"{method}+bones", "sequence")] if trained and args.network_bones else []):
            scored = errors_by_cause(run_model(config, bones), store)
            print(f"{run_id} {label}: " + ", ".join(f"{cause} {value:.3f}" for cause, value in scored.items()))
            for cause, value in scored.items():
                values[label][cause].append(value)
    weights = cause_weights(store)
    share = {cause: f"{100 * mask.mean():.1f}%" for cause, mask in weights.items()}
    print(f"\nMPJPE by cause, {args.split} split (mm; mean ± std over seeds; the share of joint-frames in brackets)\n")
    print("| method | seeds | " + " | ".join(f"{cause} ({share[cause]})" for cause in CAUSES) + " |")
    print("| :--- | ---: |" + " ---: |" * len(CAUSES))
    for method in sorted(values, key=lambda name: order_key(TableRow("", name))):
        cells = []
        for cause in CAUSES:
            seeds = values[method][cause]
            spread = f" ± {statistics.stdev(seeds):.2f}" if len(seeds) > 1 else ""
            cells.append("-" if np.isnan(seeds).any() else f"{statistics.fmean(seeds):.2f}{spread}")
        print(f"| {method} | {len(values[method]['all'])} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
