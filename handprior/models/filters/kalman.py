"""The constant-velocity Kalman filter (Kalman 1960; causal) and its Rauch-Tung-Striebel smoother (Rauch, Tung
and Striebel 1965; offline), per coordinate.

Each coordinate is a state s = (position, velocity) with one frame between steps:

    F = [[1, 1], [0, 1]]    H = [1, 0]    Q = q [[1/3, 1/2], [1/2, 1]]    R = r

(Q: a white-acceleration process of spectral density q, mm^2 per frame^3; r: the measurement variance, mm^2).
Start: s_0 = (z_0, 0) with covariance r diag(1, 2) (a measurement's variance, and a two-frame difference's
for the speed). Filter, t >= 1: predict s⁻ = F s, P⁻ = F P Fᵀ + Q; gain K = P⁻ Hᵀ / (H P⁻ Hᵀ + R);
update s = s⁻ + K (z_t - H s⁻), P = (I - K H) P⁻. Smoother, backwards from the last filtered state:
C_t = P_t Fᵀ (P⁻_{t+1})⁻¹, s^s_t = s_t + C_t (s^s_{t+1} - s⁻_{t+1}).

The covariances and gains do not depend on the data, and every coordinate shares them, so they are computed
once per sequence length and applied to all coordinates at once; since the start covariance is proportional
to r, only the ratio q / r matters, in any unit of length.
"""

from __future__ import annotations

import numpy as np

from handprior.models.filters.base import TimeFilter, along_time, smooth_root_relative

TRANSITION = np.array([[1.0, 1.0], [0.0, 1.0]])  # F, one frame


def kalman_gains(length: int, q: float, r: float) -> dict[str, np.ndarray]:
    """The data-independent part of the filter and smoother for ``length`` frames: gains ``K`` (T,2), and the
    smoother's ``C`` (T-1,2,2) (row t maps frame t+1's correction back to frame t)."""
    noise = q * np.array([[1.0 / 3.0, 0.5], [0.5, 1.0]])  # Q
    covariance = r * np.diag([1.0, 2.0])  # P of frame 0
    gains = np.zeros((length, 2))  # K_0 unused: s_0 is the first measurement
    filtered, predicted = [covariance], [covariance]
    for t in range(1, length):
        prior = TRANSITION @ covariance @ TRANSITION.T + noise  # P⁻_t
        gain = prior[:, 0] / (prior[0, 0] + r)  # (2,)
        covariance = prior - np.outer(gain, prior[0])  # (I - K H) P⁻
        gains[t] = gain
        filtered.append(covariance)
        predicted.append(prior)
    smoother = np.stack(
        [filtered[t] @ TRANSITION.T @ np.linalg.inv(predicted[t + 1]) for t in range(length - 1)]
    ).reshape(-1, 2, 2)  # (T-1,2,2)
    return {"K": gains, "C": smoother}


def kalman_filter(z: np.ndarray, q: float, r: float, smooth: bool = False) -> np.ndarray:
    """Constant-velocity Kalman filter (``smooth=False``, causal) or RTS smoother (``smooth=True``) of every
    column of ``z`` (T,M) along time (axis 0); returns the positions (T,M)."""
    length = len(z)
    if length == 0:
        return np.empty_like(z, dtype=np.float64)
    coefficients = kalman_gains(length, q, r)
    gains = coefficients["K"]  # (T,2)
    states = np.empty((length, 2, z.shape[1]))  # (T,2,M) filtered (position, velocity)
    prior = np.empty_like(states)  # (T,2,M) predicted
    states[0, 0], states[0, 1] = z[0], 0.0
    prior[0] = states[0]
    for t in range(1, length):
        prior[t, 0] = states[t - 1, 0] + states[t - 1, 1]  # F s
        prior[t, 1] = states[t - 1, 1]
        innovation = z[t] - prior[t, 0]  # (M,)
        states[t] = prior[t] + gains[t][:, None] * innovation
    if not smooth:
        return states[:, 0].copy()
    smoothed = states.copy()
    for t in range(length - 2, -1, -1):
        smoothed[t] = states[t] + coefficients["C"][t] @ (smoothed[t + 1] - prior[t + 1])
    return smoothed[:, 0]


class _ConstantVelocity(TimeFilter):
    smooth = False

    def __init__(self, process_noise: float = 1.0, measurement_noise: float = 1.0) -> None:
        """
        Args:
            process_noise: q, spectral density of the white acceleration, mm² per frame³; higher = follows
                faster motion, smooths less.
            measurement_noise: r, variance of a measurement, mm². Only q / r matters.
        """
        super().__init__()
        if process_noise <= 0 or measurement_noise <= 0:
            raise ValueError(
                f"{type(self).__name__}: process_noise and measurement_noise must be positive, got "
                f"{process_noise}, {measurement_noise}"
            )
        self.process_noise, self.measurement_noise = process_noise, measurement_noise

    def filter_numpy(self, x: np.ndarray) -> np.ndarray:
        run = lambda a: kalman_filter(a, self.process_noise, self.measurement_noise, self.smooth)  # noqa: E731
        return smooth_root_relative(x, lambda part: along_time(part, run))

    def extra_repr(self) -> str:
        return f"process_noise={self.process_noise}, measurement_noise={self.measurement_noise}"


class Kalman(_ConstantVelocity):
    """Constant-velocity Kalman filter per coordinate, causal: frame t from frames <= t."""

    causal = True
    smooth = False


class RTSSmoother(_ConstantVelocity):
    """Rauch-Tung-Striebel smoother of the constant-velocity Kalman filter per coordinate, offline (the whole
    sequence)."""

    causal = False
    smooth = True
