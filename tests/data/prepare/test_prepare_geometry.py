"""Round trips of the joint maps, world <-> camera transforms, MANO orientation changes and unit checks."""

import numpy as np
import pytest
from official_fixtures import _to_source, hand_template
from scipy.spatial.transform import Rotation

from handprior.body.joints import (
    IH26M_TO_CANON_LEFT,
    IH26M_TO_CANON_RIGHT,
    REIH_TO_CANON_LEFT,
    REIH_TO_CANON_RIGHT,
    invert_index_map,
    mirror_x,
    to_canonical,
)
from handprior.data.prepare.geometry import (
    camera_to_world,
    check_hand_size_mm,
    mirror_axis_angle,
    rotate_root_orientation,
    theta_to_camera,
    translation_from_centre,
    world_to_camera,
)
from handprior.errors import HandpriorInputError

RNG = np.random.default_rng(0)


@pytest.mark.parametrize(
    ("right", "left", "size"),
    [(IH26M_TO_CANON_RIGHT, IH26M_TO_CANON_LEFT, 42), (REIH_TO_CANON_RIGHT, REIH_TO_CANON_LEFT, 48)],
)
def test_two_hand_maps_round_trip(right, left, size):
    canonical = RNG.normal(size=(2, 5, 21, 3))
    source = _to_source(canonical[0], right, size)
    source = _to_source(canonical[1], left, size, source)  # (5,size,3)
    assert np.array_equal(to_canonical(source, right), canonical[0])
    assert np.array_equal(to_canonical(source, left), canonical[1])
    inverse = invert_index_map(right, size)
    used = inverse >= 0
    assert used.sum() == 21 and np.array_equal(np.asarray(right)[inverse[used]], np.flatnonzero(used))


def test_ih26m_map_puts_the_wrist_first_and_tips_last():
    # IH26M per hand: thumb tip..base (0-3), ..., wrist 20 (docs/datasets.md, "InterHand2.6M").
    assert IH26M_TO_CANON_RIGHT[0] == 20 and IH26M_TO_CANON_LEFT[0] == 41
    assert [IH26M_TO_CANON_RIGHT[k] for k in (4, 8, 12, 16, 20)] == [0, 4, 8, 12, 16]
    assert [REIH_TO_CANON_RIGHT[k] for k in (0, 1, 4, 17)] == [0, 2, 5, 19]


def test_world_camera_round_trip_and_centre_convention():
    rotation = Rotation.from_rotvec([0.3, -0.2, 0.9]).as_matrix()
    centre = np.array([-350.2, 120.5, 900.1])
    points = RNG.normal(0, 300, size=(4, 21, 3))
    t = translation_from_centre(rotation, centre)
    camera = world_to_camera(points, rotation, t)
    assert np.allclose(camera, (points - centre) @ rotation.T)  # X_cam = R (X - campos)
    assert np.allclose(camera_to_world(camera, rotation, t), points)
    assert np.allclose(world_to_camera(centre, rotation, t), 0)


def test_root_orientation_to_camera_composes_rotations():
    rotation = Rotation.from_rotvec([0.1, 0.5, -0.4]).as_matrix()
    theta = RNG.normal(0, 0.5, size=(6, 48))
    out = theta_to_camera(theta, rotation)
    expected = rotation @ Rotation.from_rotvec(theta[:, :3]).as_matrix()
    assert np.allclose(Rotation.from_rotvec(out[:, :3]).as_matrix(), expected)
    assert np.array_equal(out[:, 3:], theta[:, 3:])
    per_frame = np.stack([rotation] * 6)
    assert np.allclose(rotate_root_orientation(theta[:, :3], per_frame), out[:, :3])


def test_mirrored_axis_angle_is_the_reflected_rotation():
    mirror = np.diag([-1.0, 1.0, 1.0])
    pose = RNG.normal(0, 0.7, size=(5, 48))
    mirrored = mirror_axis_angle(pose).reshape(5, 16, 3)
    original = Rotation.from_rotvec(pose.reshape(-1, 3)).as_matrix()
    assert np.allclose(Rotation.from_rotvec(mirrored.reshape(-1, 3)).as_matrix(), mirror @ original @ mirror)
    assert np.allclose(mirror_axis_angle(mirror_axis_angle(pose)), pose)
    # A rotated left hand, mirrored, equals the mirrored hand rotated by the mirrored rotation.
    hand = mirror_x(hand_template())
    rotvec = RNG.normal(size=3)
    rotated = Rotation.from_rotvec(rotvec).apply(hand)
    assert np.allclose(mirror_x(rotated), Rotation.from_rotvec(mirror_axis_angle(rotvec)).apply(mirror_x(hand)))


def test_hand_size_check_tells_metres_and_centimetres_from_mm(tmp_path):
    hand = hand_template()[None].repeat(3, 0)  # (3,21,3) mm
    assert 80 < check_hand_size_mm(hand, "gt", tmp_path) < 110
    with pytest.raises(HandpriorInputError, match="metres"):
        check_hand_size_mm(hand / 1000, "gt", tmp_path / "x.json")
    with pytest.raises(HandpriorInputError, match="centimetres"):
        check_hand_size_mm(hand / 10, "gt", tmp_path)
    with pytest.raises(HandpriorInputError, match="x.json"):
        check_hand_size_mm(hand * 1000, "gt", tmp_path / "x.json")
