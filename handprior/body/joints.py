"""Joint orders of the framework and of the sources it reads, as index maps.

Every map ``M`` is a list such that ``canonical[k] = source[M[k]]`` (``docs/datasets.md`` names each source's order).
The framework's order (OpenPose hand order) is: wrist, then thumb, index, middle, ring, pinky, each from the
joint attached to the palm to the fingertip.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NUM_JOINTS = 21
SIDES = ("right", "left")  # a hand's side; left hands are mirrored (x -> -x) into right hands
WRIST = 0
MIDDLE_MCP = 9  # wrist -> middle MCP is the reference bone of the scale-aligned metrics

FINGERS = ("thumb", "index", "middle", "ring", "pinky")
JOINT_NAMES: tuple[str, ...] = ("wrist",) + tuple(f"{f}{i}" for f in FINGERS for i in range(1, 5))
FINGERTIPS: tuple[int, ...] = (4, 8, 12, 16, 20)

# Parent of each canonical joint (-1 for the wrist): every finger is a chain of four from the wrist.
PARENTS: tuple[int, ...] = (-1,) + tuple(0 if i % 4 == 1 else i - 1 for i in range(1, NUM_JOINTS))
BONES: tuple[tuple[int, int], ...] = tuple((p, c) for c, p in enumerate(PARENTS) if p >= 0)

# MANO's 16 regressed joints, in the kinematic order of the model file.
MANO16_NAMES: tuple[str, ...] = (
    "wrist",
    "index1", "index2", "index3",
    "middle1", "middle2", "middle3",
    "pinky1", "pinky2", "pinky3",
    "ring1", "ring2", "ring3",
    "thumb1", "thumb2", "thumb3",
)  # fmt: skip
MANO16_PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14)

# Fingertip vertex ids, in the order thumb, index, middle, ring, pinky. They differ between codebases.
FINGERTIP_VERTEX_IDS_SMPLX: tuple[int, ...] = (744, 320, 443, 554, 671)
FINGERTIP_VERTEX_IDS_MANOPTH: tuple[int, ...] = (745, 317, 444, 556, 673)
FINGERTIP_VERTEX_IDS = FINGERTIP_VERTEX_IDS_SMPLX  # the framework's choice (smplx, HaMeR)

# MANO-16 joints followed by the 5 fingertips (thumb, index, middle, ring, pinky) -> canonical.
MANO21_TO_CANON: tuple[int, ...] = (0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20)

# InterHand2.6M: 42 joints, right hand 0-20 then left 21-41; per hand tips first, wrist last.
IH26M_TO_CANON_RIGHT: tuple[int, ...] = (20, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 19, 18, 17, 16)
IH26M_TO_CANON_LEFT: tuple[int, ...] = tuple(m + 21 for m in IH26M_TO_CANON_RIGHT)

# Re:InterHand: 48 joints, right hand 0-23 then left 24-47 (Thumb_0, Pinky_0 and the forearm stub dropped).
REIH_TO_CANON_RIGHT: tuple[int, ...] = (0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19, 20, 21, 22)
REIH_TO_CANON_LEFT: tuple[int, ...] = tuple(m + 24 for m in REIH_TO_CANON_RIGHT)

# HanCo (FreiHAND order) and DexYCB (manopth order) are already canonical.
IDENTITY_21: tuple[int, ...] = tuple(range(NUM_JOINTS))


def invert_index_map(index_map: Sequence[int], source_size: int | None = None) -> np.ndarray:
    """Inverse of a permutation-like map: ``source[M[k]] = canonical[k]`` -> ``inv[M[k]] = k``.

    Source positions that the map does not use get -1 (e.g. the other hand of a two-hand layout).
    """
    index_map = np.asarray(index_map, dtype=np.int64)
    size = int(index_map.max()) + 1 if source_size is None else source_size
    inverse = np.full(size, -1, dtype=np.int64)
    inverse[index_map] = np.arange(len(index_map))
    return inverse


def to_canonical(joints: np.ndarray, index_map: Sequence[int]) -> np.ndarray:
    """Reorder joints ``(..., S, 3)`` of a source layout to the canonical ``(..., 21, 3)``."""
    return joints[..., list(index_map), :]


def mirror_x(joints: np.ndarray) -> np.ndarray:
    """Mirror left-hand joints ``(..., 3)`` to a right hand (x -> -x); it is its own inverse."""
    out = np.array(joints, copy=True)
    out[..., 0] = -out[..., 0]
    return out
