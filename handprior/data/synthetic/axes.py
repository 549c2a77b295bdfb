"""Anatomical rotation axes of MANO's 15 finger joints, derived from any MANO-format model's rest joints.

MANO's pose parameters are axis-angle rotations of each joint relative to its parent, expressed in the
rest-pose frame. So an anatomical motion "flex joint j by a degrees" is the axis-angle ``a * flexion_axis[j]``
where the axis is a unit vector computed once from the rest joints. Deriving the axes geometrically (rather
than hard-coding them) makes the generator work unchanged for the built-in stand-in and the official model.

Conventions (right hand): the palm normal ``cross(index1 - wrist, pinky1 - wrist)`` points out of the palm;
positive flexion turns a bone towards the palm; positive abduction spreads a finger away from the middle
finger; for the thumb, abduction lifts it out of the palm plane and flexion (opposition) sweeps it across
the palm towards the little finger.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handprior.body.joints import MANO21_TO_CANON, NUM_JOINTS, invert_index_map

# Canonical index of each of MANO's 15 finger joints (MANO kinematic order: index, middle, pinky, ring, thumb).
MANO15_CANON: tuple[int, ...] = tuple(int(c) for c in invert_index_map(MANO21_TO_CANON)[1:16])
# Finger (0 thumb .. 4 pinky) and level (0 base, 1 middle, 2 distal) of each MANO joint.
MANO15_FINGER: tuple[int, ...] = tuple((c - 1) // 4 for c in MANO15_CANON)
MANO15_LEVEL: tuple[int, ...] = tuple((c - 1) % 4 for c in MANO15_CANON)
FLEX, ABD, TWIST = 0, 1, 2  # component order of an articulation array (...,15,3)
INDEX1, MIDDLE1, PINKY1 = 5, 9, 17  # canonical ids used to build the palm frame


@dataclass(frozen=True)
class HandAxes:
    """Unit axes (15,3,3): ``axes[j, k]`` is the rest-frame axis of component k (flex, abd, twist) of MANO joint j."""

    axes: np.ndarray  # (15,3,3)
    palm_normal: np.ndarray  # (3,) out of the palm


def hand_axes(rest_joints: np.ndarray) -> HandAxes:
    """Axes from a right hand's rest joints in the canonical order: (21,3) mm -> :class:`HandAxes`."""
    rest = np.asarray(rest_joints, dtype=np.float64)
    if rest.shape != (NUM_JOINTS, 3):
        raise ValueError(f"rest joints must have shape ({NUM_JOINTS},3), got {rest.shape}")
    wrist = rest[0]
    normal = _unit(np.cross(rest[INDEX1] - wrist, rest[PINKY1] - wrist))  # (3,)
    ulnar = rest[PINKY1] - rest[INDEX1]  # across the palm towards the little finger
    axes = np.empty((15, 3, 3))
    for j, (canon, finger) in enumerate(zip(MANO15_CANON, MANO15_FINGER)):
        bone = _unit(rest[canon + 1] - rest[canon])  # towards the child joint (fingertip for level 2)
        n_perp = _unit(_reject(normal, bone))
        if finger == 0:  # thumb: the base sweeps across the palm (opposition), the others curl into it
            across = _unit(_reject(ulnar, bone))
            flex_to = across if MANO15_LEVEL[j] == 0 else _unit(_reject(n_perp + 0.7 * across, bone))
            abd_to = _unit(_reject(n_perp, flex_to))  # off the palm plane, orthogonal to the flexion
            if MANO15_LEVEL[j] > 0:
                abd_to = _unit(np.cross(flex_to, bone))  # sideways; tiny range at these joints
        else:  # long fingers: flexion towards the palm, abduction in the palm plane away from the middle finger
            flex_to = n_perp
            side = _reject(rest[canon] - rest[MIDDLE1], bone) if finger != 2 else _reject(-ulnar, bone)
            abd_to = _unit(np.cross(n_perp, bone))
            abd_to = abd_to * np.sign(np.dot(abd_to, side))
        # a positive rotation about cross(bone, t) turns the bone towards the unit direction t (t ⟂ bone)
        axes[j, FLEX] = np.cross(bone, flex_to)
        axes[j, ABD] = np.cross(bone, abd_to)
        axes[j, TWIST] = bone
    return HandAxes(axes=axes, palm_normal=normal)


def articulation_to_pose(angles_deg: np.ndarray, hand: HandAxes) -> np.ndarray:
    """Anatomical angles (N,15,3) degrees (flex, abd, twist) -> MANO finger pose (N,45) axis-angle.

    Each joint's rotation is abduction after flexion after twist, all about rest-frame axes.
    """
    angles = np.deg2rad(np.asarray(angles_deg, dtype=np.float64))  # (N,15,3)
    quat = None
    for k in (ABD, FLEX, TWIST):  # composed left to right: R = R_abd R_flex R_twist
        part = rotvec_to_quat(angles[..., k, None] * hand.axes[None, :, k])  # (N,15,4)
        quat = part if quat is None else quat_mul(quat, part)
    return quat_to_rotvec(quat).reshape(angles.shape[0], 45)


def rotvec_to_quat(rotvec: np.ndarray) -> np.ndarray:
    """(...,3) axis-angle -> (...,4) unit quaternion (w, x, y, z)."""
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)  # (...,1)
    half = 0.5 * angle
    scale = np.where(angle > 1e-8, np.sin(half) / np.maximum(angle, 1e-12), 0.5)  # sin(a/2)/a -> 1/2
    return np.concatenate([np.cos(half), rotvec * scale], axis=-1)


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product (...,4) x (...,4) -> (...,4): the rotation b followed by a."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz,
                     aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw], axis=-1)  # fmt: skip


def quat_to_rotvec(quat: np.ndarray) -> np.ndarray:
    """(...,4) unit quaternion -> (...,3) axis-angle with angle in [0, pi]."""
    quat = np.where(quat[..., :1] < 0, -quat, quat)
    sin_half = np.linalg.norm(quat[..., 1:], axis=-1, keepdims=True)  # (...,1)
    angle = 2.0 * np.arctan2(sin_half, quat[..., :1])
    scale = np.where(sin_half > 1e-8, angle / np.maximum(sin_half, 1e-12), 2.0)
    return quat[..., 1:] * scale


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _reject(v: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Component of ``v`` perpendicular to the unit vector ``direction``."""
    return v - np.dot(v, direction) * direction
