"""The optimiser every training step uses (HandRefiner and the speed benchmark alike)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

FUSED_DEVICES = ("cpu", "cuda")  # devices with a fused AdamW kernel in torch 2.x


def adamw(params: Iterable[nn.Parameter], lr: float, weight_decay: float = 0.01) -> torch.optim.AdamW:
    """AdamW, with the fused single-kernel update where every parameter is a float tensor on a CPU or CUDA
    device (the same update as the default multi-tensor one up to rounding, and faster: ``make bench`` times both,
    table "AdamW step" of experiments/speed/results_cpu.md), otherwise the default implementation."""
    params = list(params)
    fused = bool(params) and all(p.is_floating_point() and p.device.type in FUSED_DEVICES for p in params)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=fused or None)
