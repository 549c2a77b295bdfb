"""One skeleton per sequence: bone vectors, rebuilding joints from bones, and fixing each bone's length.

A hand's bone lengths do not change over a sequence, but a single-frame estimator's do, and a temporal window of
T frames sees too little of a sequence to average that error out. :func:`with_sequence_bone_lengths` gives every
frame of a refined sequence the same bone lengths (each bone's median over the sequence), keeping every bone's
direction and the wrist: the sequence-level hand prior that ``model.bones: sequence`` switches on.
:func:`with_running_bone_lengths` is its causal form for live refinement (``model.bones: running``,
``StreamingRefiner``): frame t gets the mean bone lengths of frames 0..t. Pure torch functions over the canonical
21-joint order (:data:`handprior.body.joints.PARENTS`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from handprior.body.joints import NUM_JOINTS, PARENTS

_CHILDREN = list(range(1, NUM_JOINTS))
_PARENTS = list(PARENTS[1:])


def bone_vectors(joints: Tensor) -> Tensor:
    """Child minus parent for the 20 bones, canonical order: (...,21,3) -> (...,20,3)."""
    return joints[..., _CHILDREN, :] - joints[..., _PARENTS, :]


def joints_from_bones(bones: Tensor) -> Tensor:
    """Joints with the wrist at the origin from bone vectors (:func:`bone_vectors`): (...,20,3) -> (...,21,3)."""
    joints = [torch.zeros_like(bones[..., 0, :])]
    for child in _CHILDREN:  # parents come before their children in the canonical order
        joints.append(joints[PARENTS[child]] + bones[..., child - 1, :])
    return torch.stack(joints, dim=-2)


def with_bone_lengths(joints: Tensor, lengths: Tensor, eps: float = 1e-6) -> Tensor:
    """Give every bone the length ``lengths`` (20,) or (...,20) mm, keeping its direction and the wrist:
    (...,21,3) -> (...,21,3). A bone of (near) zero length keeps its vector."""
    bones = bone_vectors(joints)  # (...,20,3)
    norm = bones.norm(dim=-1, keepdim=True)  # (...,20,1)
    scaled = torch.where(norm > eps, bones * (lengths[..., None] / norm.clamp_min(eps)), bones)
    return joints_from_bones(scaled) + joints[..., :1, :]


def sequence_bone_lengths(joints: Tensor) -> Tensor:
    """Each bone's median length over a sequence: (L,21,3) -> (20,) mm."""
    return bone_vectors(joints).norm(dim=-1).median(dim=0).values


def with_sequence_bone_lengths(joints: Tensor) -> Tensor:
    """One skeleton for a whole sequence: every frame gets the sequence's median bone lengths, (L,21,3) -> same."""
    return with_bone_lengths(joints, sequence_bone_lengths(joints))


def running_bone_lengths(joints: Tensor) -> Tensor:
    """Each bone's mean length over the frames so far, causal: (L,21,3) -> (L,20) mm, row t from frames 0..t."""
    lengths = bone_vectors(joints).norm(dim=-1)  # (L,20)
    counts = torch.arange(1, len(joints) + 1, device=joints.device, dtype=lengths.dtype)[:, None]  # (L,1)
    return lengths.cumsum(dim=0) / counts


def with_running_bone_lengths(joints: Tensor) -> Tensor:
    """One skeleton as it is learnt live: frame t gets the mean bone lengths of frames 0..t, (L,21,3) -> same."""
    return with_bone_lengths(joints, running_bone_lengths(joints))
