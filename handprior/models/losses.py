"""Training losses (docs/architecture.md, "Losses"), pure functions over batched tensors."""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from handprior.metrics.functional import acceleration


@dataclass
class LossWeights:
    """Weights of the loss terms; a weight of 0 switches a term off.

    Attributes:
        joints: smooth-L1 on the refined joints relative to their wrist (mm): the hand's articulation and shape.
        root: smooth-L1 on the wrist position (mm). Kept small: a single-frame estimator's global depth error is
            mostly not recoverable from joints alone, and the metrics are root-aligned.
        verts: smooth-L1 on the MANO mesh vertices (mm); needs MANO ground truth and a MANO head.
        theta: smooth-L1 on the MANO pose (radians).
        beta: smooth-L1 on the MANO shape.
        accel: L1 between predicted and ground-truth second differences of the wrist-relative joints along time
            (mm/frame^2), as SmoothNet.
        position_delta_mm: Huber threshold of the position terms, in mm (1 mm; a delta of 1 on metres is plain L2).
        param_delta: Huber threshold of the theta and beta terms.

    The paper gives no weights [choice]: the joint terms lead, and the MANO terms (whose vertex error starts
    tens of mm high) are weighted 0.1, which measured best for the small CPU-sized network.
    """

    joints: float = 1.0
    root: float = 0.1
    verts: float = 0.1
    theta: float = 0.1
    beta: float = 0.1
    accel: float = 1.0
    position_delta_mm: float = 1.0
    param_delta: float = 0.1


def position_loss(pred: Tensor, gt: Tensor, delta_mm: float) -> Tensor:
    """Smooth-L1 over coordinates: (...,P,3) x2 -> scalar."""
    return F.smooth_l1_loss(pred, gt, beta=delta_mm)


def param_loss(pred: Tensor, gt: Tensor, delta: float) -> Tensor:
    """Smooth-L1 over MANO parameters: (...,D) x2 -> scalar."""
    return F.smooth_l1_loss(pred, gt, beta=delta)


def accel_loss(pred: Tensor, gt: Tensor) -> Tensor:
    """L1 between second differences along time: (B,T,J,3) x2 -> scalar."""
    return (acceleration(pred, dim=1) - acceleration(gt, dim=1)).abs().mean()
