"""Parameter counts of HandPriorNet at the CPU default size and at the paper's size, with and without the
paper's additions (the backbone alone is MotionBERT's DSTformer), and of SmoothNet.

    .venv/bin/python -m experiments.speed.param_count
"""

from __future__ import annotations

from pathlib import Path

import torch
import yaml
from torch import nn

from handprior.models.nets import HandPriorNet, SmoothNet
from handprior.models.nets.config import GlobalBlockConfig, JointDTCConfig, MemoryConfig
from handprior.models.nets.handprior_net import typed_settings

PAPER_SIZE = Path(__file__).parents[2] / "configs" / "paper.yaml"
BACKBONE = {  # every addition off: the MotionBERT DSTformer
    "joint_dtc": JointDTCConfig(placement="none"),
    "global_block": GlobalBlockConfig(placement="none"),
    "memory": MemoryConfig(tokens=0),
}


def count(module: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in module.parameters())


def paper_size() -> dict:
    """The net init_args of configs/paper.yaml, as HandPriorNet keyword arguments."""
    return typed_settings(yaml.safe_load(PAPER_SIZE.read_text())["model"]["net"]["init_args"])


def rows() -> list[tuple[str, int]]:
    """(name, parameter count) of every reported network; built on the meta device (no memory, no init cost)."""
    with torch.device("meta"):
        nets = {
            "HandPriorNet, CPU size (full model)": HandPriorNet(),
            "HandPriorNet, CPU size, backbone only": HandPriorNet(**BACKBONE),
            "HandPriorNet, paper size (full model)": HandPriorNet(**paper_size()),
            "HandPriorNet, paper size, backbone only (MotionBERT)": HandPriorNet(**paper_size(), **BACKBONE),
            "SmoothNet (hidden 512, 3 blocks)": SmoothNet(),
        }
        return [(name, count(net)) for name, net in nets.items()]


def main() -> None:
    """Print the table."""
    table = rows()
    width = max(len(name) for name, _ in table)
    print(f"{'network':<{width}}  {'parameters':>12}")
    for name, n in table:
        print(f"{name:<{width}}  {n:>12,}  ({n / 1e6:.2f} M)")


if __name__ == "__main__":
    main()
