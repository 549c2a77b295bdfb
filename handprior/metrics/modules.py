"""torchmetrics classes over :mod:`handprior.metrics.functional`, with sum/count states (exact under DDP).

State names differ between classes so that a ``MetricCollection`` never merges two of them into one compute
group (torchmetrics merges metrics whose states are equal after the first update, e.g. MPJPE and MPVPE on a
perfect prediction); collections should still be built with ``compute_groups=False``.
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
        self.add_state(self._count_name, default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def _accumulate(self, errors: Tensor) -> None:
        setattr(self, self._sum_name, getattr(self, self._sum_name) + errors.detach().double().sum())
        setattr(self, self._count_name, getattr(self, self._count_name) + errors.numel())

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

    def update(self, pred_joints: Tensor, gt_joints: Tensor) -> None:
        """pred_joints, gt_joints: (...,J,3) mm; every frame counts once."""
        self._accumulate(F.mpjpe(pred_joints, gt_joints, self.root, self.scale))


class MPVPE(_MeanError):
    """Mean per-vertex position error in mm, each mesh rooted and scaled by its own joints, regressed from it with
    the MANO joint regressor (the protocol of the evaluation the paper cites; :func:`functional.mpvpe`)."""

    def __init__(self, root: int = WRIST, scale: bool = True, **kwargs) -> None:
        super().__init__("mpvpe", **kwargs)
        self.root, self.scale = root, scale

    def update(self, pred_verts: Tensor, gt_verts: Tensor, regressor: Tensor) -> None:
        """pred_verts, gt_verts: (...,V,3) mm; regressor: (J,V), ``ManoLayer.joint_regressor()``."""
        self._accumulate(F.mpvpe(pred_verts, gt_verts, regressor, root=self.root, scale=self.scale))


class MPVPEJoints(_MeanError):
    """Mean per-vertex position error in mm, rooted and scaled by joints given beside the meshes (the refined
    joints for the prediction), so a mesh whose size disagrees with the joints is penalised in full
    (:func:`functional.mpvpe_joints`)."""

    def __init__(self, root: int = WRIST, scale: bool = True, **kwargs) -> None:
        super().__init__("mpvpe_joints", **kwargs)
        self.root, self.scale = root, scale

    def update(self, pred_verts: Tensor, gt_verts: Tensor, pred_joints: Tensor, gt_joints: Tensor) -> None:
        """pred_verts, gt_verts: (...,V,3) mm; pred_joints, gt_joints: (...,J,3) mm."""
        self._accumulate(F.mpvpe_joints(pred_verts, gt_verts, pred_joints, gt_joints, root=self.root, scale=self.scale))


class AccelError(_MeanError):
    """Acceleration error in mm/frame^2 over whole sequences (call ``update`` once per sequence)."""

    def __init__(self, root: int = WRIST, pad: bool = False, **kwargs) -> None:
        super().__init__("accel", **kwargs)
        self.root, self.pad = root, pad

    def update(self, pred_joints: Tensor, gt_joints: Tensor) -> None:
        """pred_joints, gt_joints: (L,J,3) mm, one whole sequence."""
        self._accumulate(F.accel_errors(pred_joints, gt_joints, self.root, self.pad))


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


def sequence_scores(pairs: Iterable[tuple[Tensor, Tensor]], accel_pad: bool = False) -> dict[str, float]:
    """MPJPE (mm) and Accel (mm/frame²) over whole sequences, as a test run scores them: ``pairs`` yields
    ``(joints, gt)``, each (L,J,3) mm, one pair per sequence."""
    mpjpe, accel = MPJPE(), AccelError(pad=accel_pad)
    for joints, gt in pairs:
        mpjpe.update(joints, gt)
        accel.update(joints, gt)
    return {"mpjpe": float(mpjpe.compute()), "accel": float(accel.compute())}
