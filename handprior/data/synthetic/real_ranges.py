"""The real-motion ranges that the synthetic motion is calibrated against, and the check the tests apply.

Each range spans two independent real motion-capture sources (optical capture of object manipulation and a
magnetic-sensor set of egocentric hand-object actions), measured with the definitions of :mod:`.hand_stats`;
docs/architecture.md ("Synthetic benchmark") lists the same table. A single value is a range of width zero.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RealRange:
    """A real range ``[low, high]`` of one statistic, its unit, and how far outside it a generated value may
    fall: ``tolerance`` is absolute for unitless statistics (correlations, shares) and relative (a fraction of
    the bound) for the others."""

    low: float
    high: float
    unit: str
    tolerance: float

    def bounds(self) -> tuple[float, float]:
        """The accepted interval: the real range widened by the tolerance."""
        if self.unit == "":
            return self.low - self.tolerance, self.high + self.tolerance
        return self.low * (1.0 - self.tolerance), self.high * (1.0 + self.tolerance)

    def accepts(self, value: float) -> bool:
        """Whether ``value`` lies inside :meth:`bounds`."""
        low, high = self.bounds()
        return low <= value <= high


CORR_TOL = 0.05  # correlations, autocorrelation and energy shares: +-0.05 absolute
SPEED_TOL = 0.15  # speeds, accelerations, angles: +-15% of the bound


def _r(low: float, high: float, unit: str, tolerance: float | None = None) -> RealRange:
    return RealRange(low, high, unit, (CORR_TOL if unit == "" else SPEED_TOL) if tolerance is None else tolerance)


# Statistic name (hand_stats.hand_motion_statistics) -> real range.
REAL_RANGES: dict[str, RealRange] = {
    "corr_level_index_middle": _r(0.75, 0.88, ""),
    "corr_level_middle_ring": _r(0.90, 0.94, ""),
    "corr_level_ring_pinky": _r(0.87, 0.90, ""),
    "corr_velocity_index_middle": _r(0.41, 0.64, ""),
    "corr_velocity_middle_ring": _r(0.63, 0.80, ""),
    "corr_velocity_ring_pinky": _r(0.61, 0.81, ""),
    "flexion_speed_p50": _r(18.0, 23.0, "deg/s"),
    "flexion_speed_p90": _r(151.0, 166.0, "deg/s"),
    "flexion_speed_p99": _r(470.0, 521.0, "deg/s"),
    "tip_accel_p50": _r(1300.0, 1800.0, "mm/s^2"),
    "tip_accel_p90": _r(5100.0, 5100.0, "mm/s^2"),
    "tip_accel_p99": _r(12700.0, 13300.0, "mm/s^2"),
    "tip_speed_p50": _r(73.0, 90.0, "mm/s"),
    "tip_speed_p90": _r(294.0, 340.0, "mm/s"),
    "tip_speed_p99": _r(662.0, 715.0, "mm/s"),
    "tip_velocity_lag1": _r(0.75, 0.83, ""),
    "tip_energy_above_3hz": _r(0.21, 0.31, ""),
    "tip_energy_above_6hz": _r(0.10, 0.15, ""),
    "wrist_speed_p50": _r(71.0, 99.0, "mm/s"),
    "wrist_speed_p90": _r(339.0, 356.0, "mm/s"),
    "wrist_speed_p99": _r(790.0, 790.0, "mm/s"),
    "palm_angular_speed_p50": _r(35.0, 59.0, "deg/s"),
    "palm_angular_speed_p90": _r(152.0, 171.0, "deg/s"),
    "palm_angular_speed_p99": _r(356.0, 356.0, "deg/s"),
    "palm_rotation_1s_p50": _r(16.0, 19.0, "deg"),
    "palm_rotation_1s_p90": _r(62.0, 63.0, "deg"),
    "palm_rotation_1s_p99": _r(109.0, 119.0, "deg"),
    "mcp_flexion_mean": _r(27.0, 41.0, "deg"),
    "mcp_flexion_sd": _r(17.0, 18.0, "deg"),
    "pip_dip_flexion_mean": _r(58.0, 68.0, "deg"),
    "pip_dip_flexion_sd": _r(37.0, 38.0, "deg"),
}


def outside_ranges(stats: dict[str, float]) -> dict[str, tuple[float, tuple[float, float]]]:
    """The statistics of ``stats`` that fall outside their accepted bounds: name -> (value, bounds)."""
    return {name: (stats[name], rng.bounds()) for name, rng in REAL_RANGES.items() if not rng.accepts(stats[name])}
