"""The One-Euro filter (Casiez, Roussel and Vogel, "1€ Filter: A Simple Speed-based Low-pass Filter for Noisy
Input in Interactive Systems", CHI 2012): a causal low-pass filter whose cutoff rises with the signal's speed,
what most real-time hand trackers ship against landmark jitter.

Per scalar signal x_t at rate f (Hz), with alpha(fc) = 1 / (1 + f / (2 pi fc)):

    x̂_0 = x_0, d̂_0 = 0
    d̂_t  = d̂_{t-1} + alpha(d_cutoff) ((x_t - x̂_{t-1}) f - d̂_{t-1})     smoothed speed
    fc_t = min_cutoff + beta |d̂_t|                                      adaptive cutoff
    x̂_t  = x̂_{t-1} + alpha(fc_t) (x_t - x̂_{t-1})

(the published recurrences, written as increments so that a constant signal is kept exactly). Vectorised over
every coordinate; the loop runs over time.
"""

from __future__ import annotations

import math

import numpy as np

from handprior.models.filters.base import TimeFilter, along_time, smooth_root_relative


def smoothing_factor(cutoff: np.ndarray | float, rate: float) -> np.ndarray | float:
    """alpha(fc) = 1 / (1 + rate / (2 pi fc)): the exponential smoothing factor of a cutoff (Hz) at ``rate`` (Hz)."""
    return 1.0 / (1.0 + rate / (2.0 * math.pi * cutoff))


def one_euro(x: np.ndarray, rate: float, min_cutoff: float, beta: float, d_cutoff: float) -> np.ndarray:
    """One-Euro filter of every column of ``x`` (T,M) along time (axis 0); returns (T,M).

    ``beta`` multiplies a speed in units of ``x`` per second; ``min_cutoff`` and ``d_cutoff`` are in Hz.
    """
    out = np.empty_like(x, dtype=np.float64)  # (T,M)
    if len(x) == 0:
        return out
    alpha_d = smoothing_factor(d_cutoff, rate)
    estimate = np.asarray(x[0], dtype=np.float64).copy()  # (M,)
    speed = np.zeros_like(estimate)  # (M,)
    out[0] = estimate
    for t in range(1, len(x)):
        speed += alpha_d * ((x[t] - estimate) * rate - speed)
        alpha = smoothing_factor(min_cutoff + beta * np.abs(speed), rate)  # (M,)
        estimate = estimate + alpha * (x[t] - estimate)
        out[t] = estimate
    return out


class OneEuro(TimeFilter):
    """One-Euro filter (Casiez et al. 2012) along time, per coordinate, causal: frame t from frames <= t."""

    causal = True

    def __init__(
        self,
        min_cutoff: float = 1.0,
        beta: float = 0.0,
        d_cutoff: float = 1.0,
        fps: float = 30.0,
        input_unit_mm: float = 100.0,
    ) -> None:
        """
        Args:
            min_cutoff: cutoff frequency at rest, Hz; lower = steadier slow motion, more lag.
            beta: how fast the cutoff rises with speed, Hz per mm/s; higher = less lag in fast motion.
            d_cutoff: cutoff frequency of the speed estimate, Hz (the authors use 1 Hz).
            fps: frame rate of the sequences, Hz.
            input_unit_mm: millimetres per unit of the filter's input, so that ``beta`` is per mm/s: the
                refinement model feeds windows divided by its ``input_scale_mm`` (100 by default); 1 for mm.
        """
        super().__init__()
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0 or fps <= 0 or input_unit_mm <= 0:
            raise ValueError(
                "OneEuro: need min_cutoff > 0, d_cutoff > 0, beta >= 0, fps > 0 and input_unit_mm > 0, got "
                f"{min_cutoff}, {d_cutoff}, {beta}, {fps}, {input_unit_mm}"
            )
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.fps, self.input_unit_mm = fps, input_unit_mm

    def filter_numpy(self, x: np.ndarray) -> np.ndarray:
        beta = self.beta * self.input_unit_mm  # Hz per (input unit / s)
        run = lambda a: one_euro(a, self.fps, self.min_cutoff, beta, self.d_cutoff)  # noqa: E731
        return smooth_root_relative(x, lambda part: along_time(part, run))

    def extra_repr(self) -> str:
        return f"min_cutoff={self.min_cutoff}, beta={self.beta}, d_cutoff={self.d_cutoff}, fps={self.fps}"
