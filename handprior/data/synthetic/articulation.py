"""Finger articulation: anatomical joint limits and the synergies that couple the 15 MANO finger joints.

A hand posture is summarised by a small latent vector (the synergies): a curl per long finger, how the curl
is shared between the base and the distal joints, one spread, the thumb's opposition and its curl. Keyposes
of everyday gestures (relaxed, open, fist, grasp, point, pinch, counting) are sampled in that latent space and
mapped to joint angles, which are kept inside :data:`JOINT_LIMITS` with a smooth saturation.
"""

from __future__ import annotations

import numpy as np

from handprior.data.synthetic.axes import ABD, FLEX, MANO15_FINGER, MANO15_LEVEL, TWIST
from handprior.data.synthetic.signals import soft_clip

# Latent layout (L = 11): curl of index, middle, ring, pinky | base-vs-distal share of the same four | spread |
# thumb opposition | thumb curl. Curls, spread and thumb values in [0, 1]; shares in [-1, 1].
CURL = slice(0, 4)
SHARE = slice(4, 8)
SPREAD, OPPOSITION, THUMB_CURL = 8, 9, 10
LATENT_SIZE = 11
LONG_FINGERS = (1, 2, 3, 4)  # index, middle, ring, pinky as finger ids (0 is the thumb)

# Anatomical ranges in degrees, (low, high) per component (flex, abd, twist), by (finger kind, level).
_FINGER_LIMITS = {
    0: ((-15.0, 90.0), (-20.0, 25.0), (-5.0, 5.0)),  # MCP: small hyperextension, abduction
    1: ((-5.0, 105.0), (-3.0, 3.0), (-3.0, 3.0)),  # PIP: hinge
    2: ((-10.0, 80.0), (-3.0, 3.0), (-3.0, 3.0)),  # DIP: hinge
}
_THUMB_LIMITS = {
    0: ((-20.0, 50.0), (-10.0, 55.0), (-10.0, 35.0)),  # CMC: opposition sweep, palmar abduction, pronation
    1: ((-10.0, 60.0), (-8.0, 8.0), (-5.0, 5.0)),  # MCP
    2: ((-15.0, 85.0), (-3.0, 3.0), (-3.0, 3.0)),  # IP
}
JOINT_LIMITS: np.ndarray = np.array(
    [(_THUMB_LIMITS if f == 0 else _FINGER_LIMITS)[lvl] for f, lvl in zip(MANO15_FINGER, MANO15_LEVEL)]
)  # (15,3,2) degrees, MANO joint order
LIMIT_MARGIN_DEG = 8.0

_MAX_SPREAD = {1: 16.0, 2: 4.0, 3: 10.0, 4: 20.0}  # abduction at full spread of an open hand, degrees
_CONVERGENCE = {1: 6.0, 2: 0.0, 3: 5.0, 4: 10.0}  # fingers converge towards the middle one in a fist
_ULNAR_EXTRA = np.array([0.0, 0.03, 0.07, 0.12])  # ring and pinky rest slightly more flexed


