"""MANO joints without the mesh, for fast generation of long ground-truth sequences.

The generator needs only the 21 joints, not the 778 vertices. :class:`JointPoser` runs smplx's own linear
blend skinning (``smplx.lbs.lbs``) on a reduced copy of the layer's model: the five fingertip vertices plus
16 virtual vertices that carry the joint regressor's output. Joints are a linear function of the shaped
vertices, so the reduced model gives the same 16 kinematic joints and the same posed fingertips as
:class:`handprior.body.mano.ManoLayer` (tested to float32 round-off), without skinning the 778 vertices.
"""

from __future__ import annotations

from typing import Any

import torch
from smplx.lbs import lbs
from torch import Tensor


class JointPoser:
    """Joints ``(B,21,3)`` mm (canonical order) of a ``ManoLayer``'s model for theta (B,48), beta (B,10)."""

    def __init__(self, layer: Any) -> None:
        mano = layer.mano
        tips = layer.tip_ids.long()  # (5,) fingertip vertex ids
        regressor = mano.J_regressor  # (16,V)
        num_joints, num_tips = regressor.shape[0], len(tips)
        dtype = mano.v_template.dtype
        self.v_template = torch.cat([mano.v_template[tips], regressor @ mano.v_template])  # (21,3)
        joint_dirs = torch.einsum("jv,vcb->jcb", regressor, mano.shapedirs)  # (16,3,10)
        self.shapedirs = torch.cat([mano.shapedirs[tips], joint_dirs])  # (21,3,10)
        cols = (3 * tips[:, None] + torch.arange(3)).reshape(-1)  # the tips' columns, vertex-major
        zeros = torch.zeros(mano.posedirs.shape[0], 3 * num_joints, dtype=dtype)
        self.posedirs = torch.cat([mano.posedirs[:, cols], zeros], dim=1)  # (135,63); joints need no pose blend
        self.regressor = torch.cat(
            [torch.zeros(num_joints, num_tips, dtype=dtype), torch.eye(num_joints, dtype=dtype)], 1
        )
        self.weights = torch.cat([mano.lbs_weights[tips], torch.eye(num_joints, dtype=dtype)])  # (21,16)
        self.parents = mano.parents
        self.pose_mean = mano.pose_mean  # (48,) zero for the flat-hand-mean convention
        self.canon_order = layer.canon_order
        self.num_tips = num_tips

    def __call__(self, theta: Tensor, beta: Tensor, transl: Tensor | None = None) -> Tensor:
        """theta (B,48) axis-angle, beta (B,10), transl (B,3) mm or None -> joints (B,21,3) mm."""
        theta = theta.to(self.v_template.dtype)
        beta = beta.to(self.v_template.dtype)
        verts, joints16 = lbs(beta, theta + self.pose_mean, self.v_template, self.shapedirs, self.posedirs,
                              self.regressor, self.parents, self.weights)  # fmt: skip
        joints = torch.cat([joints16, verts[:, : self.num_tips]], dim=1)[:, self.canon_order] * 1000.0  # (B,21,3)
        return joints if transl is None else joints + transl.to(joints.dtype)[:, None, :]
