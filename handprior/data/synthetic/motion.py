"""Realistic right-hand motion as MANO parameters, pure numpy and seeded (docs/architecture.md, "Synthetic
benchmark").

A sequence is built from three independent layers, each a mix of quiet holds, minimum-jerk transitions,
slow drifts and faster waves, so that its speed distribution is heavy-tailed like real motion capture:

* the wrist position in the camera frame (reaches between key positions);
* the global rotation (a random base orientation turned by key rotations);
* the finger articulation (gesture keyposes in the synergy latent space of :mod:`.articulation`, per-joint
  wiggle, and occasional fast single-finger flicks), mapped to MANO axis-angles through axes derived from
  the model's rest joints (:mod:`.axes`).

A small white tremor on every angle and on the wrist stands for physiological tremor and capture jitter,
which real motion capture statistics include. The theta convention is ``flat_hand_mean=True``: a zero
finger pose is the flat hand.

Calibration against the real-data statistics in docs/architecture.md ("Synthetic benchmark"), on the default
benchmark's train split: wrist speed median / p90 / p99 63 / 310 / 822 mm/s (real 67 / 352 / 785); fingertip
speed relative to the wrist 71 / 258 / 771 (69 / 335 / 711); wrist-relative acceleration mean / median / p99
1.32 / 0.81 / 11.1 mm/frame^2 (1.70 / 0.84 / 11.9).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from handprior.data.synthetic.articulation import CURL, THUMB_CURL, latent_to_angles, sample_keypose
from handprior.data.synthetic.axes import (
    HandAxes,
    articulation_to_pose,
    hand_axes,
    quat_mul,
    quat_to_rotvec,
    rotvec_to_quat,
)
from handprior.data.synthetic.signals import keyframe_track, min_jerk, smooth_noise

NUM_BETAS = 10


@dataclass(frozen=True)
class MotionConfig:
    """Parameters of the motion generator; durations in seconds, lengths in mm, angles in degrees."""

    beta_std: float = 0.8  # hand shape: beta ~ N(0, std^2), clipped to +-2.5
    hand_size_mm: tuple[float, float] = (82.0, 108.0)  # accepted wrist -> middle-MCP length (adults: 80-110)
    wrist_center_mm: tuple[float, float, float] = (0.0, 0.0, 500.0)  # camera frame, z forward
    wrist_center_spread_mm: tuple[float, float, float] = (80.0, 60.0, 100.0)  # per-sequence workspace centre
    reach_mm: float = 70.0  # std of the key wrist positions around the centre, per axis
    hold_s: tuple[float, float] = (0.3, 3.0)  # quiet phases between wrist / rotation transitions
    move_s: tuple[float, float] = (0.3, 1.1)  # duration of a wrist / rotation transition
    drift_mm: float = 25.0  # slow wandering of the wrist (std)
    drift_s: float = 0.6  # its time scale
    wave_mm: tuple[float, float] = (1.0, 5.0)  # amplitude range of the faster wrist waves
    wave_hz: tuple[float, float] = (0.3, 1.2)
    rotation_key_deg: float = 18.0  # std of the key rotations about the base orientation, per axis
    rotation_drift_deg: float = 10.0
    rotation_drift_s: float = 0.5
    rotation_wave_deg: tuple[float, float] = (0.5, 2.0)
    rotation_move_s: tuple[float, float] = (0.5, 1.6)  # duration of a key rotation transition
    finger_hold_s: tuple[float, float] = (0.15, 1.5)
    finger_move_s: tuple[float, float] = (0.3, 1.0)
    wiggle_deg: float = 8.0  # independent motion of each joint around the synergy pose
    wiggle_s: float = 0.5  # its time scale
    flick_rate_hz: float = 0.5  # fast single-finger out-and-back curls per second
    flick_s: tuple[float, float] = (0.12, 0.3)
    flick_amount: tuple[float, float] = (0.4, 0.9)  # fraction of the remaining curl range
    tremor_deg: float = 0.12  # white tremor / capture jitter on every joint angle (std)
    tremor_mm: float = 0.1  # and on the wrist position, per axis

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, stored in a split's meta.json."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def sample_beta(rng: np.random.Generator, config: MotionConfig = MotionConfig(), num: int | None = None) -> np.ndarray:
    """Hand shape of one sequence (10,), or ``num`` of them (num,10)."""
    shape = (NUM_BETAS,) if num is None else (num, NUM_BETAS)
    return np.clip(rng.normal(0.0, config.beta_std, shape), -2.5, 2.5)


def sample_sequence(
    rng: np.random.Generator,
    num_frames: int,
    rest_joints: np.ndarray,
    fps: float = 30.0,
    config: MotionConfig = MotionConfig(),
    beta: np.ndarray | None = None,
    axes: HandAxes | None = None,
) -> dict[str, np.ndarray]:
    """One right-hand motion sequence as MANO parameters.

    ``rest_joints`` (21,3) mm are the model's rest joints (canonical order) for the mean shape; they give the
    joint axes and the rest wrist that ``transl`` is measured from. Returns float64 arrays:
    ``theta`` (N,48) axis-angle (3 global + 45 finger, MANO order), ``beta`` (10,), ``transl`` (N,3) mm,
    ``wrist`` (N,3) mm the intended wrist position, ``articulation`` (N,15,3) deg (flex, abd, twist).
    ``beta`` (10,) fixes the hand shape; by default it is drawn with :func:`sample_beta`. ``axes`` may pass
    ``hand_axes(rest_joints)`` computed once for many sequences.
    """
    rest_joints = np.asarray(rest_joints, dtype=np.float64)
    hand = hand_axes(rest_joints) if axes is None else axes
    beta = sample_beta(rng, config) if beta is None else np.asarray(beta, dtype=np.float64)
    wrist = sample_wrist_path(rng, num_frames, fps, config)  # (N,3)
    orient = sample_global_orient(rng, num_frames, fps, config)  # (N,3)
    articulation = sample_articulation(rng, num_frames, fps, config)  # (N,15,3)
    theta = np.concatenate([orient, articulation_to_pose(articulation, hand)], axis=1)  # (N,48)
    transl = wrist - rest_joints[0]  # MANO rotates about the rest wrist, then translates
    return {"theta": theta, "beta": beta, "transl": transl, "wrist": wrist, "articulation": articulation}


def sample_wrist_path(rng: np.random.Generator, num_frames: int, fps: float, config: MotionConfig) -> np.ndarray:
    """Wrist position in the camera frame: reaches + drift + waves, (N,3) mm."""
    centre = np.asarray(config.wrist_center_mm) + rng.normal(0.0, 1.0, 3) * np.asarray(config.wrist_center_spread_mm)
    reach = keyframe_track(rng, num_frames, lambda r: r.normal(0.0, config.reach_mm, 3) * [1.0, 1.0, 0.7],
                           _frames(config.hold_s, fps), _frames(config.move_s, fps))  # fmt: skip
    drift = config.drift_mm * smooth_noise(rng, num_frames, (3,), config.drift_s * fps)
    tremor = config.tremor_mm * rng.standard_normal((num_frames, 3))
    return centre + reach + drift + tremor + _waves(rng, num_frames, fps, config.wave_mm, config.wave_hz)


def sample_global_orient(rng: np.random.Generator, num_frames: int, fps: float, config: MotionConfig) -> np.ndarray:
    """Global rotation as axis-angle (N,3): a uniform random base orientation turned by keys, drift and waves."""
    base = Rotation.random(random_state=rng)
    key_std = np.deg2rad(config.rotation_key_deg)
    turn = keyframe_track(rng, num_frames, lambda r: r.normal(0.0, key_std, 3),
                          _frames(config.hold_s, fps), _frames(config.rotation_move_s, fps))  # fmt: skip
    turn += np.deg2rad(config.rotation_drift_deg) * smooth_noise(rng, num_frames, (3,), config.rotation_drift_s * fps)
    turn += np.deg2rad(config.tremor_deg) * rng.standard_normal((num_frames, 3))
    turn += np.deg2rad(_waves(rng, num_frames, fps, config.rotation_wave_deg, config.wave_hz))
    base_quat = rotvec_to_quat(base.as_rotvec())[None]  # (1,4)
    return quat_to_rotvec(quat_mul(base_quat, rotvec_to_quat(turn)))  # (N,3) base after turn


def sample_articulation(rng: np.random.Generator, num_frames: int, fps: float, config: MotionConfig) -> np.ndarray:
    """Finger joint angles (N,15,3) deg, MANO joint order, within the anatomical limits."""
    latent = keyframe_track(rng, num_frames, sample_keypose,
                            _frames(config.finger_hold_s, fps), _frames(config.finger_move_s, fps))  # fmt: skip
    latent = _add_flicks(rng, latent, fps, config)
    wiggle = config.wiggle_deg * smooth_noise(rng, num_frames, (15, 3), config.wiggle_s * fps)
    wiggle[..., 1:] *= 0.4  # abduction and twist wiggle less than flexion
    wiggle += config.tremor_deg * rng.standard_normal(wiggle.shape)
    return latent_to_angles(latent, wiggle)


def _add_flicks(rng: np.random.Generator, latent: np.ndarray, fps: float, config: MotionConfig) -> np.ndarray:
    """Fast out-and-back curls of single fingers (or the thumb): (N,11) -> (N,11), values stay in [0, 1]."""
    out = latent.copy()
    n = len(latent)
    curl_ids = list(range(CURL.start, CURL.stop)) + [THUMB_CURL]
    for _ in range(rng.poisson(config.flick_rate_hz * n / fps)):
        length = max(3, int(round(rng.uniform(*config.flick_s) * fps)))
        start = int(rng.integers(-length // 2, n))
        frames = np.arange(max(start, 0), min(start + length, n))
        if len(frames) == 0:
            continue
        phase = (frames - start) / (length - 1)  # (F,) in [0, 1]
        bump = min_jerk(2 * phase) - min_jerk(2 * phase - 1)  # up and back, smooth at both ends
        idx = curl_ids[int(rng.integers(0, len(curl_ids)))]
        value = out[frames, idx]
        amount = rng.uniform(*config.flick_amount)
        toward = 1.0 if value.mean() < 0.5 else 0.0  # curl an open finger, extend a curled one
        out[frames, idx] = value + bump * amount * (toward - value)
    return out


def _waves(
    rng: np.random.Generator, num_frames: int, fps: float, amplitude: tuple[float, float], hz: tuple[float, float]
) -> np.ndarray:
    """Two sinusoids per axis with random amplitude, frequency and phase: (N,3)."""
    t = np.arange(num_frames)[:, None, None] / fps  # (N,1,1)
    amp = rng.uniform(*amplitude, (2, 3))
    freq = rng.uniform(*hz, (2, 3))
    phase = rng.uniform(0, 2 * np.pi, (2, 3))
    return (amp * np.sin(2 * np.pi * freq * t + phase)).sum(axis=1)  # (N,3)


def _frames(seconds: tuple[float, float], fps: float) -> tuple[float, float]:
    return seconds[0] * fps, seconds[1] * fps