def latent_to_angles(
    latent: np.ndarray,
    wiggle: np.ndarray | None = None,
    mcp_gain: float = 1.0,
    distal_gain: float = 1.0,
    thumb_gain: float = 1.0,
) -> np.ndarray:
    """Synergy latents (N,11) (+ optional per-joint angle offsets (N,15,3) deg) -> angles (N,15,3) deg in limits.

    ``mcp_gain`` scales the curl's flexion of the long fingers' base (MCP) joints: real hands curl them less
    than the middle and distal joints (v2: below 1); ``distal_gain`` scales the curl's flexion of their middle
    (PIP) and distal (DIP) joints, ``thumb_gain`` the thumb's flexion travel from its rest."""
    n = latent.shape[0]
    angles = np.zeros((n, 15, 3))
    curl = np.clip(latent[:, CURL], 0.0, 1.0)  # (N,4)
    share = np.clip(latent[:, SHARE], -1.0, 1.0)  # (N,4) >0: base joint does more of the curl
    spread = np.clip(latent[:, SPREAD], 0.0, 1.0)  # (N,)
    for j, (finger, level) in enumerate(zip(MANO15_FINGER, MANO15_LEVEL)):
        if finger == 0:
            continue
        c, s = curl[:, finger - 1], share[:, finger - 1]
        if level == 0:
            angles[:, j, FLEX] = mcp_gain * 85.0 * c * (1.0 + 0.3 * s) - 8.0 * (1.0 - c) * spread
            angles[:, j, ABD] = _MAX_SPREAD[finger] * spread * (1.0 - c) - _CONVERGENCE[finger] * c
            angles[:, j, TWIST] = (finger - 2) * 2.0 * c  # ulnar fingers supinate a little when curled
        elif level == 1:
            angles[:, j, FLEX] = distal_gain * 100.0 * c * (1.0 - 0.35 * s)
        else:
            angles[:, j, FLEX] = distal_gain * 0.7 * 100.0 * c * (1.0 - 0.35 * s) * (0.85 + 0.15 * c)
    opp = np.clip(latent[:, OPPOSITION], 0.0, 1.0)  # (N,)
    tcurl = np.clip(latent[:, THUMB_CURL], 0.0, 1.0)  # (N,)
    for j, (finger, level) in enumerate(zip(MANO15_FINGER, MANO15_LEVEL)):
        if finger != 0:
            continue
        if level == 0:
            angles[:, j, FLEX] = -5.0 + thumb_gain * (40.0 * opp + 10.0 * tcurl)
            angles[:, j, ABD] = 5.0 + 40.0 * opp
            angles[:, j, TWIST] = 25.0 * opp
        elif level == 1:
            angles[:, j, FLEX] = 5.0 + thumb_gain * 45.0 * tcurl
        else:
            angles[:, j, FLEX] = 0.0 + thumb_gain * 70.0 * tcurl
    if wiggle is not None:
        angles = angles + wiggle
    return soft_clip(angles, JOINT_LIMITS[..., 0], JOINT_LIMITS[..., 1], LIMIT_MARGIN_DEG)


def sample_keypose(rng: np.random.Generator, weights: tuple[float, ...] | None = None) -> np.ndarray:
    """One everyday hand posture as a synergy latent (11,), drawn from a mixture of gesture families.

    ``weights`` (one per family of :data:`KEYPOSE_FAMILIES`, normalised here) defaults to
    :data:`KEYPOSE_WEIGHTS_V1`, the benchmark's (v1) mixture."""
    p = np.asarray(KEYPOSE_WEIGHTS_V1 if weights is None else weights, dtype=np.float64)
    kind = rng.choice(len(_KEYPOSES), p=p / p.sum())
    return _KEYPOSES[kind](rng)


def _relaxed(rng: np.random.Generator) -> np.ndarray:
    g = rng.uniform(0.15, 0.45)
    return _latent(rng, g + _ULNAR_EXTRA + rng.normal(0, 0.06, 4), rng.uniform(-0.3, 0.3), rng.uniform(0.1, 0.5),
                   rng.uniform(0.0, 0.4), rng.uniform(0.1, 0.4))  # fmt: skip


def _open(rng: np.random.Generator) -> np.ndarray:
    g = rng.uniform(0.0, 0.1)
    return _latent(rng, g + rng.uniform(0, 0.05, 4), rng.uniform(-0.2, 0.2), rng.uniform(0.5, 1.0),
                   rng.uniform(0.0, 0.2), rng.uniform(0.0, 0.2))  # fmt: skip


def _fist(rng: np.random.Generator) -> np.ndarray:
    g = rng.uniform(0.75, 1.0)
    return _latent(rng, g + rng.normal(0, 0.04, 4), rng.uniform(-0.3, 0.3), rng.uniform(0.0, 0.15),
                   rng.uniform(0.3, 0.7), rng.uniform(0.5, 1.0))  # fmt: skip


