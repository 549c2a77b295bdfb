"""Forward+backward time of the two DTC formulations ("matrix", "gather") against the temporal attention
sublayer the joint-level DTC follows, at the CPU default size and at the paper's size.

    .venv/bin/python -m experiments.speed.dtc_formulations [--threads 2] [--device cpu] [--repeats 5]

Each row times a pre-LN residual sublayer on a joint-level input (B,T,J,C) with random (non-zero) offsets and
modulation; the reported number is the median wall time of ``--repeats`` forward+backward passes after two
warm-up passes. The paper-size rows use a smaller batch on CPU (``--paper-batch``) to stay in memory and time.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
from collections.abc import Callable

import torch
from torch import nn

from experiments.speed.timing import add_run_arguments, apply_run_arguments, median_seconds
from handprior.models.nets.config import DTCConfig
from handprior.models.nets.dstformer import AttentionSublayer
from handprior.models.nets.dtc import FORMULATIONS, DTCSublayer
from handprior.models.nets.handprior_net import HandPriorNet


def cpu_size() -> dict:
    """dim, heads and DTC settings of the HandPriorNet defaults."""
    p = inspect.signature(HandPriorNet).parameters
    return {k: p[k].default for k in ("dim", "num_heads", "dtc")}


PAPER = {"dim": 512, "num_heads": 8, "dtc": DTCConfig(groups=8, kernel_size=8)}


def time_fwd_bwd(fn: Callable[[], torch.Tensor], repeats: int, device: torch.device) -> float:
    """Median seconds of fn() + backward, after two warm-up passes."""
    return median_seconds(lambda: fn().sum().backward(), repeats, 2, device)


def randomise(sub: DTCSublayer) -> DTCSublayer:
    """Non-zero offsets and modulation, so that the taps really move."""
    with torch.no_grad():
        sub.dtc.offset_proj.weight.normal_(0, 0.2)
        sub.dtc.mod_proj.weight.normal_(0, 0.2)
    return sub


def bench(size: dict, batch: int, seq_len: int, joints: int, repeats: int, device: torch.device) -> list[tuple]:
    """Rows (module, ms, ratio to temporal attention) for one size."""
    C = size["dim"]
    x = torch.randn(batch, seq_len, joints, C, device=device, requires_grad=True)
    attention = AttentionSublayer(C, size["num_heads"], "temporal").to(device)
    modules: dict[str, nn.Module] = {"temporal attention": attention}
    for form in FORMULATIONS:
        sub = DTCSublayer(C, dataclasses.replace(size["dtc"], formulation=form))
        modules[f"DTC {form}"] = randomise(sub).to(device)
    seconds = {}
    for name, module in modules.items():
        seconds[name] = time_fwd_bwd(lambda m=module: m(x), repeats, device)
    ref = seconds["temporal attention"]
    return [(name, s * 1e3, s / ref) for name, s in seconds.items()]


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser, batch=64, cpu_paper_batch=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seq-len", type=int, default=27)
    parser.add_argument("--joints", type=int, default=21)
    args = parser.parse_args()
    device, paper_batch = apply_run_arguments(args)
    configs = [("CPU size", cpu_size(), args.batch), ("paper size", PAPER, paper_batch)]
    print(f"device {device}, threads {torch.get_num_threads()}, T={args.seq_len}, J={args.joints}, "
          f"median of {args.repeats} forward+backward passes")  # fmt: skip
    print(f"{'config':<42} {'module':<20} {'ms':>9} {'x attention':>12}")
    for label, size, batch in configs:
        desc = f"{label}: B={batch} C={size['dim']} G={size['dtc'].groups} K={size['dtc'].kernel_size}"
        for name, ms, ratio in bench(size, batch, args.seq_len, args.joints, args.repeats, device):
            print(f"{desc:<42} {name:<20} {ms:>9.1f} {ratio:>12.2f}")


if __name__ == "__main__":
    main()
