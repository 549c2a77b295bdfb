"""Converters from what InterWild and HaMeR produce to the predictions format of :mod:`.predictions`.

Neither estimator writes per-frame joints to disk on its own (InterWild's demo writes MANO parameters,
HaMeR's demo writes renders), so each converter reads one ``.npz`` of the model outputs stacked over images,
which a few lines in the estimator's inference loop save (docs/datasets.md shows them):

InterWild (model outputs in ``test`` mode; docs/datasets.md, "From InterWild")::

    img_path         (N,)       str    image path (absolute or relative to the dataset root)
    rmano_joint_cam  (N,21,3)   float  right hand, metres, wrist-relative, canonical order
    lmano_joint_cam  (N,21,3)   float  left hand, same (already un-mirrored by InterWild)

HaMeR (one row per detected hand crop; docs/datasets.md, "From HaMeR")::

    img_path           (N,)      str
    right              (N,)      int/bool  1 for a right hand, 0 for a left one
    pred_keypoints_3d  (N,21,3)  float     metres, MANO frame of the (mirrored, for left hands) crop
    pred_cam_t_full    (N,3)     float     optional: the demo's full-image camera translation (already
                                           un-mirrored), used only with ``use_translation=True``
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from handprior.body.joints import WRIST
from handprior.data.file_checks import check_no_clash, check_writable
from handprior.data.prepare.predictions import as_strings, check_joint_array, read_npz, write_predictions
from handprior.errors import HandpriorInputError


def _require(data: dict[str, np.ndarray], keys: tuple[str, ...], path: Path, what: str) -> None:
    missing = [key for key in keys if key not in data]
    if missing:
        raise HandpriorInputError(f"missing {missing}; a {what} output file needs {list(keys)} (docs/datasets.md)", path)


def check_output_file(source: Path, output: str | Path) -> None:
    """Before anything is read: the output is not the input (links followed) and can be written."""
    check_no_clash({"the input": source}, {"the output": output})
    check_writable(output)


def wrist_relative(joints: np.ndarray) -> np.ndarray:
    """``(N,21,3)`` -> the same joints with the wrist at the origin."""
    return joints - joints[:, WRIST : WRIST + 1]


def convert_interwild(source: str | Path, output: str | Path) -> Path:
    """InterWild outputs -> predictions file: two rows per image (right, left), metres, wrist-relative."""
    source = Path(source)
    check_output_file(source, output)
    data = read_npz(source)
    _require(data, ("img_path", "rmano_joint_cam", "lmano_joint_cam"), source, "InterWild")
    right = check_joint_array(data["rmano_joint_cam"], "rmano_joint_cam", source)  # (N,21,3) m
    left = check_joint_array(data["lmano_joint_cam"], "lmano_joint_cam", source)
    paths = as_strings(data["img_path"], "img_path", source, len(right))
    if len(left) != len(right):
        raise HandpriorInputError(f"rmano_joint_cam has {len(right)} rows but lmano_joint_cam {len(left)}", source)
    joints = np.concatenate([wrist_relative(right), wrist_relative(left)])  # (2N,21,3)
    hands = ["right"] * len(right) + ["left"] * len(left)
    return write_predictions(output, paths + paths, joints, "m", hands, root_relative=True, source="interwild")


def convert_hamer(source: str | Path, output: str | Path, use_translation: bool = False) -> Path:
    """HaMeR outputs -> predictions file: left hands x-flipped back, metres, wrist-relative unless translated."""
    source = Path(source)
    check_output_file(source, output)
    data = read_npz(source)
    _require(data, ("img_path", "right", "pred_keypoints_3d"), source, "HaMeR")
    joints = check_joint_array(data["pred_keypoints_3d"], "pred_keypoints_3d", source)  # (N,21,3) m
    paths = as_strings(data["img_path"], "img_path", source, len(joints))
    right = np.asarray(data["right"]).reshape(-1)
    if right.shape != (len(joints),) or not np.isin(right.astype(np.float64), (0.0, 1.0)).all():
        raise HandpriorInputError(f"'right' must hold one 0/1 per row ({len(joints)}), found {right[:5]}", source)
    joints = joints.copy()
    joints[..., 0] *= (2.0 * right.astype(np.float64) - 1.0)[:, None]  # un-mirror left hands (demo.py convention)
    if use_translation:
        _require(data, ("pred_cam_t_full",), source, "HaMeR (use_translation=True)")
        translation = np.asarray(data["pred_cam_t_full"], dtype=np.float64)
        if translation.shape != (len(joints), 3):
            raise HandpriorInputError(f"'pred_cam_t_full' must be (N,3), found {translation.shape}", source)
        joints = joints + translation[:, None, :]
    else:
        joints = wrist_relative(joints)
    hands = ["right" if r else "left" for r in right.astype(bool)]
    return write_predictions(output, paths, joints, "m", hands, root_relative=not use_translation, source="hamer")
