"""Training losses (docs/architecture.md, "Losses"), pure functions over batched tensors.

Each takes optional 0/1 ``weights`` built from the ground truth's validity (partly annotated hands): a masked
term is the mean over the counted elements only; ``weights=None`` is the plain mean, and all-one weights give
exactly the same value (on the CPU, where a mean is a sum divided by the count).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from handprior.body.joints import WRIST
from handprior.metrics import functional
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
        readout: streaming training: extra weight of the window's frame T-1-readout_lag in the joint, root and
            accel terms, the frame a live stream at that lag reads (``StreamingRefiner``, ``refine --online``).
            0 (default): every frame alike, offline training; T makes that frame weigh as much as all the
            others together.
        readout_lag: the live lag that ``readout`` trains for (0: the window's last frame, no look-ahead).

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
    readout: float = 0.0
    readout_lag: int = 0


def masked_mean(values: Tensor, weights: Tensor | None) -> Tensor:
    """Mean of ``values`` over the elements where ``weights`` (broadcastable to them, 0/1) is 1 -> scalar; None:
    the plain mean. No counted element gives 0 (and a zero gradient)."""
    if weights is None:
        return values.mean()
    weights = weights.to(values.dtype).expand_as(values)
    return (values * weights).sum() / weights.sum().clamp_min(1)


def readout_weights(window: int, readout: float, lag: int) -> Tensor | None:
    """Per-frame weights (T,) of a window: 1, and 1 + ``readout`` at frame T-1-``lag``; None when ``readout``
    is 0 (every frame alike)."""
    if readout == 0:
        return None
    if not 0 <= lag < window:
        raise ValueError(f"loss.readout_lag must be in [0, {window - 1}] for a window of {window}, got {lag}")
    weights = torch.ones(window)
    weights[window - 1 - lag] += readout
    return weights


def relative_weights(valid: Tensor | None, root: int = WRIST) -> Tensor | None:
    """Which joints a root-relative term may supervise: (...,J) bool -> (...,J) float 0/1, the joint and the root
    both valid in the ground truth; None stays None (all valid)."""
    if valid is None:
        return None
    return (valid & valid[..., root : root + 1]).float()


def frame_weights(valid: Tensor | None) -> Tensor | None:
    """Which frames a per-frame MANO term may supervise: (...,J) bool -> (...) float 0/1, all joints valid (the
    MPVPE rule, :func:`handprior.metrics.functional.frame_weights`); None stays None."""
    return None if valid is None else functional.frame_weights(valid)


def position_loss(pred: Tensor, gt: Tensor, delta_mm: float, weights: Tensor | None = None) -> Tensor:
    """Smooth-L1 over coordinates: (...,P,3) x2, weights (...,P) or None -> scalar."""
    if weights is None:
        return F.smooth_l1_loss(pred, gt, beta=delta_mm)
    return masked_mean(F.smooth_l1_loss(pred, gt, beta=delta_mm, reduction="none"), weights[..., None])


def param_loss(pred: Tensor, gt: Tensor, delta: float, weights: Tensor | None = None) -> Tensor:
    """Smooth-L1 over MANO parameters: (...,D) x2, weights (...) per row or None -> scalar."""
    if weights is None:
        return F.smooth_l1_loss(pred, gt, beta=delta)
    return masked_mean(F.smooth_l1_loss(pred, gt, beta=delta, reduction="none"), weights[..., None])


def accel_loss(pred: Tensor, gt: Tensor, weights: Tensor | None = None) -> Tensor:
    """L1 between second differences along time: (B,T,J,3) x2 -> scalar.

    ``weights`` (B,T,J) 0/1 per joint and frame (:func:`relative_weights`): the second difference at t counts
    only where its joint counts at t-1, t and t+1.
    """
    diff = (acceleration(pred, dim=1) - acceleration(gt, dim=1)).abs()  # (B,T-2,J,3)
    if weights is None:
        return diff.mean()
    counted = weights[:, :-2] * weights[:, 1:-1] * weights[:, 2:]  # (B,T-2,J)
    return masked_mean(diff, counted[..., None])
