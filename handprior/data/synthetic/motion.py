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

The benchmark (v2) generates :data:`MOTION_V2`: finger synergies (a shared curl, a radial-ulnar gradient, small
per-finger residuals), staggered joints within a finger, fingers that join a shared transition slightly apart,
rare flicks that neighbouring fingers follow, and pronation / supination with a fast roll that comes in bursts.
Every statistic that ``python -m handprior.data.synthetic.stats`` prints (finger coordination, flexion, fingertip
and wrist speed and acceleration, spectrum, palm rotation) is inside its real range widened by its stated
tolerance (:mod:`.real_ranges`); the parameters were found by a seeded random local search over two draws of 120
sequences and checked on a third. :data:`MOTION_V1` (mostly independent fingers, frequent single-finger flicks,
slow palm rotation) is the v1 benchmark's motion, kept so that v1 data can be regenerated.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation
from scipy.stats import norm

from handprior.body.joints import MIDDLE_MCP, WRIST
from handprior.data.synthetic.articulation import (
    CURL,
    KEYPOSE_WEIGHTS_V1,
    KEYPOSE_WEIGHTS_V2,
    SHARE,
    THUMB_CURL,
    latent_to_angles,
    sample_keypose,
)
from handprior.data.synthetic.axes import (
    FLEX,
    MANO15_FINGER,
    MANO15_LEVEL,
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
    """Parameters of the motion generator; durations in seconds, lengths in mm, angles in degrees.

    The field defaults are the benchmark's motion (v2, :data:`MOTION_V2`)."""

    beta_std: float = 0.8  # hand shape: beta ~ N(0, std^2), clipped to +-2.5
    hand_size_mm: tuple[float, float] = (82.0, 108.0)  # accepted wrist -> middle-MCP length (adults: 80-110)
    wrist_center_mm: tuple[float, float, float] = (0.0, 0.0, 500.0)  # camera frame, z forward
    wrist_center_spread_mm: tuple[float, float, float] = (80.0, 60.0, 100.0)  # per-sequence workspace centre
    reach_mm: float = 71.0  # std of the key wrist positions around the centre, per axis
    hold_s: tuple[float, float] = (0.3, 3.0)  # quiet phases between wrist / rotation transitions
    move_s: tuple[float, float] = (0.3, 1.1)  # duration of a wrist / rotation transition
    drift_mm: float = 40.0  # slow wandering of the wrist (std)
    drift_s: float = 0.6  # its time scale
    wave_mm: tuple[float, float] = (1.0, 5.0)  # amplitude range of the faster wrist waves
    wave_hz: tuple[float, float] = (0.3, 1.2)
    rotation_key_deg: float = 2.44  # std of the key rotations about the base orientation, per axis
    rotation_drift_deg: float = 3.4
    rotation_drift_s: float = 0.5
    rotation_wave_deg: tuple[float, float] = (0.5, 2.0)
    rotation_move_s: tuple[float, float] = (0.5, 1.6)  # duration of a key rotation transition
    roll_key_deg: float = 38.0  # std of key pronation / supination about the hand's long axis
    roll_move_s: tuple[float, float] = (0.55, 1.1)  # duration of a pronation / supination move
    roll_jitter_deg: float = 14.9  # fast small roll about the long axis (std)
    roll_jitter_s: float = 0.056  # its time scale
    roll_jitter_duty: float = 0.114  # share of the time the fast roll is on (it comes in bursts when below 1)
    roll_burst_s: float = 0.3  # time scale of the bursts
    roll_jitter_floor: float = 0.2  # share of the fast roll's strength that stays on between bursts
    finger_hold_s: tuple[float, float] = (0.1, 1.14)
    finger_move_s: tuple[float, float] = (0.1, 0.45)
    keypose_weights: tuple[float, ...] = KEYPOSE_WEIGHTS_V2  # gesture-family mixture (articulation.py)
    mcp_gain: float = 0.73  # scale of the long fingers' MCP flexion in a curl (articulation.latent_to_angles)
    distal_gain: float = 1.0  # and of their PIP and DIP flexion
    thumb_gain: float = 1.42  # scale of the thumb's flexion travel
    stagger_s: float = 0.089  # the distal joints lead a finger's curl by this much, the base joint lags by it
    finger_desync_s: float = 0.05  # each long finger follows the shared keypose transitions late by up to this
    share_wave: float = 0.0  # slow trade of curl between base and distal joints (std of the share latent)
    share_wave_s: float = 0.3  # its time scale
    synergy_deg: float = 5.34  # shared flexion of the four long fingers (per joint, std)
    synergy_gradient_deg: float = 2.13  # radial-ulnar flexion gradient across them (std at index and pinky)
    synergy_s: float = 0.22  # time scale of both synergies
    residual_deg: float = 1.36  # independent flexion of each finger on top of the synergies (per joint, std)
    residual_s: float = 0.135  # its time scale
    wiggle_deg: float = 2.43  # independent motion of each joint around the synergy pose
    wiggle_s: float = 0.105  # its time scale
    flick_rate_hz: float = 0.207  # fast out-and-back curls per second
    flick_s: tuple[float, float] = (0.15, 0.35)
    flick_amount: tuple[float, float] = (0.4, 0.9)  # fraction of the remaining curl range
    flick_spread: float = 0.26  # share of a long finger's flick that its neighbours follow
    tremor_deg: float = 0.04  # white tremor / capture jitter on every joint angle (std)
    tremor_mm: float = 0.1  # and on the wrist position, per axis

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, stored in a split's meta.json."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


# The benchmark's motion (v2): what SyntheticConfig, generate_split and sample_ground_truth use unless given
# another. python -m handprior.data.synthetic.stats prints its statistics beside v1's and the real ranges.
MOTION_V2 = MotionConfig()

# The v1 benchmark's motion (mostly independent fingers, frequent single-finger flicks, slow palm rotation).
MOTION_V1 = MotionConfig(
    drift_mm=25.0,
    reach_mm=70.0,
    rotation_key_deg=18.0,
    rotation_drift_deg=10.0,
    roll_key_deg=0.0,
    roll_jitter_deg=0.0,
    roll_jitter_s=0.025,
    roll_jitter_duty=1.0,
    roll_jitter_floor=0.0,
    finger_hold_s=(0.15, 1.5),
    finger_move_s=(0.3, 1.0),
    keypose_weights=KEYPOSE_WEIGHTS_V1,
    mcp_gain=1.0,
    stagger_s=0.0,
    finger_desync_s=0.0,
    thumb_gain=1.0,
    synergy_deg=0.0,
    synergy_gradient_deg=0.0,
    residual_deg=0.0,
    residual_s=0.14,
    wiggle_deg=8.0,
    wiggle_s=0.5,
    flick_rate_hz=0.5,
    flick_s=(0.12, 0.3),
    flick_spread=0.0,
    tremor_deg=0.12,
)

MOTIONS: dict[str, MotionConfig] = {"v1": MOTION_V1, "v2": MOTION_V2}  # benchmark version -> motion


def sample_beta(rng: np.random.Generator, config: MotionConfig = MOTION_V2, num: int | None = None) -> np.ndarray:
    """Hand shape of one sequence (10,), or ``num`` of them (num,10)."""
    shape = (NUM_BETAS,) if num is None else (num, NUM_BETAS)
    return np.clip(rng.normal(0.0, config.beta_std, shape), -2.5, 2.5)


def sample_sequence(
    rng: np.random.Generator,
    num_frames: int,
    rest_joints: np.ndarray,
    fps: float = 30.0,
    config: MotionConfig = MOTION_V2,
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
    long_axis = rest_joints[MIDDLE_MCP] - rest_joints[WRIST]  # (3,) wrist -> middle MCP, the pronation axis
    orient = sample_global_orient(rng, num_frames, fps, config, long_axis / np.linalg.norm(long_axis))  # (N,3)
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


def sample_global_orient(
    rng: np.random.Generator,
    num_frames: int,
    fps: float,
    config: MotionConfig,
    long_axis: np.ndarray | None = None,
) -> np.ndarray:
    """Global rotation as axis-angle (N,3): a uniform random base orientation turned by keys, drift and waves,
    plus pronation / supination (keys and a fast small roll) about the hand's unit ``long_axis`` (3,) in the
    rest frame (default x); turning about that axis moves the fingertips little, as the forearm's roll does."""
    long_axis = np.array([1.0, 0.0, 0.0]) if long_axis is None else np.asarray(long_axis, dtype=np.float64)
    base = Rotation.random(random_state=rng)
    key_std = np.deg2rad(config.rotation_key_deg)
    turn = keyframe_track(rng, num_frames, lambda r: r.normal(0.0, key_std, 3),
                          _frames(config.hold_s, fps), _frames(config.rotation_move_s, fps))  # fmt: skip
    turn += np.deg2rad(config.rotation_drift_deg) * smooth_noise(rng, num_frames, (3,), config.rotation_drift_s * fps)
    turn += np.deg2rad(config.tremor_deg) * rng.standard_normal((num_frames, 3))
    turn += np.deg2rad(_waves(rng, num_frames, fps, config.rotation_wave_deg, config.wave_hz))
    if config.roll_key_deg > 0 or config.roll_jitter_deg > 0:
        roll_std = np.deg2rad(config.roll_key_deg)
        roll = keyframe_track(rng, num_frames, lambda r: r.normal(0.0, roll_std, 1),
                              _frames(config.hold_s, fps), _frames(config.roll_move_s, fps))[:, 0]  # fmt: skip
        jitter = np.deg2rad(config.roll_jitter_deg) * smooth_noise(rng, num_frames, (), config.roll_jitter_s * fps)
        if config.roll_jitter_duty < 1.0:  # the fast roll comes in bursts: a heavy speed tail, a still median
            gate = burst_envelope(rng, num_frames, config.roll_jitter_duty, config.roll_burst_s * fps)
            jitter *= config.roll_jitter_floor + (1.0 - config.roll_jitter_floor) * gate
        roll += jitter
        turn += roll[:, None] * long_axis[None, :]  # (N,3)
    base_quat = rotvec_to_quat(base.as_rotvec())[None]  # (1,4)
    return quat_to_rotvec(quat_mul(base_quat, rotvec_to_quat(turn)))  # (N,3) base after turn


def sample_articulation(rng: np.random.Generator, num_frames: int, fps: float, config: MotionConfig) -> np.ndarray:
    """Finger joint angles (N,15,3) deg, MANO joint order, within the anatomical limits."""
    latent = keyframe_track(rng, num_frames, lambda r: sample_keypose(r, config.keypose_weights),
                            _frames(config.finger_hold_s, fps), _frames(config.finger_move_s, fps))  # fmt: skip
    if config.finger_desync_s > 0:  # fingers start a shared transition at slightly different times
        latent = _desync_fingers(rng, latent, config.finger_desync_s * fps)
    latent = _add_flicks(rng, latent, fps, config)
    if config.share_wave > 0:  # the base and the distal joints trade a finger's curl: flexion, little tip travel
        latent[:, SHARE] += config.share_wave * smooth_noise(rng, num_frames, (4,), config.share_wave_s * fps)
    wiggle = config.wiggle_deg * smooth_noise(rng, num_frames, (15, 3), config.wiggle_s * fps)
    wiggle[..., 1:] *= 0.4  # abduction and twist wiggle less than flexion
    wiggle[..., FLEX] += finger_synergies(rng, num_frames, fps, config)
    wiggle += config.tremor_deg * rng.standard_normal(wiggle.shape)
    if config.stagger_s <= 0:
        return latent_to_angles(latent, wiggle, config.mcp_gain, config.distal_gain, config.thumb_gain)
    # Distal joints lead and the base joint lags (a curl travels from the fingertip to the palm), so the three
    # joints of a finger do not peak in speed at the same frame.
    lag = int(round(config.stagger_s * fps))
    angles = np.empty((num_frames, 15, 3))
    for level, shift in ((0, -lag), (1, 0), (2, lag)):
        source = np.clip(np.arange(num_frames) + shift, 0, num_frames - 1)
        joints = np.flatnonzero(np.asarray(MANO15_LEVEL) == level)
        angles[:, joints] = latent_to_angles(latent[source], wiggle, config.mcp_gain, config.distal_gain, config.thumb_gain)[:, joints]
    return angles


def finger_synergies(rng: np.random.Generator, num_frames: int, fps: float, config: MotionConfig) -> np.ndarray:
    """Coordinated flexion offsets (N,15) deg of the MANO finger joints: a shared curl of the long fingers, a
    radial-ulnar gradient across them and a smaller independent residual per finger (the thumb follows the
    shared curl by half), so that neighbouring fingers move together as in real hands."""
    if config.synergy_deg <= 0 and config.synergy_gradient_deg <= 0 and config.residual_deg <= 0:
        return np.zeros((num_frames, 15))
    shared = config.synergy_deg * smooth_noise(rng, num_frames, (), config.synergy_s * fps)  # (N,)
    gradient = config.synergy_gradient_deg * smooth_noise(rng, num_frames, (), config.synergy_s * fps)  # (N,)
    residual = config.residual_deg * smooth_noise(rng, num_frames, (5,), config.residual_s * fps)  # (N,5)
    finger_offset = shared[:, None] * _SHARED_LOADING + gradient[:, None] * _GRADIENT_LOADING + residual  # (N,5)
    level_weight = np.array([_LEVEL_WEIGHT[level] for level in MANO15_LEVEL])  # (15,)
    return finger_offset[:, list(MANO15_FINGER)] * level_weight  # (N,15)


def burst_envelope(rng: np.random.Generator, num_frames: int, duty: float, sigma: float) -> np.ndarray:
    """A gate (N,) in [0, 1] that is open about ``duty`` of the time, in bursts of about ``sigma`` frames:
    smooth Gaussian noise above its (1 - duty) quantile, ramped over 0.25 of its standard deviation."""
    gate = smooth_noise(rng, num_frames, (), sigma)
    threshold = float(norm.ppf(1.0 - duty)) if duty > 0 else np.inf
    return np.clip((gate - threshold) / 0.25 + 0.5, 0.0, 1.0)


_SHARED_LOADING = np.array([0.5, 1.0, 1.0, 1.0, 1.0])  # thumb .. pinky
_GRADIENT_LOADING = np.array([0.0, -1.0, -1.0 / 3.0, 1.0 / 3.0, 1.0])
_LEVEL_WEIGHT = {0: 0.9, 1: 1.0, 2: 0.7}  # base, middle, distal joint's share of a finger's curl


def _desync_fingers(rng: np.random.Generator, latent: np.ndarray, max_delay: float) -> np.ndarray:
    """Delay each long finger's curl and share by its own random whole number of frames in [0, ``max_delay``]
    (held at the first frame before the start): (N,11) -> (N,11)."""
    out = latent.copy()
    n = len(latent)
    delays = rng.integers(0, int(round(max_delay)) + 1, 4)  # (4,) frames
    for finger, delay in enumerate(delays):
        source = np.clip(np.arange(n) - delay, 0, n - 1)
        for channel in (CURL.start + finger, SHARE.start + finger):
            out[:, channel] = latent[source, channel]
    return out


def _add_flicks(rng: np.random.Generator, latent: np.ndarray, fps: float, config: MotionConfig) -> np.ndarray:
    """Fast out-and-back curls of a finger (or the thumb), its neighbouring long fingers following by
    ``config.flick_spread``: (N,11) -> (N,11), values stay in [0, 1]."""
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
        if config.flick_spread > 0 and idx != THUMB_CURL:
            for other in (idx - 1, idx + 1):
                if CURL.start <= other < CURL.stop:
                    near = out[frames, other]
                    out[frames, other] = near + bump * amount * config.flick_spread * (toward - near)
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
