"""torchmetrics classes over :mod:`handprior.metrics.functional`, with sum/count states (exact under DDP).

State names differ between classes so that a ``MetricCollection`` never merges two of them into one compute
group (torchmetrics merges metrics whose states are equal after the first update, e.g. MPJPE and MPVPE on a
perfect prediction); collections should still be built with ``compute_groups=False``.

Every ``update`` takes an optional ground-truth validity ``valid`` (bool, joints last; None = all valid). The
states stay a sum and a count (the count now a float64 weight), so DDP's sum reduction stays exact:

* MPJPE: the mean over counted joints, each counting once; a joint counts where it is valid and the frame's
  wrist and middle MCP (which define the alignment and scale) are valid (:func:`functional.joint_weights`).
* Accel: a joint counts at frame t only where it and the wrist are valid at t-1, t and t+1
  (:func:`functional.accel_weights`); padded end frames (``pad``) still count one zero each.
* MPVPE, MPVPE (joints): a frame counts only where all its joints are valid (:func:`functional.frame_weights`);
  the ground-truth mesh of a partly annotated hand comes from a fit that the missing joints did not constrain.

All-valid masks give exactly the unmasked values (:func:`functional.weighted_frame_mean`).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor
from torchmetrics import Metric

from handprior.body.joints import WRIST
from handprior.metrics import functional as F


class _MeanError(Metric):
    is_differentiable = True
    higher_is_better = False
    full_state_update = False
    plot_lower_bound = 0.0

    def __init__(self, state: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self._sum_name, self._count_name = f"{state}_sum", f"{state}_count"
        self.add_state(self._sum_name, default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        # a float64 weight: a frame with some joints masked counts as the fraction of its joints that count
        self.add_state(self._count_name, default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def _accumulate(self, errors: Tensor, weights: Tensor | None = None) -> None:
        """Add per-frame ``errors`` (...), each with weight ``weights`` (...) (None: weight 1)."""
        errors = errors.detach()
        if weights is None:
            setattr(self, self._sum_name, getattr(self, self._sum_name) + errors.double().sum())
            setattr(self, self._count_name, getattr(self, self._count_name) + errors.numel())
            return
        weights = weights.detach().to(errors.dtype)
        weighted = torch.where(weights > 0, errors * weights, torch.zeros_like(errors))  # never 0 * a placeholder
        setattr(self, self._sum_name, getattr(self, self._sum_name) + weighted.double().sum())
        setattr(self, self._count_name, getattr(self, self._count_name) + weights.double().sum())

    def _accumulate_joints(self, errors: Tensor, weights: Tensor) -> None:
        """Add per-joint ``errors`` (...,J) with 0/1 ``weights`` (...,J): the mean over the counted joints."""
        self._accumulate(*F.weighted_frame_mean(errors, weights))

    def compute(self) -> Tensor:
        count = getattr(self, self._count_name)
        if count == 0:
            return torch.tensor(float("nan"), dtype=torch.float32)
        return (getattr(self, self._sum_name) / count).float()


class MPJPE(_MeanError):
    """Mean per-joint position error in mm, root-aligned and (by default) scaled by the wrist-middle MCP bone."""

    def __init__(self, root: int = WRIST, scale: bool = True, **kwargs) -> None:
        super().__init__("mpjpe", **kwargs)
        self.root, self.scale = root, scale

    def update(self, pred_joints: Tensor, gt_joints: Tensor, valid: Tensor | None = None) -> None:
        """pred_joints, gt_joints: (...,J,3) mm; valid: (...,J) bool ground-truth validity, None = all valid.

        Without a mask every frame counts once; with one, every counted joint counts once (module docstring).
        """
        if valid is None:
            self._accumulate(F.mpjpe(pred_joints, gt_joints, self.root, self.scale))
            return
        errors = F.aligned_errors(pred_joints, gt_joints, root=self.root, scale=self.scale)  # (...,J)
        self._accumulate_joints(errors, F.joint_weights(valid, self.root, self.scale))


class MPVPE(_MeanError):
    """Mean per-vertex position error in mm, each mesh rooted and scaled by its own joints, regressed from it with
    the MANO joint regressor (the protocol of the evaluation the paper cites; :func:`functional.mpvpe`)."""

    def __init__(self, root: int = WRIST, scale: bool = True, **kwargs) -> None:
        super().__init__("mpvpe", **kwargs)
        self.root, self.scale = root, scale

    def update(self, pred_verts: Tensor, gt_verts: Tensor, regressor: Tensor, valid: Tensor | None = None) -> None:
        """pred_verts, gt_verts: (...,V,3) mm; regressor: (J,V), ``ManoLayer.joint_regressor()``; valid: (...,J)
        bool ground-truth joint validity (a frame counts only where all its joints are valid), None = all valid."""
        errors = F.mpvpe(pred_verts, gt_verts, regressor, root=self.root, scale=self.scale)  # (...)
        self._accumulate(errors, None if valid is None else F.frame_weights(valid))


class MPVPEJoints(_MeanError):
    """Mean per-vertex position error in mm, rooted and scaled by joints given beside the meshes (the refined
    joints for the prediction), so a mesh whose size disagrees with the joints is penalised in full
    (:func:`functional.mpvpe_joints`)."""

    def __init__(self, root: int = WRIST, scale: bool = True, **kwargs) -> None:
        super().__init__("mpvpe_joints", **kwargs)
        self.root, self.scale = root, scale

    def update(
        self, pred_verts: Tensor, gt_verts: Tensor, pred_joints: Tensor, gt_joints: Tensor, valid: Tensor | None = None
    ) -> None:
        """pred_verts, gt_verts: (...,V,3) mm; pred_joints, gt_joints: (...,J,3) mm; valid: (...,J) bool
        ground-truth joint validity (a frame counts only where all its joints are valid), None = all valid."""
        errors = F.mpvpe_joints(pred_verts, gt_verts, pred_joints, gt_joints, root=self.root, scale=self.scale)
        self._accumulate(errors, None if valid is None else F.frame_weights(valid))


class AccelError(_MeanError):
    """Acceleration error in mm/frame^2 over whole sequences (call ``update`` once per sequence)."""

    def __init__(self, root: int = WRIST, pad: bool = False, **kwargs) -> None:
        super().__init__("accel", **kwargs)
        self.root, self.pad = root, pad

    def update(self, pred_joints: Tensor, gt_joints: Tensor, valid: Tensor | None = None) -> None:
        """pred_joints, gt_joints: (L,J,3) mm, one whole sequence; valid: (L,J) bool ground-truth validity (a joint
        counts at frame t where it and the wrist are valid at t-1, t, t+1), None = all valid."""
        if valid is None:
            self._accumulate(F.accel_errors(pred_joints, gt_joints, self.root, self.pad))
            return
        errors = F.accel_joint_errors(pred_joints, gt_joints, self.root)  # (L-2,J)
        values, weights = F.weighted_frame_mean(errors, F.accel_weights(valid, self.root))  # (L-2,) x2
        if self.pad and len(values) == 0:  # under 3 frames: one zero per frame, as without a mask
            values, weights = values.new_zeros(len(valid)), values.new_ones(len(valid))
        elif self.pad:  # SmoothNet's zero error at both ends, one frame each, as without a mask
            one = values.new_ones(1)
            values, weights = torch.cat([0 * one, values, 0 * one]), torch.cat([one, weights, one])
        self._accumulate(values, weights)


class BoneLengthVariation(_MeanError):
    """Bone-length consistency in percent: per bone, its standard deviation over a sequence divided by its mean
    length, averaged over bones and sequences (:func:`functional.bone_length_variation`; 0 for a rigid skeleton).
    Call ``update`` once per whole sequence; it needs no ground truth."""

    higher_is_better = False

    def __init__(self, **kwargs) -> None:
        super().__init__("bone_cv", **kwargs)

    def update(self, joints: Tensor) -> None:
        """joints: (L,J,3), one whole sequence (any unit)."""
        self._accumulate(100.0 * F.bone_length_variation(joints))


def sequence_scores(pairs: Iterable[tuple[Tensor, ...]], accel_pad: bool = False) -> dict[str, float]:
    """MPJPE (mm) and Accel (mm/frame²) over whole sequences, as a test run scores them: ``pairs`` yields
    ``(joints, gt)`` or ``(joints, gt, valid)``, joints and gt (L,J,3) mm, valid (L,J) bool or None, one per
    sequence."""
    mpjpe, accel = MPJPE(), AccelError(pad=accel_pad)
    for joints, gt, *rest in pairs:
        valid = rest[0] if rest else None
        mpjpe.update(joints, gt, valid)
        accel.update(joints, gt, valid)
    return {"mpjpe": float(mpjpe.compute()), "accel": float(accel.compute())}
