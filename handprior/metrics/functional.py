"""Pure metric functions (definitions: docs/architecture.md, "Metrics"). Inputs in mm, canonical joint order; outputs per frame or per joint.

Alignment follows the paper: both sequences are translated so the root (wrist) is at the origin and the
prediction is scaled so that its reference bone (wrist -> middle MCP) has the ground-truth length. A mesh is
rooted and scaled by joints: :func:`mpvpe` by the joints regressed from each mesh itself (the protocol of the
evaluation the paper cites), :func:`mpvpe_joints` by joints given beside the meshes (e.g. the refined joints).

Ground-truth validity (``valid (...,J)`` bool, a dataset's partly annotated hands) becomes per-joint weights
(:func:`joint_weights`, :func:`accel_weights`, :func:`frame_weights`); :func:`weighted_frame_mean` turns per-joint
errors and weights into per-frame values and frame weights such that summing ``value * weight`` and ``weight`` over
frames gives the mean over the counted joints, and an all-valid frame gets exactly the unmasked value and weight 1.
"""

from __future__ import annotations

import torch
from torch import Tensor

from handprior.body.joints import BONES, MIDDLE_MCP, WRIST

EPS = 1e-8


def root_relative(points: Tensor, joints: Tensor | None = None, root: int = WRIST) -> Tensor:
    """Points relative to the root joint of ``joints`` (default: of ``points`` themselves):
    points (...,P,3), joints (...,J,3) -> (...,P,3)."""
    joints = points if joints is None else joints
    return points - joints[..., root : root + 1, :]


def bone_scale(pred_joints: Tensor, gt_joints: Tensor, bone: tuple[int, int] = (WRIST, MIDDLE_MCP)) -> Tensor:
    """Factor that gives the prediction the ground-truth reference bone length: (...,J,3) -> (...,1,1)."""
    a, b = bone
    pred_len = (pred_joints[..., b, :] - pred_joints[..., a, :]).norm(dim=-1)  # (...)
    gt_len = (gt_joints[..., b, :] - gt_joints[..., a, :]).norm(dim=-1)  # (...)
    return (gt_len / pred_len.clamp_min(EPS))[..., None, None]


def aligned_errors(
    pred: Tensor,
    gt: Tensor,
    pred_joints: Tensor | None = None,
    gt_joints: Tensor | None = None,
    root: int = WRIST,
    scale: bool = True,
) -> Tensor:
    """Per-point Euclidean error after root alignment (and bone scaling): (...,P,3) -> (...,P).

    ``pred_joints``/``gt_joints`` give the root and the scale when ``pred``/``gt`` are vertices;
    for joints leave them None.
    """
    pred_joints = pred if pred_joints is None else pred_joints
    gt_joints = gt if gt_joints is None else gt_joints
    pred_rel = root_relative(pred, pred_joints, root)
    gt_rel = root_relative(gt, gt_joints, root)
    if scale:
        pred_rel = pred_rel * bone_scale(pred_joints, gt_joints)
    return (pred_rel - gt_rel).norm(dim=-1)


def mpjpe(pred: Tensor, gt: Tensor, root: int = WRIST, scale: bool = True) -> Tensor:
    """Mean per-joint position error per frame, mm: (...,J,3) x2 -> (...)."""
    return aligned_errors(pred, gt, root=root, scale=scale).mean(dim=-1)


def joint_weights(valid: Tensor, root: int = WRIST, scale: bool = True) -> Tensor:
    """Which joints a root-aligned (and bone-scaled) error may count: (...,J) bool -> (...,J) float 0/1.

    A joint counts where it is valid, the root is valid (it defines the alignment) and, with ``scale``, the
    middle MCP is valid too (the reference bone wrist -> middle MCP defines the scale); otherwise the frame's
    alignment would rest on a placeholder coordinate.
    """
    frame_ok = valid[..., root]  # (...)
    if scale:
        frame_ok = frame_ok & valid[..., MIDDLE_MCP]
    return (valid & frame_ok[..., None]).float()


def accel_weights(valid: Tensor, root: int = WRIST) -> Tensor:
    """Which joints the acceleration error of one sequence may count: (T,J) bool -> (T-2,J) float 0/1.

    The second difference at frame t uses frames t-1, t, t+1 of the joint and of the root (the sequences are
    root-relative), so a joint counts at t only where it and the root are valid in all three frames.
    """
    ok = valid & valid[..., root : root + 1]  # (T,J)
    return (ok[:-2] & ok[1:-1] & ok[2:]).float()


def frame_weights(valid: Tensor) -> Tensor:
    """A frame counts only where all its joints are valid (the MPVPE rule): (...,J) bool -> (...) float 0/1."""
    return valid.all(dim=-1).float()


