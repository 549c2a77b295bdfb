"""DexYCB (split s0): ``<subject>/<sequence>/{meta.yml, <serial>/labels_%06d.npz}`` -> hand tracks.

Read as the official DexYCB release lays the files out (docs/datasets.md, "DexYCB"):

* ``meta.yml`` (safe YAML, ``!!python/tuple`` allowed): ``serials`` (8 cameras), ``num_frames``,
  ``mano_sides[0]`` (one hand per sequence);
* ``<serial>/labels_%06d.npz``: ``joint_3d (1,21,3)`` in that camera's frame, **metres**, manopth order
  (= canonical); all -1 when the frame shows no hand. Only ``joint_3d`` is decompressed.

A view is ``(subject, sequence, serial)``. Split s0: per subject the sequence folders sorted by name are
indexed ``i``; ``train`` = ``i % 5 != 4``; ``val`` = subjects 0-1 with ``i % 5 == 4``; ``test`` = subjects
2-9 with ``i % 5 == 4`` (subjects are the ``*-subject-*`` folders sorted by name).

MANO ground truth: ``pose_m`` holds a camera-frame global orientation and 45 PCA coefficients of manopth's
``use_pca=True, flat_hand_mean=False`` layer. Turning them into axis-angle needs ``hands_components`` of the
licensed MANO model, so MANO ground truth is **omitted** unless ``mano_model`` points at it; then
``theta[3:] = coeffs @ hands_components`` (the ``flat_hand_mean=False`` convention the store uses) and ``beta``
comes from ``calibration/mano_<mano_calib>/mano.yml``. Left hands: DexYCB fitted them with manopth's left
model, and whether that had the ``shapedirs`` fix is not confirmed, so meta.json flags left-hand betas.

Per-joint validity: DexYCB has none. ``joint_3d`` is either all 21 joints or all -1 (no hand in the frame, the
whole frame dropped), so the stores carry no ``valid.npy`` (every joint valid).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from handprior.body.joints import SIDES
from handprior.data.prepare.files import as_array, read_npz_members, read_yaml
from handprior.data.prepare.mano import mano_absent, mano_present
from handprior.data.prepare.predictions import KeyScheme
from handprior.data.prepare.report import INVALID_JOINTS, NO_GROUND_TRUTH, SplitReport
from handprior.data.prepare.sequences import Track
from handprior.errors import HandpriorInputError

SPLITS = ("train", "val", "test")
NO_HAND = "no hand in frame (joint_3d = -1)"
MANO_OMITTED = ("DexYCB pose_m holds 45 PCA coefficients (manopth use_pca=True, flat_hand_mean=False); converting "
                "them to axis-angle needs hands_components of the licensed MANO model: pass mano_model to carry it")  # fmt: skip
LEFT_BETA_NOTE = ("left hands were fitted with manopth's left MANO model; whether it had the shapedirs fix is not "
                  "confirmed, so left-hand betas may differ slightly from the mirrored right-hand shape")  # fmt: skip
_KEY = re.compile(r"(?:^|/)([^/]+-subject-[^/]+)/([^/]+)/([^/]+)/(?:color|labels|aligned_depth_to_color)_(\d+)(?:\.\w+)?$")


def parse_key(key: str) -> tuple[Any, ...] | None:
    """``<subject>/<sequence>/<serial>/color_%06d.jpg`` -> ``(subject, sequence, serial, frame)``."""
    match = _KEY.search(key)
    if match is None:
        return None
    subject, sequence, serial, frame = match.groups()
    return subject, sequence, serial, int(frame)


def format_key(frame_id: tuple[Any, ...]) -> str:
    """Inverse of :func:`parse_key`: the colour image path relative to the dataset root."""
    subject, sequence, serial, frame = frame_id
    return f"{subject}/{sequence}/{serial}/color_{frame:06d}.jpg"


SCHEME = KeyScheme("dexycb", parse_key, format_key,
                   format_key(("20200709-subject-01", "20200709_141754", "836212060125", 0)), False)  # fmt: skip


def s0_split(subject_index: int, sequence_index: int) -> str:
    """The s0 split of the ``sequence_index``-th sequence (sorted) of the ``subject_index``-th subject."""
    if sequence_index % 5 != 4:
        return "train"
    return "val" if subject_index in (0, 1) else "test"


@dataclass
class DexYCB:
    """Preparer for DexYCB, split s0 (see the module docstring)."""

    root: Path
    cameras: list[str] | None = None  # restrict to these serials; None: all eight
    mano_model: Path | None = None  # official MANO folder/file: enables MANO ground truth (PCA -> axis-angle)
    fps: float = 30.0
    dataset: str = "dexycb"
    scheme: KeyScheme = SCHEME
    split_names: tuple[str, ...] = SPLITS
    _metas: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict, repr=False)
    _components: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def subjects(self) -> list[str]:
        found = sorted(p.name for p in self.root.iterdir() if p.is_dir() and "-subject-" in p.name) if self.root.is_dir() else []
        if not found:
            raise HandpriorInputError("no '<date>-subject-<nn>' folder found (docs/datasets.md, DexYCB)", self.root)
        return found

    def sequences(self, split: str) -> list[tuple[str, str]]:
        out = []
        for s, subject in enumerate(self.subjects()):
            names = sorted(p.name for p in (self.root / subject).iterdir() if p.is_dir())
            out += [(subject, name) for i, name in enumerate(names) if s0_split(s, i) == split]
        return out

    def sequence_meta(self, subject: str, sequence: str) -> dict[str, Any]:
        key = (subject, sequence)
        if key not in self._metas:
            path = self.root / subject / sequence / "meta.yml"
            meta = read_yaml(path)
            if not isinstance(meta, dict) or not all(k in meta for k in ("serials", "num_frames", "mano_sides")):
                raise HandpriorInputError("expected serials, num_frames and mano_sides", path)
            if meta["mano_sides"][0] not in SIDES:
                raise HandpriorInputError(f"mano_sides[0] must be right or left, found {meta['mano_sides'][0]!r}", path)
            self._metas[key] = meta
        return self._metas[key]

    def missing_split(self, split: str) -> str | None:
        return None if self.sequences(split) else "no sequence folder falls in this split"

    def views(self, split: str) -> list[tuple[Any, ...]]:
        views = []
        for subject, sequence in self.sequences(split):
            serials = [str(s) for s in self.sequence_meta(subject, sequence)["serials"]]
            views += [(subject, sequence, s) for s in serials if self.cameras is None or s in self.cameras]
        return views

    def hands_components(self, side: str) -> np.ndarray:
        """(45,45) PCA basis of the MANO model of ``side`` (loaded once, without executing pickle code)."""
        if side not in self._components:
            from handprior.body.mano import resolve_model_file
            from handprior.body.safe_pickle import load_mano_file

            assert self.mano_model is not None
            self._components[side] = load_mano_file(resolve_model_file(self.mano_model, side))["hands_components"]
        return self._components[side]

    def betas(self, calibration: str) -> np.ndarray:
        """(10,) shape of a subject from ``calibration/mano_<name>/mano.yml``."""
        path = self.root / "calibration" / f"mano_{calibration}" / "mano.yml"
        entry = read_yaml(path)
        return as_array(entry.get("betas") if isinstance(entry, dict) else None, (10,), "betas", path)

    def tracks(self, split: str, view: tuple[Any, ...], report: SplitReport) -> list[Track]:
        subject, sequence, serial = view
        meta = self.sequence_meta(subject, sequence)
        count = int(meta["num_frames"])
        gt = np.full((count, 21, 3), np.nan)  # (F,21,3) mm, camera frame
        pose = np.zeros((count, 48))  # (F,48) camera-frame orientation + 45 PCA coefficients
        missing = np.zeros(count, dtype=bool)
        members = ("joint_3d", "pose_m") if self.mano_model is not None else ("joint_3d",)
        for frame in range(count):
            labels = read_npz_members(self.root / subject / sequence / serial / f"labels_{frame:06d}.npz", members)
            if labels is None:
                missing[frame] = True
                continue
            joints = np.asarray(labels["joint_3d"], dtype=np.float64).reshape(-1, 21, 3)[0]
            gt[frame] = np.nan if np.all(joints == -1) else 1000.0 * joints
            if "pose_m" in labels:
                pose[frame] = np.asarray(labels["pose_m"], dtype=np.float64).reshape(-1, 51)[0, :48]
        side = str(meta["mano_sides"][0])
        hand = Track(f"{subject}/{sequence}/{serial}", side, view, np.arange(count), gt, np.full(count, "", dtype=object))
        hand.drop(missing, NO_GROUND_TRUTH)
        hand.drop(np.isnan(gt).all(axis=(1, 2)), NO_HAND)
        hand.drop(~np.isfinite(gt).all(axis=(1, 2)), INVALID_JOINTS)
        if self.mano_model is not None:
            theta = pose.copy()
            theta[:, 3:] = pose[:, 3:] @ self.hands_components(side)  # (F,45) axis-angle, hands_mean not added
            hand.theta = theta
            hand.beta = np.broadcast_to(self.betas(str(meta["mano_calib"][0])), (count, 10)).copy()
        return [hand] if count else []

    def split_meta(self, split: str) -> dict[str, Any]:
        if self.mano_model is None:
            mano = mano_absent(MANO_OMITTED)
        else:
            mano = mano_present(f"DexYCB pose_m (manopth PCA, 45 components of {self.mano_model}) and calibration betas")
            mano["left_hand_betas"] = LEFT_BETA_NOTE
        return {"annotations": str(self.root), "mano": mano, "source_root": str(self.root),
                "split_scheme": "s0", "subjects": self.subjects(),
                "fps_note": "cameras stream at 30 fps; synchronised frames drop slightly (about 25 fps, maintainers)"}  # fmt: skip
