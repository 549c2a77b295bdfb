"""Re:InterHand: ``<capture>/{frame_list.txt, orig_fits, mano_fits, Mugsy_cameras, Ego_cameras}`` -> hand tracks.

Read as the official Re:InterHand release lays the files out (docs/datasets.md, "Re:InterHand"):

* ``frame_list.txt``: one frame per line, the second token is the frame index (30 fps);
* ``orig_fits/<hand>/Keypoints/keypoint-%06d.json``: 24 joints, world frame, mm (forearm stub etc. dropped by
  the joint map);
* ``mano_fits/params/<frame>_<hand>.json``: ``pose (48)`` world axis-angle, ``shape (10)`` (smplx
  ``use_pca=False, flat_hand_mean=False``);
* ``Mugsy_cameras/cam_params.json``: fixed cameras ``{name: {R, t (mm), focal, princpt}}``, ``X_cam = R X + t``;
* ``Ego_cameras/envmap_per_{segment,frame}/cam_params/%06d.json``: one moving egocentric camera per frame;
  ``truncation_ratio.json``: frames under ``min_truncation_ratio`` are dropped as InterWild does.

A view is ``(capture, camera)``; camera is a Mugsy camera name or ``ego:per_segment`` / ``ego:per_frame``.
Split by capture: the three captures InterWild tests on are ``test``, the other seven ``train`` (no val).

Per-joint validity: Re:InterHand has none for the 21 joints used. The official loader marks only the forearm
stubs invalid, and they are not among them (nor are ``Thumb_0`` and ``Pinky_0``); the keypoint files carry no
validity flag. So the stores carry no ``valid.npy`` (every joint valid); a frame with a missing or non-finite
joint value is dropped (``invalid wrist`` / ``invalid joints``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from handprior.body.joints import REIH_TO_CANON_RIGHT, SIDES
from handprior.data.prepare.files import as_array, read_json, read_json_optional
from handprior.data.prepare.geometry import theta_to_camera
from handprior.data.prepare.mano import mano_absent, mano_present, read_pose_shape
from handprior.data.prepare.predictions import KeyScheme
from handprior.data.prepare.report import INVALID_JOINTS, INVALID_WRIST, NO_GROUND_TRUTH, NO_MANO, SplitReport
from handprior.data.prepare.sequences import Track
from handprior.errors import HandpriorInputError

SPLITS = ("train", "test")
TEST_CAPTURES = ("m--20221215--0949--RNS217", "m--20221216--0953--NKC880", "m--20230317--1130--QZX685")
EGO_MODES = ("per_segment", "per_frame")
EGO_TRUNCATED = "ego view truncated"
_MUGSY = re.compile(r"(?:^|/)([^/]+)/Mugsy_cameras/envmap_per_(?:segment|frame)/images/([^/]+)/(\d+)(?:\.\w+)?$")
_EGO = re.compile(r"(?:^|/)([^/]+)/Ego_cameras/envmap_(per_segment|per_frame)/images/(\d+)(?:\.\w+)?$")


def parse_key(key: str) -> tuple[Any, ...] | None:
    """Image path -> ``(capture, camera, frame)``; Ego images get camera ``ego:<mode>``."""
    match = _MUGSY.search(key)
    if match is not None:
        return match.group(1), match.group(2), int(match.group(3))
    match = _EGO.search(key)
    if match is not None:
        return match.group(1), f"ego:{match.group(2)}", int(match.group(3))
    return None


def format_key(frame_id: tuple[Any, ...]) -> str:
    """Inverse of :func:`parse_key` (Mugsy images as the 30 fps ``envmap_per_segment`` renders)."""
    capture, camera, frame = frame_id
    if camera.startswith("ego:"):
        return f"{capture}/Ego_cameras/envmap_{camera[4:]}/images/{frame:06d}.png"
    return f"{capture}/Mugsy_cameras/envmap_per_segment/images/{camera}/{frame:06d}.png"


SCHEME = KeyScheme("reinterhand", parse_key, format_key, format_key((TEST_CAPTURES[0] + "--...", "cam400262", 1)), True)


def split_of(capture: str) -> str:
    """``test`` for the three test captures (matched by prefix), ``train`` otherwise."""
    return "test" if capture.startswith(TEST_CAPTURES) else "train"


@dataclass
class _Capture:
    """Ground truth of one capture for both hands, shared by all its views."""

    frames: np.ndarray  # (F,) frame indices from frame_list.txt
    world: dict[str, np.ndarray]  # side -> (F,21,3) mm, canonical order; NaN where there is no keypoint file
    theta: dict[str, np.ndarray]  # side -> (F,48) world-frame global orientation
    beta: dict[str, np.ndarray]  # side -> (F,10)
    has_mano: dict[str, np.ndarray]  # side -> (F,) bool


@dataclass
class ReInterHand:
    """Preparer for Re:InterHand (see the module docstring)."""

    root: Path
    cameras: list[str] | None = None  # Mugsy names and/or "ego:per_segment"; None: every camera
    with_mano: bool = True
    min_truncation_ratio: float = 0.2
    fps: float = 30.0
    dataset: str = "reinterhand"
    scheme: KeyScheme = SCHEME
    split_names: tuple[str, ...] = SPLITS
    _capture: tuple[str, _Capture] | None = field(default=None, repr=False)
    _camera_files: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def data_root(self) -> Path:
        """The folder that holds the capture folders (``root`` or ``root/data``)."""
        if not any(self.root.glob("*/frame_list.txt")) and (self.root / "data").is_dir():
            return self.root / "data"
        return self.root

    def captures(self, split: str) -> list[str]:
        found = sorted(p.parent.name for p in self.data_root.glob("*/frame_list.txt"))
        if not found:
            raise HandpriorInputError("no capture folder with a frame_list.txt found (docs/datasets.md, Re:InterHand)", self.root)
        return [c for c in found if split_of(c) == split]

    def _cameras(self, capture: str) -> dict[str, Any]:
        """Mugsy camera name -> parameters, plus ``ego:<mode>`` -> None for each Ego rendering present."""
        if capture not in self._camera_files:
            path = self.data_root / capture / "Mugsy_cameras" / "cam_params.json"
            cameras = dict(read_json(path)) if path.is_file() else {}
            for mode in EGO_MODES:
                if (self.data_root / capture / "Ego_cameras" / f"envmap_{mode}" / "cam_params").is_dir():
                    cameras[f"ego:{mode}"] = None
            self._camera_files[capture] = cameras
        return self._camera_files[capture]

    def missing_split(self, split: str) -> str | None:
        return None if self.captures(split) else f"none of its captures is under {self.data_root}"

    def views(self, split: str) -> list[tuple[Any, ...]]:
        views = [(c, cam) for c in self.captures(split) for cam in sorted(self._cameras(c))]
        return [v for v in views if self.cameras is None or v[1] in self.cameras]

    def _load_capture(self, capture: str) -> _Capture:
        if self._capture is not None and self._capture[0] == capture:
            return self._capture[1]
        folder = self.data_root / capture
        frames = np.array(_frame_list(folder / "frame_list.txt"), dtype=np.int64)
        n = len(frames)
        world = {s: np.full((n, 21, 3), np.nan) for s in SIDES}
        theta, beta = {s: np.zeros((n, 48)) for s in SIDES}, {s: np.zeros((n, 10)) for s in SIDES}
        has_mano = {s: np.zeros(n, dtype=bool) for s in SIDES}
        for side in SIDES:
            for i, frame in enumerate(frames):
                path = folder / "orig_fits" / side / "Keypoints" / f"keypoint-{frame:06d}.json"
                keypoints = read_json_optional(path)
                if keypoints is not None:
                    world[side][i] = as_array(keypoints, (24, 3), "keypoints", path)[list(REIH_TO_CANON_RIGHT)]
                if self.with_mano:
                    path = folder / "mano_fits" / "params" / f"{frame}_{side}.json"
                    params = read_pose_shape(read_json_optional(path), path)
                    if params is not None:
                        theta[side][i], beta[side][i], has_mano[side][i] = params[0], params[1], True
        loaded = _Capture(frames, world, theta, beta, has_mano)
        self._capture = (capture, loaded)
        return loaded

    def tracks(self, split: str, view: tuple[Any, ...], report: SplitReport) -> list[Track]:
        capture, camera = view
        data = self._load_capture(capture)
        rows = np.arange(len(data.frames))  # (F,) rows of the capture this view covers
        truncated = np.zeros(len(rows), dtype=bool)
        if camera.startswith("ego:"):
            rows, rotations, translations, truncated = self._ego(capture, camera[4:], data.frames)
        else:
            path = self.data_root / capture / "Mugsy_cameras" / "cam_params.json"
            params = self._cameras(capture)[camera]
            rotations = as_array(params.get("R"), (3, 3), f"camera {camera} R", path)[None]  # (1,3,3)
            translations = as_array(params.get("t"), (3,), f"camera {camera} t", path)[None]  # (1,3) mm
        tracks = []
        for side in SIDES:
            world = data.world[side][rows]  # (F,21,3) mm
            gt = np.einsum("fij,fkj->fki", rotations, world) + translations[:, None, :]  # (F,21,3) camera frame
            reasons = np.full(len(rows), "", dtype=object)
            hand = Track(f"{capture}/{camera}/{side}", side, view, data.frames[rows], gt, reasons)
            hand.drop(np.isnan(world).all(axis=(1, 2)), NO_GROUND_TRUTH)
            hand.drop(~np.isfinite(world[:, 0]).all(axis=1), INVALID_WRIST)
            hand.drop(~np.isfinite(world).all(axis=(1, 2)), INVALID_JOINTS)
            hand.drop(truncated, EGO_TRUNCATED)
            if self.with_mano:
                hand.drop(~data.has_mano[side][rows], NO_MANO)
                rotation = rotations if camera.startswith("ego:") else rotations[0]  # (F,3,3) or (3,3)
                hand.theta = theta_to_camera(data.theta[side][rows], rotation) if len(rows) else np.zeros((0, 48))
                hand.beta = data.beta[side][rows]
            tracks.append(hand)
        return [hand for hand in tracks if len(hand.frames)]

    def _ego(self, capture: str, mode: str, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Rows of ``frames`` that have an Ego camera file, their (R, t), and which are truncated."""
        folder = self.data_root / capture / "Ego_cameras" / f"envmap_{mode}"
        ratios = read_json_optional(folder / "truncation_ratio.json") or {}
        rows, rotations, translations, truncated = [], [], [], []
        for i, frame in enumerate(frames):
            path = folder / "cam_params" / f"{frame:06d}.json"
            params = read_json_optional(path)
            if params is None:
                continue
            rows.append(i)
            rotations.append(as_array(params.get("R"), (3, 3), "R", path))
            translations.append(as_array(params.get("t"), (3,), "t", path))
            truncated.append(float(ratios.get(f"{frame:06d}", 1.0)) < self.min_truncation_ratio)
        return (np.array(rows, dtype=np.int64), np.array(rotations).reshape(-1, 3, 3),
                np.array(translations).reshape(-1, 3), np.array(truncated, dtype=bool))  # fmt: skip

    def split_meta(self, split: str) -> dict[str, Any]:
        mano = (mano_present("Re:InterHand mano_fits (smplx MANO, use_pca=False, flat_hand_mean=False)")
                if self.with_mano else mano_absent("not requested (with_mano=False)"))  # fmt: skip
        return {"annotations": str(self.data_root), "mano": mano, "source_root": str(self.root),
                "captures": self.captures(split)}  # fmt: skip


def _frame_list(path: Path) -> list[int]:
    """Frame indices from ``frame_list.txt`` (second whitespace-separated token of each non-empty line)."""
    if not path.is_file():
        raise HandpriorInputError("frame_list.txt not found", path)
    frames = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) < 2 or not tokens[1].lstrip("-").isdigit():
            raise HandpriorInputError(f"line {number}: expected '<name> <frame index>', found {line!r}", path)
        frames.append(int(tokens[1]))
    return sorted(set(frames))
