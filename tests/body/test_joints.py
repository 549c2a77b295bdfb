"""Joint-order maps: permutations onto distinct joints, inverse maps, round trips, same skeleton."""

from __future__ import annotations

import numpy as np
import pytest

from handprior.body import joints as J

CANON_MAPS = {
    "mano21": (J.MANO21_TO_CANON, 21),
    "ih26m_right": (J.IH26M_TO_CANON_RIGHT, 42),
    "ih26m_left": (J.IH26M_TO_CANON_LEFT, 42),
    "reih_right": (J.REIH_TO_CANON_RIGHT, 48),
    "reih_left": (J.REIH_TO_CANON_LEFT, 48),
    "identity": (J.IDENTITY_21, 21),
}
MANO21_NAMES = J.MANO16_NAMES + tuple(f"{f}4" for f in J.FINGERS)  # 16 regressed joints, then the 5 tips


@pytest.mark.parametrize("name", CANON_MAPS)
def test_maps_pick_21_distinct_source_joints(name: str) -> None:
    index_map, source_size = CANON_MAPS[name]
    assert len(index_map) == J.NUM_JOINTS
    assert len(set(index_map)) == J.NUM_JOINTS
    assert min(index_map) >= 0 and max(index_map) < source_size


@pytest.mark.parametrize("name", CANON_MAPS)
def test_canonical_source_canonical_round_trip(name: str) -> None:
    index_map, source_size = CANON_MAPS[name]
    canon = np.random.default_rng(0).normal(size=(2, 21, 3))
    inverse = J.invert_index_map(index_map, source_size)
    source = np.full((2, source_size, 3), np.nan)
    source[:, index_map] = canon  # canonical -> source layout
    assert np.array_equal(J.to_canonical(source, index_map), canon)
    used = inverse >= 0
    assert used.sum() == 21
    assert np.array_equal(inverse[list(index_map)], np.arange(21))
    assert np.array_equal(np.asarray(index_map)[inverse[used]], np.flatnonzero(used))  # source -> canon -> source
    assert np.isnan(source[:, ~used]).all()  # positions the map leaves out get -1 and stay untouched


def test_mano21_map_names_match_canonical_names() -> None:
    assert tuple(MANO21_NAMES[m] for m in J.MANO21_TO_CANON) == J.JOINT_NAMES


def test_mano16_skeleton_is_the_canonical_skeleton() -> None:
    canon_of = J.invert_index_map(J.MANO21_TO_CANON)
    for child, parent in enumerate(J.MANO16_PARENTS):
        expected = -1 if parent < 0 else canon_of[parent]
        assert J.PARENTS[canon_of[child]] == expected
    assert len(J.MANO16_NAMES) == len(J.MANO16_PARENTS) == 16


def test_two_hand_layouts_split_by_side() -> None:
    assert set(J.IH26M_TO_CANON_RIGHT).isdisjoint(J.IH26M_TO_CANON_LEFT)
    assert set(J.REIH_TO_CANON_RIGHT).isdisjoint(J.REIH_TO_CANON_LEFT)
    assert J.IH26M_TO_CANON_RIGHT[0] == 20 and J.IH26M_TO_CANON_RIGHT[4] == 0  # wrist last, thumb tip first


def test_fingertip_constants() -> None:
    for ids in (J.FINGERTIP_VERTEX_IDS_SMPLX, J.FINGERTIP_VERTEX_IDS_MANOPTH):
        assert len(set(ids)) == 5 and all(0 <= i < 778 for i in ids)
    assert J.FINGERTIPS == (4, 8, 12, 16, 20)
    assert [J.JOINT_NAMES[t] for t in J.FINGERTIPS] == [f"{f}4" for f in J.FINGERS]


def test_mirror_x_is_an_involution() -> None:
    pts = np.random.default_rng(1).normal(size=(3, 21, 3))
    mirrored = J.mirror_x(pts)
    assert np.array_equal(mirrored[..., 1:], pts[..., 1:]) and np.array_equal(mirrored[..., 0], -pts[..., 0])
    assert np.array_equal(J.mirror_x(mirrored), pts)
