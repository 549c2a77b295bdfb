"""Finger coordination, dynamics and palm rotation of joint sequences: the statistics that the synthetic motion
is calibrated against (real ranges in :mod:`.real_ranges`, docs/architecture.md "Synthetic benchmark").

Definitions (the same as for the real ranges): joints (N,21,3) mm in the canonical order at ``fps`` (30);
positions are wrist-relative unless named otherwise (the wrist's own speed is in the camera frame); flexion of a
joint is the angle between the bone into it and the bone out of it, and a finger's flexion is the sum of its
three angles; the palm frame is built from the wrist, the index MCP and the pinky MCP. Differences never cross a
sequence boundary (``offsets`` (S+1,)).
"""

from __future__ import annotations

import numpy as np

from handprior.body.joints import FINGERTIPS, WRIST
from handprior.data.synthetic.stats import within_sequences

INDEX_MCP, PINKY_MCP = 5, 17
LONG_FINGERS = (1, 2, 3, 4)  # index, middle, ring, pinky (0 is the thumb)
NEIGHBOURS = ((1, 2), (2, 3), (3, 4))  # index-middle, middle-ring, ring-pinky
BANDS_HZ = (3.0, 6.0)  # the share of fingertip velocity energy above these frequencies


def joint_flexion(joints: np.ndarray) -> np.ndarray:
    """Flexion angles (N,5,3) deg: per finger (thumb..pinky) at its base, middle and distal joint, the angle
    between the bone into the joint and the bone out of it (0 = straight)."""
    joints = np.asarray(joints, dtype=np.float64)
    chains = np.array([[WRIST, 1 + 4 * f, 2 + 4 * f, 3 + 4 * f, 4 + 4 * f] for f in range(5)])  # (5,5)
    points = joints[:, chains]  # (N,5,5,3)
    bones = np.diff(points, axis=2)  # (N,5,4,3)
    bones /= np.maximum(np.linalg.norm(bones, axis=-1, keepdims=True), 1e-9)
    cos = np.sum(bones[:, :, :-1] * bones[:, :, 1:], axis=-1)  # (N,5,3)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def palm_frames(joints: np.ndarray) -> np.ndarray:
    """Palm rotation matrices (N,3,3) (columns: towards the fingers, across the palm, palm normal) from the wrist,
    index MCP and pinky MCP of joints (N,21,3)."""
    joints = np.asarray(joints, dtype=np.float64)
    to_index = joints[:, INDEX_MCP] - joints[:, WRIST]  # (N,3)
    to_pinky = joints[:, PINKY_MCP] - joints[:, WRIST]
    normal = _unit(np.cross(to_index, to_pinky))
    forward = _unit(to_index + to_pinky)
    across = np.cross(normal, forward)
    return np.stack([forward, across, normal], axis=-1)  # (N,3,3)


