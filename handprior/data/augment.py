"""Batched training augmentation applied on the device: random rotation, scaling and translation.

Prediction and ground truth get the same transform, so the refinement task is unchanged. Horizontal
flips are not offered: mirroring a right hand makes a left hand, which the right-hand model cannot fit.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from handprior.body.rotations import axis_angle_to_matrix, matrix_to_axis_angle


def random_rotations(batch: int, max_degrees: float, generator: torch.Generator | None = None) -> Tensor:
    """Rotations about uniformly random axes with angles uniform in [0, max_degrees]: -> (B,3,3)."""
    axis = torch.randn(batch, 3, generator=generator)
    axis = axis / axis.norm(dim=-1, keepdim=True)
    angle = torch.rand(batch, 1, generator=generator) * math.radians(max_degrees)
    return axis_angle_to_matrix(axis * angle)


def augment_batch(
    batch: dict[str, Any], rotation_deg: float, scale_range: float, translation_mm: float
) -> dict[str, Any]:
    """Rotate about the window's mean wrist, scale about it, and translate, identically for pred and gt.

    batch["pred"], batch["gt"]: (B,T,J,3) mm; batch["gt_theta"] (B,T,48) gets its global orientation rotated.
    Adds batch["scale"] (B,), which the vertex loss applies to the ground-truth mesh.
    """
    pred, gt = batch["pred"], batch["gt"]
    b, device, dtype = pred.shape[0], pred.device, pred.dtype
    rot = random_rotations(b, rotation_deg).to(device=device, dtype=dtype)  # (B,3,3)
    scale = 1 + (torch.rand(b, device=device, dtype=dtype) * 2 - 1) * scale_range  # (B,)
    shift = (torch.rand(b, 1, 1, 3, device=device, dtype=dtype) * 2 - 1) * translation_mm  # (B,1,1,3)
    center = gt[:, :, :1].mean(dim=1, keepdim=True)  # (B,1,1,3)

    def transform(joints: Tensor) -> Tensor:  # (B,T,J,3) -> (B,T,J,3)
        rotated = torch.einsum("bij,btkj->btki", rot, joints - center)
        return rotated * scale[:, None, None, None] + center + shift

    out = dict(batch, pred=transform(pred), gt=transform(gt), scale=scale)
    if "gt_theta" in batch:
        theta = batch["gt_theta"]  # (B,T,48)
        glob = axis_angle_to_matrix(theta[..., :3])  # (B,T,3,3)
        glob = torch.einsum("bij,btjk->btik", rot, glob)
        out["gt_theta"] = torch.cat([matrix_to_axis_angle(glob), theta[..., 3:]], dim=-1)
    return out
