"""Seeded random time signals shared by the motion generator and the noise simulator (pure numpy).

Every function takes a :class:`numpy.random.Generator` and returns float64 arrays with time as axis 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.ndimage import convolve1d


def smooth_noise(rng: np.random.Generator, num_frames: int, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Stationary Gaussian noise low-passed by a Gaussian kernel of ``sigma`` frames, unit variance: (N,*shape).

    Its autocorrelation at lag k is exp(-k^2 / (4 sigma^2)), so it is smooth at the frame scale.
    """
    if sigma <= 0:
        return rng.standard_normal((num_frames, *shape))
    radius = int(np.ceil(4 * sigma))
    taps = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (taps / sigma) ** 2)
    kernel /= np.sqrt(np.sum(kernel**2))  # unit output variance for unit white input
    white = rng.standard_normal((num_frames + 2 * radius, *shape))  # (N+2r,*shape)
    return convolve1d(white, kernel, axis=0, mode="constant")[radius : radius + num_frames]


def min_jerk(phase: np.ndarray) -> np.ndarray:
    """Minimum-jerk profile 10s^3 - 15s^4 + 6s^5 of a phase clipped to [0, 1]; monotone from 0 to 1."""
    s = np.clip(phase, 0.0, 1.0)
    return s**3 * (10.0 - 15.0 * s + 6.0 * s**2)


def keyframe_track(
    rng: np.random.Generator,
    num_frames: int,
    sample_key: Callable[[np.random.Generator], np.ndarray],
    hold_frames: tuple[float, float],
    move_frames: tuple[float, float],
) -> np.ndarray:
    """Hold a key value, move to the next one along a minimum-jerk path, hold, move...: (N,D).

    ``sample_key(rng) -> (D,)`` draws the next key. Hold and move durations are log-uniform in the given
    frame ranges, so a sequence mixes quiet phases and fast transitions. The track starts mid-hold.
    """
    key = np.asarray(sample_key(rng), dtype=np.float64)  # (D,)
    track = np.empty((num_frames, key.shape[0]))
    t = -int(rng.uniform(0, hold_frames[1]))  # random phase at the start of the sequence
    while t < num_frames:
        hold = int(round(_log_uniform(rng, hold_frames)))
        lo, hi = max(t, 0), min(t + hold, num_frames)
        if hi > lo:
            track[lo:hi] = key
        t += hold
        move = max(2, int(round(_log_uniform(rng, move_frames))))
        nxt = np.asarray(sample_key(rng), dtype=np.float64)
        lo, hi = max(t, 0), min(t + move, num_frames)
        if hi > lo:
            phase = (np.arange(lo, hi) - t + 1) / move  # (hi-lo,) in (0, 1]
            track[lo:hi] = key + min_jerk(phase)[:, None] * (nxt - key)
        t += move
        key = nxt
    return track


def soft_clip(x: np.ndarray, lo: np.ndarray | float, hi: np.ndarray | float, margin: float) -> np.ndarray:
    """Identity inside [lo+margin, hi-margin], saturating smoothly (C1, tanh) to stay within [lo, hi]."""
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    m = np.minimum(margin, 0.5 * (hi - lo))
    m = np.maximum(m, 1e-9)
    upper, lower = hi - m, lo + m
    out = np.where(x > upper, upper + m * np.tanh((x - upper) / m), x)
    return np.where(x < lower, lower - m * np.tanh((lower - x) / m), out)


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
