"""What every classical filter shares: filtering (B,T,J,3) along time on root-relative joints plus the root
trajectory, the ``causal`` mark that separates live from offline methods, and the unrefined input (Identity)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from handprior.body.joints import WRIST
from handprior.models.nets.output import NetOutput

TIME_AXIS = 1  # inputs are (B,T,J,3)


def smooth_root_relative(x: np.ndarray, smooth: Callable[[np.ndarray], np.ndarray], root: int = WRIST) -> np.ndarray:
    """Apply a time filter ``smooth`` to the root trajectory and to the root-relative joints of ``x`` (B,T,J,3)."""
    trajectory = x[:, :, root : root + 1]  # (B,T,1,3)
    return smooth(trajectory) + smooth(x - trajectory)


def along_time(x: np.ndarray, run: Callable[[np.ndarray], np.ndarray], axis: int = TIME_AXIS) -> np.ndarray:
    """Run ``run`` on ``x`` reshaped to (T, M) (time first, every other axis flattened) and restore its shape."""
    moved = np.moveaxis(x, axis, 0)  # (T,...)
    out = run(moved.reshape(moved.shape[0], -1))  # (T,M)
    return np.moveaxis(out.reshape(moved.shape), 0, axis)


def is_causal(net: Any) -> bool:
    """Whether a network or filter (instance or class) computes frame t from frames <= t only: its ``causal``
    attribute, False when it has none (the windowed networks see the frames after t within their window)."""
    return bool(getattr(net, "causal", False))


class TimeFilter(nn.Module, ABC):
    """Base of the filters: numpy filtering of (B,T,J,3) along time, returned as a tensor of the input's kind.

    ``sequence_level = True``: the LightningModule applies a filter to a whole test sequence at once, as one
    (1,L,J,3) window. ``causal``: True when frame t of the output depends on input frames <= t only, so that
    the filter runs live with no delay (the live table); False for offline methods (the offline table).
    """

    sequence_level = True
    causal = False

    @abstractmethod
    def filter_numpy(self, x: np.ndarray) -> np.ndarray:
        """Smooth ``x`` (B,T,J,3) along time."""

    def forward(self, x: Tensor) -> NetOutput:
        array = x.detach().cpu().double().numpy()
        smoothed = self.filter_numpy(array)
        return NetOutput(joints=torch.from_numpy(np.ascontiguousarray(smoothed)).to(device=x.device, dtype=x.dtype))


class Identity(nn.Module):
    """The unrefined input as a method: returns its input unchanged (the "input" row of a table)."""

    sequence_level = True
    causal = True

    def forward(self, x: Tensor) -> NetOutput:
        return NetOutput(joints=x.clone())
