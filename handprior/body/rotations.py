"""Axis-angle <-> rotation matrix conversions (pure torch, batched)."""

from __future__ import annotations

import torch
from torch import Tensor


def axis_angle_to_matrix(axis_angle: Tensor) -> Tensor:
    """Rodrigues' formula: (...,3) -> (...,3,3)."""
    angle = axis_angle.norm(dim=-1, keepdim=True).clamp_min(1e-12)  # (...,1)
    axis = axis_angle / angle  # (...,3)
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    skew = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(*axis.shape[:-1], 3, 3)
    sin, cos = angle.sin()[..., None], angle.cos()[..., None]  # (...,1,1)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device).expand_as(skew)
    return eye + sin * skew + (1 - cos) * (skew @ skew)


def matrix_to_axis_angle(matrix: Tensor) -> Tensor:
    """(...,3,3) -> (...,3), angle in [0, pi], through a quaternion (stable near 0 and pi)."""
    m = matrix
    trace = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    # Four candidate quaternions (w,x,y,z), each well conditioned where its leading term is large.
    candidates = torch.stack(
        [
            torch.stack([1 + trace, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
            torch.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2], m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
            torch.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2], m[..., 1, 2] + m[..., 2, 1]], -1),
            torch.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], 1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2]], -1),
        ],
        dim=-2,
    )  # (...,4,4)
    diag = torch.stack([1 + trace, 1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2],
                        1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2], 1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2]], -1)  # fmt: skip
    best = diag.argmax(dim=-1)  # (...)
    quat = torch.gather(candidates, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)  # (...,4)
    quat = quat / quat.norm(dim=-1, keepdim=True)
    quat = torch.where(quat[..., :1] < 0, -quat, quat)  # w >= 0 -> angle in [0, pi]
    sin_half = quat[..., 1:].norm(dim=-1, keepdim=True)  # (...,1)
    angle = 2 * torch.atan2(sin_half, quat[..., :1])  # (...,1)
    return quat[..., 1:] * angle / sin_half.clamp_min(1e-12)
