"""Estimator-noise simulator: ground-truth joints -> realistic single-frame predictions (docs/architecture.md,
"Synthetic benchmark").

A single-frame estimator's error is mostly slow (it keeps the same wrong idea of a hand for a while) with a
smaller fast part, plus per-frame depth and scale ambiguity, inconsistent bone lengths, fingers that go wrong
while occluded, and rare gross failures. Each of these is one term below; a :class:`NoiseProfile` sets
their sizes (all in mm, fractions or frames). The terms are applied per sequence, in this order:

1. bone level, on the bone vectors of the 21-joint tree: slow bias + faster wobble + relative length error;
   joints are rebuilt by forward kinematics, so errors accumulate towards the fingertips;
2. occlusion bursts: some fingers rotate about their base joint for a few frames;
3. per-frame relative depth error (root-relative camera z stretched) and global scale error;
4. gross failures: the whole hand rotated about the wrist for one to three frames;
5. white per-joint jitter and an absolute wrist-position error (largest along the camera axis).

Calibration (default benchmark, framework metrics; ``tests/data/synthetic/test_synthetic_noise.py``):
``interwild`` gives MPJPE ~10.2 mm and Accel ~7.1 mm/frame^2 like the paper's InterWild input (10.32 / 7.18);
lag-1 autocorrelation of the error ~0.71 and frame-to-frame change ~4.0 mm like the NYU estimators
(0.66-0.79, 3.7-6.5 mm). Most of the error variance is slow, so Savitzky-Golay (31, 2) and Gaussian
(sigma 3) smoothing cut Accel by ~80% but MPJPE by at most ~5%. Real errors are heavy-tailed: with
Gaussian terms alone an MPJPE of 10 mm and an autocorrelation below 0.8 would force an Accel well above
7; the rare gross failures supply the fast, large, short-lived part that reconciles the three numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from handprior.body.joints import NUM_JOINTS, PARENTS, WRIST
from handprior.data.synthetic.signals import smooth_noise

FINGER_CHAINS: tuple[tuple[int, ...], ...] = tuple(tuple(range(1 + 4 * f, 5 + 4 * f)) for f in range(5))
DEPTH_AXIS = 2  # camera frame: x right, y down, z forward


@dataclass(frozen=True)
class NoiseProfile:
    """Sizes of the simulated estimator's error terms; see the module docstring for how they combine."""

    name: str
    bias_mm: float  # slow bias per bone and axis (std, mm): the dominant, smoothing-resistant part
    bias_sigma: float  # time scale of the slow terms, frames (Gaussian-filtered noise)
    fast_share: float  # share of the variance of the per-frame length, depth, scale and root terms that is white
    wobble_mm: float  # medium-speed error per bone and axis (std, mm), mostly removed by smoothing filters
    wobble_sigma: float  # its time scale, frames (Gaussian-filtered noise)
    bone_length_std: float  # relative bone-length error per frame (std, fraction)
    depth_std: float  # relative error of the root-relative depth per frame (std, fraction)
    scale_std: float  # relative error of the hand's overall size per frame (std, fraction)
    jitter_mm: float  # white per-joint, per-axis noise (std, mm)
    root_mm: float  # absolute wrist position error in x and y (std, mm); 3x along the depth axis
    occlusion_rate_hz: float  # occlusion bursts per second
    occlusion_frames: tuple[int, int]  # burst length range, frames
    occlusion_deg: float  # typical rotation of an occluded finger about its base joint, degrees
    gross_rate: float  # probability per frame that a gross failure starts
    gross_frames: tuple[int, int]  # failure length range, frames
    gross_deg: float  # typical rotation of the whole hand in a gross failure, degrees

    def scaled(self, factor: float, name: str | None = None) -> NoiseProfile:
        """Same structure with every error size multiplied by ``factor`` (rates and time scales kept)."""
        sizes = ("bias_mm", "wobble_mm", "bone_length_std", "depth_std", "scale_std", "jitter_mm", "root_mm",
                 "occlusion_deg", "gross_deg")  # fmt: skip
        changes: dict[str, Any] = {key: getattr(self, key) * factor for key in sizes}
        return replace(self, name=name or f"{self.name}x{factor:g}", **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, stored in a split's meta.json."""
        out = asdict(self)
        out["occlusion_frames"] = list(self.occlusion_frames)
        out["gross_frames"] = list(self.gross_frames)
        return out


INTERWILD = NoiseProfile(
    name="interwild",
    bias_mm=1.9,
    bias_sigma=10.0,
    fast_share=0.05,
    wobble_mm=1.3,
    wobble_sigma=2.5,
    bone_length_std=0.04,
    depth_std=0.08,
    scale_std=0.04,
    jitter_mm=0.45,
    root_mm=8.0,
    occlusion_rate_hz=0.3,
    occlusion_frames=(4, 15),
    occlusion_deg=30.0,
    gross_rate=0.009,
    gross_frames=(1, 2),
    gross_deg=45.0,
)
PROFILES: dict[str, NoiseProfile] = {
    "strong": INTERWILD.scaled(0.65, "strong"),
    "interwild": INTERWILD,
    "weak": replace(INTERWILD.scaled(1.5, "weak"), occlusion_rate_hz=0.5, gross_rate=0.012),
}


def get_profile(name: str) -> NoiseProfile:
    """Named profile: ``strong`` (good estimator), ``interwild`` (the paper's input), ``weak`` (large error)."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown noise profile {name!r}; choose one of {', '.join(PROFILES)}") from None


def simulate(
    gt: np.ndarray, offsets: np.ndarray, profile: NoiseProfile, rng: np.random.Generator, fps: float = 30.0
) -> np.ndarray:
    """Simulated per-frame predictions for ground truth ``gt`` (N,21,3) mm of sequences ``offsets`` (S+1,).

    Deterministic given the state of ``rng``; returns float64 (N,21,3) mm in the same camera frame.
    """
    return simulate_with_masks(gt, offsets, profile, rng, fps)[0]


def simulate_with_masks(
    gt: np.ndarray, offsets: np.ndarray, profile: NoiseProfile, rng: np.random.Generator, fps: float = 30.0
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """:func:`simulate` (the same draws, the same predictions) and where its rare terms fell: ``masks["occluded"]``
    (N,5) bool, finger f (thumb .. pinky) rotated by an occlusion burst in frame n, and ``masks["gross"]`` (N,)
    bool, a frame of a gross failure."""
    gt = np.asarray(gt, dtype=np.float64)
    if gt.ndim != 3 or gt.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"gt must have shape (N,{NUM_JOINTS},3), got {gt.shape}")
    pred = np.empty_like(gt)
    masks = {"occluded": np.zeros((len(gt), len(FINGER_CHAINS)), dtype=bool), "gross": np.zeros(len(gt), dtype=bool)}
    for start, stop in zip(offsets[:-1], offsets[1:]):
        pred[start:stop], masks["occluded"][start:stop], masks["gross"][start:stop] = _simulate_sequence(
            gt[start:stop], profile, rng, fps
        )
    return pred, masks


def simulate_sequence(gt: np.ndarray, profile: NoiseProfile, rng: np.random.Generator, fps: float = 30.0) -> np.ndarray:
    """Simulated predictions for one sequence: (T,21,3) mm -> (T,21,3) mm."""
    return _simulate_sequence(gt, profile, rng, fps)[0]


def _simulate_sequence(
    gt: np.ndarray, profile: NoiseProfile, rng: np.random.Generator, fps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One sequence: predictions (T,21,3) mm, occluded fingers (T,5) bool, gross-failure frames (T,) bool."""
    p = profile
    n = len(gt)
    rel = gt - gt[:, WRIST : WRIST + 1]  # (T,21,3) root-relative
    bones = rel[:, 1:] - rel[:, list(PARENTS[1:])]  # (T,20,3) child - parent
    lengths = np.linalg.norm(bones, axis=-1, keepdims=True)  # (T,20,1)
    stretch = p.bone_length_std * _slow_fast(rng, n, (NUM_JOINTS - 1, 1), p)  # (T,20,1)
    offset = p.bias_mm * smooth_noise(rng, n, (NUM_JOINTS - 1, 3), p.bias_sigma)  # (T,20,3)
    offset += p.wobble_mm * smooth_noise(rng, n, (NUM_JOINTS - 1, 3), p.wobble_sigma)
    rel = forward_kinematics(bones + stretch * lengths + offset)  # (T,21,3)

    rel, occluded = _occlusion_bursts(rel, rng, p, fps)
    depth = 1.0 + p.depth_std * _slow_fast(rng, n, (), p)  # (T,)
    rel[..., DEPTH_AXIS] *= depth[:, None]
    rel *= (1.0 + p.scale_std * _slow_fast(rng, n, (), p))[:, None, None]
    rel, gross = _gross_failures(rel, rng, p)

    rel += p.jitter_mm * rng.standard_normal(rel.shape)
    root = p.root_mm * _slow_fast(rng, n, (3,), p) * np.array([1.0, 1.0, 3.0])  # (T,3)
    return rel - rel[:, WRIST : WRIST + 1] + (gt[:, WRIST] + root)[:, None, :], occluded, gross


def forward_kinematics(bones: np.ndarray) -> np.ndarray:
    """Joints from bone vectors (child - parent, canonical bone order) with the wrist at 0: (...,20,3) -> (...,21,3)."""
    joints = np.zeros((*bones.shape[:-2], NUM_JOINTS, 3))
    for child in range(1, NUM_JOINTS):  # parents precede children in the canonical order
        joints[..., child, :] = joints[..., PARENTS[child], :] + bones[..., child - 1, :]
    return joints


def _slow_fast(rng: np.random.Generator, n: int, shape: tuple[int, ...], p: NoiseProfile) -> np.ndarray:
    """Unit-variance mix of slow noise and a ``fast_share`` of white noise: (n,*shape)."""
    slow = smooth_noise(rng, n, shape, p.bias_sigma)
    return np.sqrt(1.0 - p.fast_share) * slow + np.sqrt(p.fast_share) * rng.standard_normal((n, *shape))


def _occlusion_bursts(
    rel: np.ndarray, rng: np.random.Generator, p: NoiseProfile, fps: float
) -> tuple[np.ndarray, np.ndarray]:
    """Rotate one to three neighbouring fingers about their base joint during short bursts: (T,21,3) -> same, and
    the fingers each burst rotated, (T,5) bool."""
    n = len(rel)
    out = rel.copy()
    occluded = np.zeros((n, len(FINGER_CHAINS)), dtype=bool)
    for _ in range(rng.poisson(p.occlusion_rate_hz * n / fps)):
        length = int(rng.integers(p.occlusion_frames[0], p.occlusion_frames[1] + 1))
        start = int(rng.integers(-length // 2, n))
        frames = np.arange(max(start, 0), min(start + length, n))
        if len(frames) == 0:
            continue
        ramp = np.minimum(np.minimum(frames - start + 1, start + length - frames), 2) / 2.0  # (F,) 0.5 or 1
        first = int(rng.integers(0, 5))
        fingers = range(first, min(first + int(rng.integers(1, 4)), 5))
        for finger in fingers:
            occluded[frames, finger] = True
            base, *moving = FINGER_CHAINS[finger]
            angle = np.deg2rad(p.occlusion_deg) * rng.uniform(0.5, 1.5)
            rotvec = _random_unit(rng)[None, :] * (angle * ramp)[:, None]  # (F,3)
            rot = Rotation.from_rotvec(rotvec)
            for joint in moving:
                arm = out[frames, joint] - out[frames, base]  # (F,3)
                out[frames, joint] = out[frames, base] + rot.apply(arm)
    return out, occluded


def _gross_failures(rel: np.ndarray, rng: np.random.Generator, p: NoiseProfile) -> tuple[np.ndarray, np.ndarray]:
    """Rotate the whole root-relative hand by a large angle for a few frames: (T,21,3) -> same, and the frames
    of the failures, (T,) bool."""
    n = len(rel)
    gross = np.zeros(n, dtype=bool)
    starts = np.flatnonzero(rng.random(n) < p.gross_rate)
    for start in starts:
        frames = np.arange(start, min(start + int(rng.integers(p.gross_frames[0], p.gross_frames[1] + 1)), n))
        angle = np.deg2rad(p.gross_deg) * rng.uniform(0.6, 1.4)
        rot = Rotation.from_rotvec(_random_unit(rng) * angle)
        rel[frames] = rot.apply(rel[frames].reshape(-1, 3)).reshape(len(frames), NUM_JOINTS, 3)
        gross[frames] = True
    return rel, gross


def _random_unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal(3)
    return v / np.linalg.norm(v)
