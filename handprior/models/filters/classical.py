"""Offline smoothing filters from scipy: Savitzky-Golay and Gaussian (both see frames after t: ``causal = False``).

Each filter smooths along time the root-relative joints and, separately, the root (wrist) trajectory, then
puts them back together, so absolute positions stay consistent with the smoothed hand. They have no
trainable parameters: run them with ``handprior test``, not ``fit``.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import savgol_filter

from handprior.models.filters.base import TIME_AXIS, TimeFilter, smooth_root_relative


def savgol_window(length: int, window_length: int, polyorder: int) -> int | None:
    """The Savitzky-Golay window used for a sequence of ``length`` frames: ``window_length`` clipped to the
    length, made odd, and larger than ``polyorder``; None when no such window fits (the input is returned)."""
    window = min(window_length, length)
    if window % 2 == 0:
        window -= 1
    return window if window > polyorder else None


class SavitzkyGolay(TimeFilter):
    """Savitzky-Golay filter along time (``scipy.signal.savgol_filter``, ``mode="interp"``)."""

    def __init__(self, window_length: int = 31, polyorder: int = 2) -> None:
        """
        Args:
            window_length: frames in the filter window (odd); clipped for shorter sequences.
            polyorder: order of the polynomial fitted in each window (smaller than the window).
        """
        super().__init__()
        if polyorder < 0 or window_length <= polyorder:
            raise ValueError(f"SavitzkyGolay: need 0 <= polyorder < window_length, got {polyorder}, {window_length}")
        self.window_length, self.polyorder = window_length, polyorder

    def filter_numpy(self, x: np.ndarray) -> np.ndarray:
        window = savgol_window(x.shape[TIME_AXIS], self.window_length, self.polyorder)
        if window is None:
            return x.copy()
        return smooth_root_relative(
            x, lambda a: savgol_filter(a, window, self.polyorder, axis=TIME_AXIS, mode="interp")
        )

    def extra_repr(self) -> str:
        return f"window_length={self.window_length}, polyorder={self.polyorder}"


class Gaussian1d(TimeFilter):
    """Gaussian smoothing along time (``scipy.ndimage.gaussian_filter1d``, reflected borders)."""

    def __init__(self, sigma: float = 3.0) -> None:
        """
        Args:
            sigma: standard deviation of the Gaussian kernel, in frames.
        """
        super().__init__()
        if sigma <= 0:
            raise ValueError(f"Gaussian1d: sigma must be positive, got {sigma}")
        self.sigma = sigma

    def filter_numpy(self, x: np.ndarray) -> np.ndarray:
        return smooth_root_relative(x, lambda a: gaussian_filter1d(a, self.sigma, axis=TIME_AXIS))

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}"
