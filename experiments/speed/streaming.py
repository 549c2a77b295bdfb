"""Real-time streaming refinement: per-frame latency and accuracy against offline refinement (trains nothing).

    .venv/bin/python -m experiments.speed.streaming --ckpt logs/synthetic/version_0/checkpoints/last.ckpt
    .venv/bin/python -m experiments.speed.streaming            # an untrained CPU-size model: latency only
    .venv/bin/python -m experiments.speed.streaming --ckpt CKPT --compile   # torch.compile the per-frame call
    .venv/bin/python -m experiments.speed.streaming --ckpt CKPT --lags 0 2 4 13   # frames of delay (future seen)

Every test sequence of the synthetic benchmark is refined twice: offline (``RefinementModel.refine_sequence``, the
model's evaluation protocol; sees the future) and online (:class:`handprior.inference.streaming.StreamingRefiner`:
each frame from a causal window that ends ``--lag`` frames after it). Latency is the wall time of each ``push``
(one network call at batch 1), over all frames, measured in the same pass that gives the online result. MPJPE and
Accel are the framework's metrics (mm, mm/frame^2) against ground truth. Each is also given with one skeleton per
sequence (``+bones``): offline the sequence's median bone lengths, online the running mean of the frames returned
so far (``StreamingRefiner(bones="running")``), computed from the same outputs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import Tensor

from experiments.speed.timing import cpu_model, percentile
from handprior.body.bones import with_running_bone_lengths, with_sequence_bone_lengths
from handprior.data.datamodule import SyntheticDataModule
from handprior.data.datasets import SequenceDataset
from handprior.inference.model import RefinementModel
from handprior.inference.streaming import StreamingRefiner
from handprior.metrics.modules import sequence_scores
from handprior.models.checkpoint import build_net
from handprior.models.nets import HandPriorNet


def load_model(ckpt: str | None) -> tuple[RefinementModel, str]:
    """The checkpoint's model, or an untrained CPU-size full model; and a line saying which."""
    if ckpt:
        return RefinementModel.from_checkpoint(ckpt), f"checkpoint {ckpt}"
    torch.manual_seed(0)
    note = "an UNTRAINED CPU-size HandPriorNet (no --ckpt): accuracy is meaningless, latency is valid"
    return RefinementModel(HandPriorNet()).eval(), note


class TimedStream(StreamingRefiner):
    """A StreamingRefiner that records the wall time of every push (seconds) in ``latencies``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.latencies: list[float] = []

    def push_tensor(self, frame: Tensor) -> Tensor:
        start = time.perf_counter()
        refined = super().push_tensor(frame)
        self.latencies.append(time.perf_counter() - start)
        return refined


def main() -> None:
    """Stream the synthetic test set and print latency and accuracy."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", default=None, help="a trained checkpoint (default: an untrained model)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1 is fastest at batch 1)")
    parser.add_argument("--sequences", type=int, default=0, help="test sequences to stream (0: all)")
    parser.add_argument("--lags", type=int, nargs="*", default=[0], help="frames of delay (StreamingRefiner's lag)")
    parser.add_argument("--filters", nargs="*", default=[],
                        help="tuned filter config files (results/tuned/...) scored on the same sequences; a file named "
                             "<method>_bones-* (a +bones method) with the running skeleton")  # fmt: skip
    parser.add_argument("--compile", action="store_true", help="torch.compile the per-frame call (compiles first)")
    parser.add_argument("--root", default="data/synthetic", help="the synthetic benchmark's cache folder")
    parser.add_argument("--markdown", action="store_true", help="also print the accuracy table as Markdown")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, note = load_model(args.ckpt)
    data = SyntheticDataModule(root=args.root)
    store = data.open_split("test")
    count = store.num_sequences if args.sequences <= 0 else min(args.sequences, store.num_sequences)
    items = [SequenceDataset(store)[index] for index in range(count)]
    inputs, truth = [item["pred"] for item in items], [item["gt"] for item in items]  # (L,21,3) mm each

    def scored(outputs: list[Tensor]) -> tuple[float, float]:
        values = sequence_scores(zip(outputs, truth))
        return values["mpjpe"], values["accel"]

    # One skeleton per sequence, computed from the same outputs: offline the sequence's median bone lengths,
    # online the running mean of the frames returned so far (what StreamingRefiner(bones="running") returns).
    rows: dict[str, tuple[float, float]] = {}
    offline = [model.refine_sequence(pred)["joints"] for pred in inputs]
    for mode, outputs in (("input", inputs), ("offline", offline)):
        rows[mode] = scored(outputs)
        rows[f"{mode}+bones"] = scored([with_sequence_bone_lengths(joints) for joints in outputs])
    for path in args.filters:  # causal filters run on whole sequences give exactly their live output
        config = yaml.safe_load(Path(path).read_text())
        bones = "running" if "_bones-" in Path(path).name else "free"
        method = RefinementModel(build_net(config["model"]["net"]), bones=bones).eval()
        label = Path(path).name.rsplit("-", 1)[0].replace("_bones", "+bones")
        rows[label] = scored([method.refine_sequence(pred)["joints"] for pred in inputs])
    mode = "torch.compile" if args.compile else "eager"
    print(f"model: {note}")
    print(f"CPU {cpu_model()}, {torch.get_num_threads()} threads, torch {torch.__version__}, {mode}")
    for lag in args.lags:
        stream = TimedStream(model, compile=args.compile, lag=lag)
        if args.compile:  # compile outside the timed frames
            start = time.perf_counter()
            stream.push_tensor(torch.from_numpy(store.pred[0].copy()))
            print(f"compiled in {time.perf_counter() - start:.0f} s")
            stream.latencies.clear()
        online = [stream.refine_sequence(pred)["joints"] for pred in inputs]  # one timed push per frame
        rows[f"online, lag {lag}"] = scored(online)
        rows[f"online+bones, lag {lag}"] = scored([with_running_bone_lengths(joints) for joints in online])
        ms = [s * 1e3 for s in stream.latencies]
        print(f"lag {lag}: window {stream.window}, {count} test sequences, {len(ms)} frames streamed one at a time; "
              f"per-frame latency median {percentile(ms, 50):.2f} ms, p95 {percentile(ms, 95):.2f} ms, "
              f"max {max(ms):.2f} ms ({1e3 / percentile(ms, 50):.0f} frames/s at the median)")  # fmt: skip
    print(f"{'':<28}{'MPJPE mm':>10}{'Accel mm/f^2':>14}")
    for label, (mpjpe, accel) in rows.items():
        print(f"{label:<28}{mpjpe:>10.2f}{accel:>14.2f}")
    if args.markdown:
        print("\n| | MPJPE (mm) | Accel (mm/frame²) |\n|---|---|---|")
        for label, (mpjpe, accel) in rows.items():
            print(f"| {label} | {mpjpe:.2f} | {accel:.2f} |")


if __name__ == "__main__":
    main()
