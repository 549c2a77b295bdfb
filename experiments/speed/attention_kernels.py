"""Forward+backward time of the attention kernel choices for the backbone's token sets: PyTorch's fused
``scaled_dot_product_attention`` against the explicit product (two batched matmuls and a softmax), for spatial
attention (J=21 joint tokens per frame) and temporal attention (T=27 frame tokens per joint), each without and
with 8 hand prior memory tokens as extra keys/values.

    .venv/bin/python -m experiments.speed.attention_kernels [--threads 2] [--device cpu] [--repeats 10]

``handprior.models.nets.dstformer.attend`` takes the explicit product on the CPU and the fused kernels on a GPU;
this script is the measurement behind that choice. q, k and v are contiguous (B*G,H,N,D) tensors of the CPU-sized
(C=32, 2 heads) and the paper-sized (C=512, 8 heads) network; times are medians after two warm-up passes
(``experiments.speed.timing.median_seconds``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
import torch.nn.functional as F

from experiments.speed.timing import add_run_arguments, apply_run_arguments, median_seconds
from handprior.models.nets.dstformer import explicit_attention

SIZES = {"CPU size": (32, 2), "paper size": (512, 8)}  # dim, heads
KERNELS: dict[str, Callable] = {"fused SDPA": F.scaled_dot_product_attention, "explicit": explicit_attention}


def bench(
    label: str, batch: int, repeats: int, device: torch.device, window: int = 27, joints: int = 21
) -> list[list[str]]:
    """Rows [size, attention, keys per query, fused ms, explicit ms, fused / explicit] for one size."""
    dim, heads = SIZES[label]
    rows = []
    for axis, groups, tokens in (("spatial", window, joints), ("temporal", joints, window)):
        for memory in (0, 8):
            shape = (batch * groups, heads, tokens, dim // heads)
            q = torch.randn(shape, device=device, requires_grad=True)
            k, v = (torch.randn(shape[:2] + (tokens + memory, shape[3]), device=device, requires_grad=True)
                    for _ in range(2))  # fmt: skip
            grad = torch.randn(shape, device=device)
            ms = {}
            for name, kernel in KERNELS.items():
                step = lambda f=kernel, a=(q, k, v), g=grad: f(*a).backward(g)  # noqa: E731 (binds this loop's tensors)
                ms[name] = median_seconds(step, repeats, 2, device) * 1e3
            rows.append([f"{label}: B={batch}", axis, f"{tokens} + {memory}", f"{ms['fused SDPA']:,.2f}",
                         f"{ms['explicit']:,.2f}", f"{ms['fused SDPA'] / ms['explicit']:.2f}"])  # fmt: skip
    return rows


HEADER = ["size", "attention", "keys per query", "fused SDPA ms", "explicit ms", "fused / explicit"]


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser, batch=32, cpu_paper_batch=2)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    device, paper_batch = apply_run_arguments(args)
    print(f"device {device}, threads {torch.get_num_threads()}, median of {args.repeats} forward+backward passes")
    print(" | ".join(HEADER))
    for label, batch in (("CPU size", args.batch), ("paper size", paper_batch)):
        for row in bench(label, batch, args.repeats, device):
            print(" | ".join(row))


if __name__ == "__main__":
    main()
