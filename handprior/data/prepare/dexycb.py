"""DexYCB (split s0): ``<subject>/<sequence>/{meta.yml, <serial>/labels_%06d.npz}`` -> hand tracks.

Read as documented in ``shared/datasets.md`` section 4:

* ``meta.yml`` (safe YAML, ``!!python/tuple`` allowed): ``serials`` (8 cameras), ``num_frames``,
  ``mano_sides[0]`` (one hand per sequence);
* ``<serial>/labels_%06d.npz``: ``joint_3d (1,21,3)`` in that camera's frame, **metres**, manopth order
  (= canonical); all -1 when the frame shows no hand. Only ``joint_3d`` is decompressed.

A view is ``(subject, sequence, serial)``. Split s0: per subject the sequence folders sorted by name are
indexed ``i``; ``train`` = ``i % 5 != 4``; ``val`` = subjects 0-1 with ``i % 5 == 4``; ``test`` = subjects
2-9 with ``i % 5 == 4`` (subjects are the ``*-subject-*`` folders sorted by name).

MANO ground truth is **omitted**: ``pose_m`` holds 45 PCA coefficients of manopth's ``use_pca=True,
flat_hand_mean=False`` layer; turning them into axis-angle needs ``hands_components`` from the licensed MANO
model file, which prepare does not read (meta.json says so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from handprior.data.prepare.files import read_npz_members, read_yaml
from handprior.data.prepare.mano import mano_absent
from handprior.data.prepare.predictions import KeyScheme
from handprior.data.prepare.report import INVALID_JOINTS, NO_GROUND_TRUTH, SplitReport
from handprior.data.prepare.sequences import SIDES, Track
from handprior.errors import HandpriorInputError

SPLITS = ("train", "val", "test")
NO_HAND = "no hand in frame (joint_3d = -1)"
MANO_OMITTED = ("DexYCB pose_m holds 45 PCA coefficients (manopth use_pca=True, flat_hand_mean=False); converting "
                "them to axis-angle needs hands_components of the licensed MANO model, so MANO ground truth is omitted")  # fmt: skip
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
    fps: float = 30.0
    dataset: str = "dexycb"
    scheme: KeyScheme = SCHEME
    split_names: tuple[str, ...] = SPLITS
    _metas: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict, repr=False)

    def subjects(self) -> list[str]:
        found = sorted(p.name for p in self.root.iterdir() if p.is_dir() and "-subject-" in p.name) if self.root.is_dir() else []
        if not found:
            raise HandpriorInputError("no '<date>-subject-<nn>' folder found (datasets.md section 4.2)", self.root)
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

    def views(self, split: str) -> list[tuple[Any, ...]]:
        views = []
        for subject, sequence in self.sequences(split):
            serials = [str(s) for s in self.sequence_meta(subject, sequence)["serials"]]
            views += [(subject, sequence, s) for s in serials if self.cameras is None or s in self.cameras]
        return views

    def tracks(self, split: str, view: tuple[Any, ...], report: SplitReport) -> list[Track]:
        subject, sequence, serial = view
        meta = self.sequence_meta(subject, sequence)
        count = int(meta["num_frames"])
        gt = np.full((count, 21, 3), np.nan)  # (F,21,3) mm, camera frame
        missing = np.zeros(count, dtype=bool)
        for frame in range(count):
            labels = read_npz_members(self.root / subject / sequence / serial / f"labels_{frame:06d}.npz", ("joint_3d",))
            if labels is None:
                missing[frame] = True
                continue
            joints = np.asarray(labels["joint_3d"], dtype=np.float64).reshape(-1, 21, 3)[0]
            gt[frame] = np.nan if np.all(joints == -1) else 1000.0 * joints
        side = str(meta["mano_sides"][0])
        hand = Track(f"{subject}/{sequence}/{serial}", side, view, np.arange(count), gt, np.full(count, "", dtype=object))
        hand.drop(missing, NO_GROUND_TRUTH)
        hand.drop(np.isnan(gt).all(axis=(1, 2)), NO_HAND)
        hand.drop(~np.isfinite(gt).all(axis=(1, 2)), INVALID_JOINTS)
        return [hand] if count else []

    def split_meta(self, split: str) -> dict[str, Any]:
        return {"annotations": str(self.root), "mano": mano_absent(MANO_OMITTED), "source_root": str(self.root),
                "split_scheme": "s0", "subjects": self.subjects(),
                "fps_note": "cameras stream at 30 fps; synchronised frames drop slightly (about 25 fps, maintainers)"}  # fmt: skip
