"""HanCo: ``meta.json``, ``xyz/<sid>/<fid>.json``, ``calib/<sid>/<fid>.json``, ``shape/<sid>/<fid>.json`` -> tracks.

Read as the official HanCo release lays the files out (docs/datasets.md, "HanCo"):

* ``meta.json``: per sequence, per frame lists (``is_train``, ``has_fit``, ...); frame count = list length;
* ``xyz/<sid:04d>/<fid:08d>.json``: 21 joints, world frame, **metres**, FreiHAND order (= canonical);
* ``calib/<sid:04d>/<fid:08d>.json``: ``K`` (8 x 3x3) and ``M`` (8 x 4x4 world -> camera) per frame;
* ``shape/<sid:04d>/<fid:08d>.json``: world-frame MANO fit ``poses [[48]]``, ``shapes [[10]]``
  (contra-hand manopth, ``use_pca=False, flat_hand_mean=False``). The per-camera ``shape/<sid>/cam<c>/``
  vectors are not used (their provenance is unclear, docs/datasets.md, "MANO ground truth").

A view is ``(sid, camera)`` with camera 0-7; right hands only. Split as the paper: the first
``train_sequences`` (1200) sequence ids are ``train``, the last ``test_sequences`` (317) are ``test``.

Per-joint validity: HanCo has none. ``xyz`` holds all 21 joints of every annotated frame, and ``meta.json``'s
``is_valid`` / ``has_fit`` concern the MANO fit of the whole frame, so the stores carry no ``valid.npy`` (every
joint valid); a frame with a non-finite joint is dropped (``invalid joints``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from handprior.data.prepare.files import as_array, read_json, read_json_optional
from handprior.data.prepare.geometry import theta_to_camera
from handprior.data.prepare.mano import mano_absent, mano_present, read_pose_shape
from handprior.data.prepare.predictions import KeyScheme
from handprior.data.prepare.report import (
    INVALID_JOINTS,
    INVALID_WRIST,
    NO_CAMERA,
    NO_GROUND_TRUTH,
    NO_MANO,
    SplitReport,
)
from handprior.data.prepare.sequences import Track
from handprior.errors import HandpriorInputError

SPLITS = ("train", "test")
NUM_CAMERAS = 8
_KEY = re.compile(r"(?:^|/)rgb(?:_[a-z_]+)?/(\d+)/cam(\d+)/(\d+)(?:\.\w+)?$")


def parse_key(key: str) -> tuple[Any, ...] | None:
    """``rgb*/<sid:04d>/cam<c>/<fid:08d>.jpg`` (any ``rgb_*`` variant) -> ``(sid, c, fid)``."""
    match = _KEY.search(key)
    return None if match is None else tuple(int(g) for g in match.groups())


def format_key(frame_id: tuple[Any, ...]) -> str:
    """Inverse of :func:`parse_key`, with the plain ``rgb/`` folder."""
    sid, camera, fid = frame_id
    return f"rgb/{sid:04d}/cam{camera}/{fid:08d}.jpg"


SCHEME = KeyScheme("hanco", parse_key, format_key, format_key((1300, 0, 0)), False)


@dataclass
class _Sequence:
    """Everything of one sequence id that all its camera views share."""

    world: np.ndarray  # (F,21,3) m, NaN where xyz is missing
    extrinsics: np.ndarray  # (F,8,4,4) world -> camera, NaN where calib is missing
    theta: np.ndarray  # (F,48) world-frame global orientation
    beta: np.ndarray  # (F,10)
    has_mano: np.ndarray  # (F,) bool


@dataclass
class HanCo:
    """Preparer for HanCo (see the module docstring)."""

    root: Path
    train_sequences: int = 1200
    test_sequences: int = 317
    cameras: list[int] | None = None  # restrict to these cameras (0-7); None: all eight
    with_mano: bool = True
    fps: float = 30.0
    dataset: str = "hanco"
    scheme: KeyScheme = SCHEME
    split_names: tuple[str, ...] = SPLITS
    _meta: dict[str, Any] | None = field(default=None, repr=False)
    _sequence: tuple[int, _Sequence] | None = field(default=None, repr=False)

    @property
    def meta(self) -> dict[str, Any]:
        if self._meta is None:
            path = self.root / "meta.json"
            meta = read_json(path, "HanCo meta.json")
            if not isinstance(meta, dict) or not isinstance(meta.get("is_train"), list):
                raise HandpriorInputError("expected per-sequence lists under 'is_train', 'has_fit', ...", path)
            self._meta = meta
        return self._meta

    def sequence_ids(self, split: str) -> list[int]:
        count = len(self.meta["is_train"])
        if split == "train":
            return list(range(min(self.train_sequences, count)))
        return list(range(max(count - self.test_sequences, 0), count))

    def missing_split(self, split: str) -> str | None:
        return None if self.sequence_ids(split) else "no sequence id falls in this split"

    def views(self, split: str) -> list[tuple[Any, ...]]:
        cameras = range(NUM_CAMERAS) if self.cameras is None else self.cameras
        return [(sid, int(c)) for sid in self.sequence_ids(split) for c in cameras]

    def _load(self, sid: int) -> _Sequence:
        if self._sequence is not None and self._sequence[0] == sid:
            return self._sequence[1]
        count = len(self.meta["is_train"][sid])
        has_fit = self.meta.get("has_fit", [[True] * count] * (sid + 1))[sid]
        world, extrinsics = np.full((count, 21, 3), np.nan), np.full((count, NUM_CAMERAS, 4, 4), np.nan)
        theta, beta, has_mano = np.zeros((count, 48)), np.zeros((count, 10)), np.zeros(count, dtype=bool)
        for fid in range(count):
            name = f"{sid:04d}/{fid:08d}.json"
            xyz = read_json_optional(self.root / "xyz" / name)
            if xyz is not None:
                world[fid] = as_array(xyz, (21, 3), "xyz", self.root / "xyz" / name)
            calib = read_json_optional(self.root / "calib" / name)
            if calib is not None:
                extrinsics[fid] = as_array(calib.get("M"), (NUM_CAMERAS, 4, 4), "calib M", self.root / "calib" / name)
            if self.with_mano and fid < len(has_fit) and has_fit[fid]:
                path = self.root / "shape" / name
                params = read_pose_shape(read_json_optional(path), path, "poses", "shapes")
                if params is not None:
                    theta[fid], beta[fid], has_mano[fid] = params[0], params[1], True
        loaded = _Sequence(world, extrinsics, theta, beta, has_mano)
        self._sequence = (sid, loaded)
        return loaded

    def tracks(self, split: str, view: tuple[Any, ...], report: SplitReport) -> list[Track]:
        sid, camera = view
        data = self._load(sid)
        rotation, translation = data.extrinsics[:, camera, :3, :3], data.extrinsics[:, camera, :3, 3]  # (F,3,3) (F,3)
        gt = 1000.0 * (np.einsum("fij,fkj->fki", rotation, data.world) + translation[:, None, :])  # (F,21,3) mm
        frames = np.arange(len(gt))
        hand = Track(f"{sid:04d}/cam{camera}", "right", view, frames, gt, np.full(len(gt), "", dtype=object))
        hand.drop(np.isnan(data.world).all(axis=(1, 2)), NO_GROUND_TRUTH)
        hand.drop(~np.isfinite(rotation).all(axis=(1, 2)) | ~np.isfinite(translation).all(axis=1), NO_CAMERA)
        hand.drop(~np.isfinite(data.world[:, 0]).all(axis=1), INVALID_WRIST)
        hand.drop(~np.isfinite(data.world).all(axis=(1, 2)), INVALID_JOINTS)
        if self.with_mano:
            hand.drop(~data.has_mano, NO_MANO)
            safe = np.where(np.isfinite(rotation), rotation, np.eye(3))  # (F,3,3); dropped frames get identity
            hand.theta, hand.beta = theta_to_camera(data.theta, safe), data.beta
        return [hand] if len(frames) else []

    def split_meta(self, split: str) -> dict[str, Any]:
        count = len(self.meta["is_train"])
        unused = count - len(self.sequence_ids("train")) - len(self.sequence_ids("test"))
        mano = (mano_present("HanCo shape/ world fits (contra-hand manopth, use_pca=False, flat_hand_mean=False)")
                if self.with_mano else mano_absent("not requested (with_mano=False)"))  # fmt: skip
        meta = {"annotations": str(self.root / "meta.json"), "mano": mano, "source_root": str(self.root),
                "sequence_ids": [self.sequence_ids(split)[0], self.sequence_ids(split)[-1]] if self.sequence_ids(split) else [],
                "fps_note": "HanCo's capture rate is not documented; fps is the value given to prepare"}  # fmt: skip
        if unused > 0:
            meta["unused_sequences"] = f"{unused} sequence ids lie in neither split ({count} in meta.json)"
        return meta