def weighted_frame_mean(errors: Tensor, weights: Tensor) -> tuple[Tensor, Tensor]:
    """Per-joint errors and 0/1 weights (...,J) -> per-frame mean over the counted joints (...) and the frame's
    weight (...) = counted joints / J.

    Summed over frames, value * weight / weight is the mean over all counted joints (each counts once). A frame
    whose joints all count gets ``errors.mean(-1)`` itself and weight exactly 1, so all-valid data scores
    bit-identically to the unmasked metric; a frame with none gets weight 0 (and value 0).
    """
    count = weights.sum(dim=-1)  # (...)
    num_joints = errors.shape[-1]
    masked = (errors * weights).sum(dim=-1) / count.clamp_min(1)  # (...)
    value = torch.where(count == num_joints, errors.mean(dim=-1), masked)
    return value, count / num_joints


def regress_joints(verts: Tensor, regressor: Tensor) -> Tensor:
    """Joints of a mesh by a linear joint regressor: verts (...,V,3), regressor (J,V) -> (...,J,3)."""
    return torch.einsum("jv,...vc->...jc", regressor.to(verts.device, verts.dtype), verts)


def mpvpe(pred_verts: Tensor, gt_verts: Tensor, regressor: Tensor, *, root: int = WRIST, scale: bool = True) -> Tensor:
    """Mean per-vertex position error per frame, mm, each mesh rooted and scaled by its own joints:
    (...,V,3) x2, regressor (J,V) -> (...).

    The joints of the predicted and of the ground-truth mesh are regressed from the meshes themselves
    (``regressor``: the MANO joint regressor in canonical order, ``ManoLayer.joint_regressor()``); both are
    translated to their own root and the prediction is scaled by its regressed wrist -> middle-MCP bone, so an
    error in overall hand size alone costs nothing (the protocol of the evaluation the paper cites).
    """
    pred_joints = regress_joints(pred_verts, regressor)  # (...,J,3)
    gt_joints = regress_joints(gt_verts, regressor)  # (...,J,3)
    return aligned_errors(pred_verts, gt_verts, pred_joints, gt_joints, root=root, scale=scale).mean(dim=-1)


def mpvpe_joints(
    pred_verts: Tensor,
    gt_verts: Tensor,
    pred_joints: Tensor,
    gt_joints: Tensor,
    *,
    root: int = WRIST,
    scale: bool = True,
) -> Tensor:
    """Mean per-vertex position error per frame, mm, rooted and scaled by joints given beside the meshes:
    (...,V,3) x2, (...,J,3) x2 -> (...).

    With the refined joints for the prediction, an error of the mesh's overall size (from beta) against the
    joints counts in full.
    """
    return aligned_errors(pred_verts, gt_verts, pred_joints, gt_joints, root=root, scale=scale).mean(dim=-1)


def acceleration(joints: Tensor, dim: int = 0) -> Tensor:
    """Second difference x[t-1] - 2x[t] + x[t+1] along the time axis ``dim``: (T,J,3) -> (T-2,J,3), mm/frame^2."""
    return torch.diff(joints, n=2, dim=dim)


def accel_joint_errors(pred: Tensor, gt: Tensor, root: int = WRIST) -> Tensor:
    """Per-joint acceleration error of one whole sequence, mm/frame^2: (T,J,3) x2 -> (T-2,J), root-aligned."""
    if pred.shape[0] < 3:
        return pred.new_zeros(0, pred.shape[-2])
    diff = acceleration(root_relative(pred, root=root)) - acceleration(root_relative(gt, root=root))  # (T-2,J,3)
    return diff.norm(dim=-1)


def accel_errors(pred: Tensor, gt: Tensor, root: int = WRIST, pad: bool = False) -> Tensor:
    """Per-frame acceleration error of one whole sequence, mm/frame^2: (T,J,3) x2 -> (T-2,) or (T,) if padded.

    Both sequences are root-aligned first. ``pad=True`` reproduces SmoothNet's convention of a zero error
    at the first and last frame (which lowers the mean slightly); the default leaves those frames out.
    """
    if pred.shape[0] < 3:
        return pred.new_zeros(pred.shape[0] if pad else 0)
    errors = accel_joint_errors(pred, gt, root).mean(dim=-1)  # (T-2,)
    if pad:
        zero = errors.new_zeros(1)
        errors = torch.cat([zero, errors, zero])
    return errors


def bone_lengths(joints: Tensor, bones: tuple[tuple[int, int], ...] = BONES) -> Tensor:
    """Length of each bone (parent -> child) of the 21-joint skeleton, mm: (...,J,3) -> (...,B), B = 20."""
    index = torch.tensor(bones, device=joints.device)  # (B,2)
    return (joints[..., index[:, 1], :] - joints[..., index[:, 0], :]).norm(dim=-1)


def bone_length_variation(joints: Tensor, bones: tuple[tuple[int, int], ...] = BONES) -> Tensor:
    """Bone-length consistency of one whole sequence: each bone's standard deviation over time divided by its mean
    length (a real hand's bones do not change), (L,J,3) -> (B,), a fraction (0.01 = 1 %).

    The standard deviation is the population one (over the L frames); a one-frame sequence gives zeros.
    """
    lengths = bone_lengths(joints.double(), bones)  # (L,B)
    return lengths.std(dim=0, unbiased=False) / lengths.mean(dim=0).clamp_min(EPS)  # (B,)