def rotation_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (M,) deg of the relative rotation between rotation matrices a (M,3,3) and b (M,3,3)."""
    trace = np.einsum("mij,mij->m", a, b)  # trace(a^T b)
    return np.degrees(np.arccos(np.clip((trace - 1.0) / 2.0, -1.0, 1.0)))


def hand_motion_statistics(joints: np.ndarray, offsets: np.ndarray, fps: float = 30.0) -> dict[str, float]:
    """The statistics of the real-range table (:data:`.real_ranges.REAL_RANGES` names them) of joints (N,21,3)
    mm in sequences ``offsets`` (S+1,): neighbour-finger flexion correlations (level and velocity), flexion
    speed, fingertip speed, acceleration, velocity autocorrelation and spectrum, wrist speed, palm rotation
    and flexion levels."""
    joints = np.asarray(joints, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.int64)
    rel = joints - joints[:, WRIST : WRIST + 1]  # (N,21,3)
    t1, t2 = within_sequences(offsets, 1), within_sequences(offsets, 2)
    out: dict[str, float] = {}

    flex = joint_flexion(joints)  # (N,5,3) deg
    finger = flex.sum(axis=2)  # (N,5)
    finger_vel = finger[t1 + 1] - finger[t1]  # (M,5)
    for a, b in NEIGHBOURS:
        pair = f"{_FINGER_NAMES[a]}_{_FINGER_NAMES[b]}"
        out[f"corr_level_{pair}"] = _corr(finger[:, a], finger[:, b])
        out[f"corr_velocity_{pair}"] = _corr(finger_vel[:, a], finger_vel[:, b])
    out.update(_percentiles("flexion_speed", np.abs(flex[t1 + 1] - flex[t1]).ravel() * fps))

    tips = rel[:, list(FINGERTIPS)]  # (N,5,3)
    velocity = tips[t1 + 1] - tips[t1]  # (M,5,3) mm/frame
    accel = tips[t2] - 2 * tips[t2 + 1] + tips[t2 + 2]  # (M2,5,3) mm/frame^2
    out.update(_percentiles("tip_accel", np.linalg.norm(accel, axis=-1).ravel() * fps**2))
    out.update(_percentiles("tip_speed", np.linalg.norm(velocity, axis=-1).ravel() * fps))
    out["tip_velocity_lag1"] = _velocity_lag1(tips, offsets)
    shares = _energy_above(tips, offsets, fps, BANDS_HZ)
    out["tip_energy_above_3hz"], out["tip_energy_above_6hz"] = shares
    out.update(_percentiles("wrist_speed", np.linalg.norm(joints[t1 + 1, WRIST] - joints[t1, WRIST], axis=-1) * fps))

    palm = palm_frames(joints)  # (N,3,3)
    out.update(_percentiles("palm_angular_speed", rotation_angle(palm[t1], palm[t1 + 1]) * fps))
    second = int(round(fps))
    ts = within_sequences(offsets, second)
    out.update(_percentiles("palm_rotation_1s", rotation_angle(palm[ts], palm[ts + second])))

    long = list(LONG_FINGERS)
    mcp = flex[:, long, 0]  # (N,4)
    pip_dip = flex[:, long, 1] + flex[:, long, 2]  # (N,4)
    out["mcp_flexion_mean"], out["mcp_flexion_sd"] = float(mcp.mean()), float(mcp.std())
    out["pip_dip_flexion_mean"], out["pip_dip_flexion_sd"] = float(pip_dip.mean()), float(pip_dip.std())
    return out


_FINGER_NAMES = ("thumb", "index", "middle", "ring", "pinky")


def _velocity_lag1(tips: np.ndarray, offsets: np.ndarray) -> float:
    """Pooled lag-1 autocorrelation of the fingertip velocity vectors, each sequence's mean velocity removed."""
    num = den = 0.0
    for a, b in zip(offsets[:-1], offsets[1:]):
        if b - a < 3:
            continue
        v = np.diff(tips[a:b], axis=0)  # (T-1,5,3)
        v = v - v.mean(axis=0)
        num += float(np.sum(v[1:] * v[:-1]))
        den += float(np.sum(v * v))
    return num / den


def _energy_above(tips: np.ndarray, offsets: np.ndarray, fps: float, bands: tuple[float, ...]) -> tuple[float, ...]:
    """Shares of the fingertip velocity energy (pooled periodograms of the sequences) above each frequency (Hz)."""
    above = np.zeros(len(bands))
    total = 0.0
    for a, b in zip(offsets[:-1], offsets[1:]):
        if b - a < 8:
            continue
        v = np.diff(tips[a:b], axis=0)  # (T-1,5,3)
        v = v - v.mean(axis=0)
        power = np.abs(np.fft.rfft(v, axis=0)) ** 2  # (F,5,3)
        freq = np.fft.rfftfreq(len(v), d=1.0 / fps)  # (F,)
        per_freq = power.reshape(len(freq), -1).sum(axis=1)  # (F,)
        total += float(per_freq.sum())
        above += [float(per_freq[freq > f].sum()) for f in bands]
    return tuple(float(x) for x in above / total)


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of two pooled series (M,)."""
    return float(np.corrcoef(x, y)[0, 1])


def _percentiles(name: str, values: np.ndarray) -> dict[str, float]:
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {f"{name}_p50": float(p50), f"{name}_p90": float(p90), f"{name}_p99": float(p99)}


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)
