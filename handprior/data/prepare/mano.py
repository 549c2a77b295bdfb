"""MANO ground truth as the store keeps it, and how meta.json describes it.

Stored convention (``gt_theta (N,48)``, ``gt_beta (N,10)``):

* ``theta[:, :3]``: global orientation, axis-angle, in the **camera frame** of the sequence's view
  (``R_cam = R_world_to_cam @ Rodrigues(root)``; MANO rotates about its root joint, so no translation is
  needed, and none is stored);
* ``theta[:, 3:]``: 15 finger rotations, axis-angle, MANO joint order, **``flat_hand_mean=False``**
  convention (smplx's default; MANO's ``hands_mean`` is *not* included, so a layer built with
  ``flat_hand_mean=True`` needs ``theta[:, 3:] + hands_mean``);
* left hands are stored as the mirrored right hand: every axis-angle ``(x, y, z) -> (x, -y, -z)``; betas are
  kept (the official tools fit left hands with the left model's ``shapedirs`` fix, so shapes mirror exactly).
  This assumes the left model's ``hands_mean`` is the mirror of the right one's, as in the official files.

These are the conventions of InterHand2.6M NeuralAnnot, Re:InterHand ``mano_fits`` and HanCo ``shape/``
fits (docs/datasets.md, "MANO ground truth"), so no ``hands_mean`` (which is only in the licensed model file) is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from handprior.data.prepare.files import as_array

STORED_CONVENTION: dict[str, Any] = {
    "pose": "axis-angle (N,48): 3 global orientation in the camera frame + 45 finger rotations, MANO joint order",
    "flat_hand_mean": False,
    "hands_mean_included": False,
    "left_hands": "mirrored to right-hand parameters: each axis-angle (x, y, z) -> (x, -y, -z); betas unchanged",
    "translation": "not stored",
    "beta": "10 shape coefficients",
}


def mano_present(source: str) -> dict[str, Any]:
    """meta.json ``mano`` entry for a store that carries MANO ground truth from ``source``."""
    return {"available": True, "source": source, **STORED_CONVENTION}


def mano_absent(reason: str) -> dict[str, Any]:
    """meta.json ``mano`` entry for a store without MANO ground truth, with the reason."""
    return {"available": False, "reason": reason}


def read_pose_shape(entry: Any, path: Path, pose_key: str = "pose", shape_key: str = "shape") -> tuple[np.ndarray, np.ndarray] | None:
    """``{"pose": [48], "shape": [10], ...}`` -> ``(theta (48,), beta (10,))``; None for a null entry."""
    if entry is None:
        return None
    if not isinstance(entry, dict) or pose_key not in entry or shape_key not in entry:
        return None
    theta = as_array(entry[pose_key], (48,), f"MANO {pose_key!r}", path)
    beta = as_array(entry[shape_key], (10,), f"MANO {shape_key!r}", path)
    return theta, beta
