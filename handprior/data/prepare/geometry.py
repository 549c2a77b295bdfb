"""World -> camera transforms, MANO root-orientation changes, left-hand mirroring and unit checks (NumPy).

Camera frames are OpenCV-style (x right, y down, z forward). Every function is pure and works on any
leading batch shape.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from handprior.body.joints import MIDDLE_MCP, WRIST
from handprior.errors import HandpriorInputError

# Adult hands: wrist -> middle MCP is about 80-110 mm. These generous bounds separate mm from metres
# (a factor 1000) and catch centimetres (a factor 10) without rejecting children's or large hands.
BONE_MM_RANGE = (35.0, 250.0)


def world_to_camera(points: np.ndarray, rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """``X_cam = R @ X_world + t`` for points ``(...,3)``, ``R (3,3)``, ``t (3,)`` in the points' unit."""
    rotation = np.asarray(rotation, dtype=np.float64)
    return np.asarray(points, dtype=np.float64) @ rotation.T + np.asarray(translation, dtype=np.float64)


def camera_to_world(points: np.ndarray, rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """Inverse of :func:`world_to_camera`: ``X_world = R^T (X_cam - t)``."""
    rotation = np.asarray(rotation, dtype=np.float64)
    return (np.asarray(points, dtype=np.float64) - np.asarray(translation, dtype=np.float64)) @ rotation


def translation_from_centre(rotation: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """``t = -R @ C`` for a camera centre ``C`` in world coordinates (InterHand2.6M ``campos``)."""
    return -np.asarray(rotation, dtype=np.float64) @ np.asarray(centre, dtype=np.float64)


def rotate_root_orientation(root: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """MANO global orientation ``(...,3)`` axis-angle in world -> camera: ``R_cam = R @ Rodrigues(root)``.

    MANO rotates about its root joint, so the orientation alone needs no translation correction (the
    store keeps no MANO translation).
    """
    root = np.asarray(root, dtype=np.float64)
    flat = root.reshape(-1, 3)  # (B,3)
    rotated = Rotation.from_matrix(np.asarray(rotation, dtype=np.float64)) * Rotation.from_rotvec(flat)
    return rotated.as_rotvec().reshape(root.shape)


def theta_to_camera(theta: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """MANO pose ``(N,48)`` with a world-frame global orientation -> the same pose seen from the camera."""
    out = np.array(theta, dtype=np.float64, copy=True)  # (N,48)
    out[:, :3] = rotate_root_orientation(out[:, :3], rotation)
    return out


def mirror_axis_angle(pose: np.ndarray) -> np.ndarray:
    """Mirror axis-angle rotations through the y-z plane: every ``(x, y, z)`` -> ``(x, -y, -z)``.

    ``pose (...,3k)``. For a reflection ``M = diag(-1,1,1)``, ``M R M`` is the rotation of axis-angle
    ``-M r``; applied to every MANO joint it turns a left-hand pose into the equivalent right-hand pose
    (the MANO left model is the x-mirror of the right one, with the official ``shapedirs`` fix).
    """
    out = np.array(pose, dtype=np.float64, copy=True)
    shape = out.shape
    out = out.reshape(*shape[:-1], -1, 3)  # (...,k,3)
    out[..., 1:] *= -1.0
    return out.reshape(shape)


def wrist_middle_length(joints: np.ndarray) -> np.ndarray:
    """Length of the wrist -> middle-MCP bone for canonical joints ``(...,21,3)`` -> ``(...)``."""
    joints = np.asarray(joints, dtype=np.float64)
    with np.errstate(invalid="ignore"):  # inf - inf in frames that are dropped anyway
        return np.linalg.norm(joints[..., MIDDLE_MCP, :] - joints[..., WRIST, :], axis=-1)


def median_hand_size(joints: np.ndarray) -> float:
    """Median wrist -> middle-MCP length over the finite frames of ``(N,21,3)``; NaN if there are none."""
    lengths = wrist_middle_length(joints)
    lengths = lengths[np.isfinite(lengths)]
    return float(np.median(lengths)) if lengths.size else float("nan")


def check_hand_size_mm(joints: np.ndarray, what: str, path: str | Path) -> float:
    """Raise :class:`HandpriorInputError` unless ``joints (N,21,3)`` look like millimetres; return the size.

    The test is the median wrist -> middle-MCP length, which is 80-110 mm for adult hands.
    """
    size = median_hand_size(joints)
    low, high = BONE_MM_RANGE
    if np.isfinite(size) and not low <= size <= high:
        guess = "metres" if size < low / 100 else "centimetres" if size < low else "not millimetres"
        raise HandpriorInputError(
            f"{what}: median wrist-to-middle-MCP length is {size:.4g} after conversion to mm; adult hands measure "
            f"80-110 mm, so the values look like {guess} (check the units the file declares)",
            path,
        )
    return size
