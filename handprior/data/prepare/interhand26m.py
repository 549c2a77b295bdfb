"""InterHand2.6M (v1.0, 30 fps release): ``annotations/<split>/InterHand2.6M_<split>_*.json`` -> hand tracks.

Read exactly as the official InterHand2.6M release lays the files out (docs/datasets.md, "InterHand2.6M"):

* ``InterHand2.6M_<split>_data.json`` (COCO-style, plain ``json``): ``images[]`` with ``id``, ``capture`` (int),
  ``seq_name``, ``camera`` (a string), ``frame_idx`` (int) (``subject``, ``file_name`` not needed), and
  ``annotations[]`` with ``image_id``, ``hand_type`` (``right`` / ``left`` / ``interacting``),
  ``hand_type_valid`` (an integer 0/1) and the image-level ``joint_valid`` (42 one-element lists of 0/1; a flat
  list of 42 is read too), one annotation per image;
* ``InterHand2.6M_<split>_camera.json``: per capture ``camrot`` (world -> camera R) and ``campos`` (centre, mm),
  each a dict by camera id (``focal``, ``princpt`` not needed): ``X_cam = R (X_world - campos)``;
* ``InterHand2.6M_<split>_joint_3d.json``: per capture and frame ``world_coord`` (42x3, mm; an invalid joint holds a
  placeholder such as ``[1, 1, 1]``) and the 3D ``joint_valid`` (42 one-element lists of booleans; flat is read
  too); its ``hand_type`` / ``hand_type_valid`` (a boolean there) are not read;
* ``InterHand2.6M_<split>_MANO_NeuralAnnot.json`` (optional): per capture, frame and hand ``pose (48)`` world-frame
  axis-angle, ``shape (10)``; smplx ``use_pca=False``, ``flat_hand_mean=False``.

A view is ``(split, capture, seq_name, camera)``; its right and left hands are separate tracks. A hand is
present in an image when ``hand_type`` says so (``interacting`` = both) or, where ``hand_type_valid`` is 0,
when its image-level wrist is valid. Per joint, the 3D ``joint_valid`` decides, as the official loader does
(each joint's validity multiplied by the root's): a hand whose wrist is invalid is dropped (``invalid wrist``);
otherwise the frame is kept and each invalid joint is masked (``joint marked invalid``: ``valid.npy`` in the
store, its coordinate a finite placeholder), so it is neither supervised nor scored. A joint marked valid whose
coordinate is not finite drops the frame (``invalid joints``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from handprior.body.joints import IH26M_TO_CANON_LEFT, IH26M_TO_CANON_RIGHT, SIDES
from handprior.data.prepare.files import as_array, read_json
from handprior.data.prepare.geometry import theta_to_camera, translation_from_centre, world_to_camera
from handprior.data.prepare.mano import mano_absent, mano_present, read_pose_shape
from handprior.data.prepare.predictions import KeyScheme
from handprior.data.prepare.report import (
    INVALID_JOINTS,
    INVALID_WRIST,
    JOINT_MARKED_INVALID,
    NO_CAMERA,
    NO_GROUND_TRUTH,
    NO_MANO,
    TRUNCATED_JOINTS,
    SplitReport,
)
from handprior.data.prepare.sequences import Track
from handprior.errors import HandpriorInputError

SPLITS = ("train", "val", "test")
JOINT_MAPS = {"right": IH26M_TO_CANON_RIGHT, "left": IH26M_TO_CANON_LEFT}
WRIST_INDEX = {"right": 20, "left": 41}
_KEY = re.compile(r"(?:^|/)(?:images/)?(train|val|test)/Capture(\d+)/([^/]+)/cam([^/]+)/image(\d+)(?:\.\w+)?$")


def parse_key(key: str) -> tuple[Any, ...] | None:
    """``images/<split>/Capture<c>/<seq>/cam<camera>/image<frame>.jpg`` -> ``(split, c, seq, camera, frame)``."""
    match = _KEY.search(key)
    if match is None:
        return None
    split, capture, seq_name, camera, frame = match.groups()
    return split, int(capture), seq_name, camera, int(frame)


def format_key(frame_id: tuple[Any, ...]) -> str:
    """Inverse of :func:`parse_key`: the image path relative to the dataset root."""
    split, capture, seq_name, camera, frame = frame_id
    return f"images/{split}/Capture{capture}/{seq_name}/cam{camera}/image{frame}.jpg"


SCHEME = KeyScheme("interhand26m", parse_key, format_key, format_key(("test", 0, "0266_dh_pray", "400030", 1000)), True)


def annotation_path(root: Path, split: str, kind: str) -> Path:
    """``annotations/<split>/InterHand2.6M_<split>_<kind>.json``."""
    return root / "annotations" / split / f"InterHand2.6M_{split}_{kind}.json"


@dataclass
class _SplitData:
    """The parsed JSON files of one split."""

    views: dict[tuple[Any, ...], list[tuple[int, dict[str, Any]]]]  # view -> [(frame_idx, annotation)] sorted
    cameras: dict[str, Any]
    joints: dict[str, Any]
    mano: dict[str, Any] | None
    notes: list[str]


@dataclass
class _CaptureArrays:
    """3D joints and MANO fits of one capture as arrays (row per annotated frame)."""

    rows: dict[int, int]  # frame_idx -> row
    world: np.ndarray  # (F,42,3) mm, IH26M order
    valid: np.ndarray  # (F,42) bool, 3D validity
    theta: np.ndarray  # (F,2,48) right, left; world-frame global orientation
    beta: np.ndarray  # (F,2,10)
    has_mano: np.ndarray  # (F,2) bool


def _capture_arrays(joints: dict[str, Any], mano: dict[str, Any], joints_path: Path, mano_path: Path) -> _CaptureArrays:
    """Parse ``joint_3d[capture]`` and ``MANO_NeuralAnnot[capture]`` once."""
    frames = sorted(joints, key=int)
    n = len(frames)
    world, valid = np.full((n, 42, 3), np.nan), np.zeros((n, 42), dtype=bool)
    theta, beta, has_mano = np.zeros((n, 2, 48)), np.zeros((n, 2, 10)), np.zeros((n, 2), dtype=bool)
    for i, frame in enumerate(frames):
        entry = joints[frame]
        if not isinstance(entry, dict) or "world_coord" not in entry or "joint_valid" not in entry:
            raise HandpriorInputError(f"frame {frame}: expected world_coord and joint_valid", joints_path)
        world[i] = as_array(entry["world_coord"], (42, 3), f"frame {frame} world_coord", joints_path)
        valid[i] = as_array(entry["joint_valid"], (42,), f"frame {frame} joint_valid", joints_path) > 0
        fit = mano.get(frame)
        for h, side in enumerate(SIDES):
            params = read_pose_shape(fit.get(side) if isinstance(fit, dict) else None, mano_path)
            if params is not None:
                theta[i, h], beta[i, h], has_mano[i, h] = params[0], params[1], True
    return _CaptureArrays({int(f): i for i, f in enumerate(frames)}, world, valid, theta, beta, has_mano)


@dataclass
class InterHand26M:
    """Preparer for InterHand2.6M (see the module docstring)."""

    root: Path
    cameras: list[str] | None = None  # restrict to these camera names (e.g. ["400262"]); None: all
    with_mano: bool = True
    drop_truncated: bool = False  # also drop hands with joints outside the image (image-level joint_valid)
    fps: float = 30.0
    dataset: str = "interhand26m"
    scheme: KeyScheme = SCHEME
    split_names: tuple[str, ...] = SPLITS
    _loaded: tuple[str, _SplitData] | None = field(default=None, repr=False)
    _arrays: tuple[tuple[str, int], _CaptureArrays] | None = field(default=None, repr=False)

    def _data(self, split: str) -> _SplitData:
        if self._loaded is None or self._loaded[0] != split:
            self._loaded = None  # free the previous split before parsing the next
            self._loaded = (split, self._load(split))
        return self._loaded[1]

    def _load(self, split: str) -> _SplitData:
        data_path = annotation_path(self.root, split, "data")
        data = read_json(data_path)
        if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
            raise HandpriorInputError("expected a COCO-style object with 'images' and 'annotations'", data_path)
        annotations: dict[int, dict[str, Any]] = {}
        notes: list[str] = []
        duplicates = 0
        for ann in data["annotations"]:
            if annotations.setdefault(int(ann["image_id"]), ann) is not ann:
                duplicates += 1
        if duplicates:
            notes.append(f"{duplicates} extra annotations of already annotated images ignored (first one used)")
        views: dict[tuple[Any, ...], list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        unannotated = 0
        for image in data["images"]:
            ann = annotations.get(int(image["id"]))
            if ann is None:
                unannotated += 1
                continue
            view = (split, int(image["capture"]), str(image["seq_name"]), str(image["camera"]))
            views[view].append((int(image["frame_idx"]), ann))
        if unannotated:
            notes.append(f"{unannotated} images without an annotation ignored")
        for frames in views.values():
            frames.sort(key=lambda item: item[0])
        mano_path = annotation_path(self.root, split, "MANO_NeuralAnnot")
        mano = read_json(mano_path) if self.with_mano and mano_path.is_file() else None
        cameras = read_json(annotation_path(self.root, split, "camera"))
        joints = read_json(annotation_path(self.root, split, "joint_3d"))
        return _SplitData(dict(views), cameras, joints, mano, notes)

    def missing_split(self, split: str) -> str | None:
        path = annotation_path(self.root, split, "data")
        return None if path.is_file() else f"{path} not found"

    def views(self, split: str) -> list[tuple[Any, ...]]:
        views = sorted(self._data(split).views)
        return [v for v in views if self.cameras is None or v[3] in self.cameras]

    def tracks(self, split: str, view: tuple[Any, ...], report: SplitReport) -> list[Track]:
        data = self._data(split)
        for note in data.notes:
            if note not in report.notes:
                report.notes.append(note)
        frames = data.views[view]
        _, capture, seq_name, camera = view
        path = annotation_path(self.root, split, "camera")
        try:
            camera_params = data.cameras[str(capture)]
            rotation = as_array(camera_params["camrot"][camera], (3, 3), "camrot", path)
            translation = translation_from_centre(rotation, as_array(camera_params["campos"][camera], (3,), "campos", path))
        except KeyError:
            rotation = translation = None
        tracks = []
        for side in SIDES:
            present = [(f, ann) for f, ann in frames if _hand_present(ann, side)]
            if present:
                name = f"{split}/Capture{capture}/{seq_name}/cam{camera}/{side}"
                tracks.append(self._track(split, view, side, present, data, rotation, translation, name))
        if rotation is None:
            for hand in tracks:
                hand.drop(np.ones(len(hand.frames), dtype=bool), NO_CAMERA)
        return tracks

    def _capture(self, split: str, capture: int) -> _CaptureArrays:
        """Arrays of one capture's 3D joints and MANO fits, parsed once and shared by all its views."""
        if self._arrays is None or self._arrays[0] != (split, capture):
            data = self._data(split)
            self._arrays = None
            self._arrays = ((split, capture), _capture_arrays(data.joints.get(str(capture), {}),
                                                              (data.mano or {}).get(str(capture), {}),
                                                              annotation_path(self.root, split, "joint_3d"),
                                                              annotation_path(self.root, split, "MANO_NeuralAnnot")))  # fmt: skip
        return self._arrays[1]

    def _track(self, split: str, view: tuple[Any, ...], side: str, frames: list[tuple[int, dict[str, Any]]],
               data: _SplitData, rotation: np.ndarray | None, translation: np.ndarray | None, name: str) -> Track:
        arrays = self._capture(split, view[1])
        n, index, hand_index = len(frames), list(JOINT_MAPS[side]), SIDES.index(side)
        frame_ids = np.array([f for f, _ in frames], dtype=np.int64)
        rows = np.array([arrays.rows.get(int(f), -1) for f in frame_ids], dtype=np.int64)  # (F,) -1: no 3D entry
        found = rows >= 0
        world = np.where(found[:, None, None], arrays.world[rows], np.nan)  # (F,42,3) mm
        valid = found[:, None] & arrays.valid[rows]  # (F,42)
        hand = Track(name, side, view, frame_ids, np.full((n, 21, 3), np.nan), np.full(n, "", dtype=object))
        joint_valid = valid[:, index]  # (F,21) canonical order
        finite = np.isfinite(world[:, index]).all(axis=2)  # (F,21)
        hand.drop(~found, NO_GROUND_TRUTH)
        hand.drop(~valid[:, WRIST_INDEX[side]], INVALID_WRIST)  # the official rule: no valid root, no hand
        hand.drop((joint_valid & ~finite).any(axis=1), INVALID_JOINTS)  # marked valid but not a number
        hand.mask(~joint_valid, JOINT_MARKED_INVALID)  # kept frames: these joints are masked, not the frame
        if self.drop_truncated:
            in_image = np.stack([_image_valid(ann) for _, ann in frames])  # (F,42) image-level validity
            hand.drop(~in_image[:, index].all(axis=1), TRUNCATED_JOINTS)
        if rotation is not None and translation is not None:
            hand.gt = world_to_camera(world[:, index], rotation, translation)  # (F,21,3) mm, camera frame
        if data.mano is not None:
            hand.drop(~(found & arrays.has_mano[rows, hand_index]), NO_MANO)
            theta = arrays.theta[rows, hand_index]  # (F,48) world-frame global orientation
            hand.theta = theta_to_camera(theta, rotation) if rotation is not None else theta
            hand.beta = arrays.beta[rows, hand_index]
        return hand

    def split_meta(self, split: str) -> dict[str, Any]:
        data = self._data(split)
        if data.mano is not None:
            mano = mano_present("InterHand2.6M NeuralAnnot (smplx MANO, use_pca=False, flat_hand_mean=False)")
        elif not self.with_mano:
            mano = mano_absent("not requested (with_mano=False)")
        else:
            mano = mano_absent(f"{annotation_path(self.root, split, 'MANO_NeuralAnnot').name} not found")
        return {"annotations": str(annotation_path(self.root, split, "data")), "mano": mano,
                "source_root": str(self.root), "frame_rate_note": "30 fps release; frame step inferred per track"}  # fmt: skip


def _image_valid(ann: dict[str, Any]) -> np.ndarray:
    """Image-level (truncation-aware) ``joint_valid`` of an annotation, flattened to (42,) bool."""
    joint_valid = np.asarray(ann.get("joint_valid", np.ones(42)), dtype=np.float64).reshape(-1)
    return joint_valid > 0 if joint_valid.size == 42 else np.zeros(42, dtype=bool)


def _hand_present(ann: dict[str, Any], side: str) -> bool:
    """Whether the image shows hand ``side``: ``hand_type`` when valid, otherwise the image-level wrist."""
    hand_type = ann.get("hand_type")
    if hand_type in ("right", "left", "interacting") and ann.get("hand_type_valid", 1):
        return hand_type in (side, "interacting")
    return bool(_image_valid(ann)[WRIST_INDEX[side]])