def _cylinder(rng: np.random.Generator) -> np.ndarray:
    g = rng.uniform(0.4, 0.7)
    return _latent(rng, g + _ULNAR_EXTRA + rng.normal(0, 0.05, 4), rng.uniform(0.2, 0.8), rng.uniform(0.0, 0.3),
                   rng.uniform(0.5, 0.9), rng.uniform(0.2, 0.6))  # fmt: skip


def _point(rng: np.random.Generator) -> np.ndarray:
    curl = np.concatenate([[rng.uniform(0.0, 0.15)], rng.uniform(0.7, 1.0, 3)])
    return _latent(rng, curl, rng.uniform(-0.3, 0.3), rng.uniform(0.0, 0.3), rng.uniform(0.4, 0.8),
                   rng.uniform(0.4, 0.9))  # fmt: skip


def _pinch(rng: np.random.Generator) -> np.ndarray:
    curl = np.concatenate([[rng.uniform(0.3, 0.6)], rng.uniform(0.1, 0.9) + rng.normal(0, 0.08, 3)])
    return _latent(rng, curl, rng.uniform(0.0, 0.6), rng.uniform(0.0, 0.4), rng.uniform(0.5, 0.95),
                   rng.uniform(0.3, 0.7))  # fmt: skip


def _count(rng: np.random.Generator) -> np.ndarray:
    extended = rng.random(4) < 0.5
    curl = np.where(extended, rng.uniform(0.0, 0.1, 4), rng.uniform(0.75, 1.0, 4))
    thumb_out = rng.random() < 0.5
    return _latent(rng, curl, rng.uniform(-0.3, 0.3), rng.uniform(0.2, 0.8),
                   rng.uniform(0.0, 0.2) if thumb_out else rng.uniform(0.5, 0.8),
                   rng.uniform(0.0, 0.2) if thumb_out else rng.uniform(0.6, 1.0))  # fmt: skip


def _synergy(rng: np.random.Generator) -> np.ndarray:
    """A random posture on the first two curl synergies: one shared curl, a radial-ulnar gradient, small residuals."""
    shared = rng.uniform(0.05, 0.7)
    gradient = rng.normal(0.0, 0.08) * np.array([-1.5, -0.5, 0.5, 1.5])  # index .. pinky loadings
    curl = shared + gradient + _ULNAR_EXTRA + rng.normal(0, 0.05, 4)
    return _latent(rng, curl, rng.uniform(-0.5, 0.5), rng.uniform(0.0, 1.0) * (1.0 - shared),
                   rng.uniform(0.0, 1.0), np.clip(shared + rng.normal(0, 0.25), 0.0, 1.0))  # fmt: skip


def _uniform(rng: np.random.Generator) -> np.ndarray:
    return _latent(
        rng, rng.uniform(0, 1, 4), rng.uniform(-1, 1), rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0, 1)
    )


def _latent(
    rng: np.random.Generator, curl: np.ndarray, share: float, spread: float, opp: float, tcurl: float
) -> np.ndarray:
    z = np.empty(LATENT_SIZE)
    z[CURL] = np.clip(curl, 0.0, 1.0)
    z[SHARE] = np.clip(share + rng.normal(0, 0.1, 4), -1.0, 1.0)
    z[SPREAD], z[OPPOSITION], z[THUMB_CURL] = spread, opp, tcurl
    return z


_KEYPOSES = (_relaxed, _open, _fist, _cylinder, _point, _pinch, _count, _uniform, _synergy)
KEYPOSE_FAMILIES: tuple[str, ...] = tuple(f.__name__.lstrip("_") for f in _KEYPOSES)
# Mixture of the families (same order). v1 drew independent finger curls often (count, uniform: 17%), which made
# neighbouring fingers correlate far less than real hands; v2 draws them rarely and adds synergy postures.
KEYPOSE_WEIGHTS_V1: tuple[float, ...] = (0.28, 0.1, 0.1, 0.15, 0.08, 0.12, 0.08, 0.09, 0.0)
KEYPOSE_WEIGHTS_V2: tuple[float, ...] = (0.26, 0.12, 0.12, 0.15, 0.04, 0.066, 0.02, 0.0, 0.22)
