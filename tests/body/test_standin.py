"""The stand-in MANO model: official keys and shapes, a closed hand mesh, real fingertip ids, sane skinning,
exact joint regression and meaningful shape directions."""

from __future__ import annotations

import numpy as np
import pytest

from handprior.body.joints import FINGERTIP_VERTEX_IDS_MANOPTH, FINGERTIP_VERTEX_IDS_SMPLX, MANO16_PARENTS
from handprior.body.meshing import boundary_edges, edge_use_counts
from handprior.body.safe_pickle import MANO_SHAPES, load_mano_file, validate_mano_model
from handprior.body.standin import build_standin, mirror_to_left, standin_model, write_standin
from handprior.body.standin_shape import DIGIT_JOINTS, INDEX, MIDDLE, PINKY, RING, SHAPE_NAMES, THUMB

DIGITS = (THUMB, INDEX, MIDDLE, RING, PINKY)  # the order of the fingertip id tuples


def _joints(model: dict[str, np.ndarray], beta: np.ndarray | None = None) -> np.ndarray:
    """Rest joints (16, 3) in mm for shape ``beta``."""
    verts = model["v_template"] + (0.0 if beta is None else model["shapedirs"] @ beta)
    return model["J_regressor"] @ verts * 1000.0


def test_keys_shapes_and_dtypes(standin: dict[str, np.ndarray]) -> None:
    assert set(standin) == set(MANO_SHAPES)
    model = validate_mano_model(standin, "stand-in")
    assert model["f"].shape == (1538, 3) and model["shapedirs"].shape == (778, 3, 10)
    assert standin["kintree_table"][0, 0] == 4294967295
    assert list(standin["kintree_table"][0, 1:]) == list(MANO16_PARENTS[1:])
    assert list(standin["kintree_table"][1]) == list(range(16))


def test_deterministic_and_cached(standin: dict[str, np.ndarray]) -> None:
    again = build_standin()
    assert all(np.array_equal(standin[k], again[k]) for k in standin)
    cached = standin_model()
    assert cached is standin_model() and not cached["v_template"].flags.writeable
    assert np.array_equal(cached["v_template"], standin["v_template"])


def test_mesh_is_closed_except_the_wrist_loop(standin: dict[str, np.ndarray]) -> None:
    faces, verts = standin["f"], standin["v_template"]
    assert set(np.unique(faces)) == set(range(778))
    assert edge_use_counts(faces).max() == 2
    border = boundary_edges(faces)
    assert len(border) == 16 and len(np.unique(border)) == 16  # one loop of 16, like MANO's wrist
    assert np.abs(verts[np.unique(border)].mean(axis=0)).max() < 1e-9  # centred on the wrist joint (origin)
    # Outward orientation: the volume enclosed with the planar wrist loop (through the origin) is positive.
    tri = verts[faces] * 1000.0  # (F, 3, 3) mm
    volume = np.einsum("fi,fi->f", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0
    assert 150e3 < volume < 500e3  # mm^3: a hand without forearm


def test_fingertip_ids_are_the_tips_of_their_digits(standin: dict[str, np.ndarray]) -> None:
    verts, weights = standin["v_template"] * 1000.0, standin["weights"]
    joints = _joints(standin)
    for digit, tip, near in zip(DIGITS, FINGERTIP_VERTEX_IDS_SMPLX, FINGERTIP_VERTEX_IDS_MANOPTH):
        chain = list(DIGIT_JOINTS[digit])
        on_digit = np.flatnonzero(weights[:, chain].sum(axis=1) > 0.5)
        direction = joints[chain[2]] - joints[chain[1]]
        projection = verts[on_digit] @ direction
        assert on_digit[np.argmax(projection)] == tip
        assert np.sum(projection >= verts[tip] @ direction - 1e-9) == 1  # the unique extreme vertex
        assert weights[tip, chain[2]] == 1.0 and weights[near, chain[2]] == 1.0
        assert 1.0 < np.linalg.norm(verts[near] - verts[tip]) < 6.0  # manopth's id: next to the tip


def test_skinning_weights_blend_smoothly(standin: dict[str, np.ndarray]) -> None:
    weights = standin["weights"]
    assert weights.min() >= 0.0 and np.allclose(weights.sum(axis=1), 1.0)
    for joint in range(1, 16):
        column = weights[:, joint]
        assert (column > 0.99).any()
        assert ((column > 0.15) & (column < 0.85)).sum() >= 4  # a blend zone, not a hard cut
    # No edge joins a vertex bound to one bone to a vertex bound to another (a hard cut in the skin).
    edges = standin["f"][:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)  # (3F, 2)
    bone = np.where(weights.max(axis=1) >= 0.95, weights.argmax(axis=1), -1)  # (778,) -1: blended
    a, b = bone[edges[:, 0]], bone[edges[:, 1]]
    assert not np.any((a >= 0) & (b >= 0) & (a != b))


def test_regressor_is_a_local_mean_reproducing_the_skeleton(standin: dict[str, np.ndarray]) -> None:
    reg = standin["J_regressor"]
    assert reg.min() >= 0.0 and np.allclose(reg.sum(axis=1), 1.0)
    joints = _joints(standin)
    assert np.abs(joints[0]).max() < 1e-6  # wrist at the origin
    assert 93.0 < np.linalg.norm(joints[4] - joints[0]) < 97.0  # wrist -> middle MCP
    for k in range(16):
        used = np.flatnonzero(reg[k])
        spread = np.linalg.norm(standin["v_template"][used] * 1000.0 - joints[k], axis=1).max()
        assert spread < 35.0  # vertices around the joint, not all over the hand
    # Bones point the right way: fingers along -x, the thumb out to +z, the palm facing -y.
    for digit in (INDEX, MIDDLE, RING, PINKY):
        base, mid, end = (joints[j] for j in DIGIT_JOINTS[digit])
        assert (mid - base)[0] < -15.0 and (end - mid)[0] < -10.0
    assert (joints[14] - joints[13])[2] > 15.0


def test_size_direction_is_monotonic_and_realistic(standin: dict[str, np.ndarray]) -> None:
    lengths = []
    for b in np.linspace(-3.0, 3.0, 13):
        beta = np.zeros(10)
        beta[0] = b
        joints = _joints(standin, beta)
        lengths.append(np.linalg.norm(joints[4] - joints[0]))
    assert np.all(np.diff(lengths) > 0)
    assert 78.0 < lengths[2] < 84.0 and 106.0 < lengths[10] < 112.0  # beta_0 = -2 / +2


def _bone(joints: np.ndarray, a: int, b: int) -> float:
    return float(np.linalg.norm(joints[a] - joints[b]))


MEASURES = {
    "palm_width": lambda j: _bone(j, 1, 7),  # index MCP - pinky MCP
    "palm_length": lambda j: _bone(j, 0, 4),
    "finger_length": lambda j: _bone(j, 4, 5) + _bone(j, 5, 6),
    "thumb_length": lambda j: _bone(j, 13, 14) + _bone(j, 14, 15),
    "pinky_length": lambda j: _bone(j, 7, 8) + _bone(j, 8, 9),
    "index_ring_ratio": lambda j: (_bone(j, 1, 2) + _bone(j, 2, 3)) / (_bone(j, 10, 11) + _bone(j, 11, 12)),
    "finger_spread": lambda j: _bone(j, 3, 9),  # index DIP - pinky DIP
}


@pytest.mark.parametrize("name", list(MEASURES))
def test_named_shape_directions_change_what_they_say(standin: dict[str, np.ndarray], name: str) -> None:
    beta = np.zeros(10)
    beta[SHAPE_NAMES.index(name)] = 1.0
    measure = MEASURES[name]
    low, mid, high = (measure(_joints(standin, s * beta)) for s in (-1.0, 0.0, 1.0))
    assert low < mid < high
    assert 0.02 < (high - low) / mid < 0.6  # a few per cent per standard deviation


def test_thickness_directions_move_vertices_not_joints(standin: dict[str, np.ndarray]) -> None:
    for name in ("finger_thickness", "hand_thickness"):
        direction = standin["shapedirs"][:, :, SHAPE_NAMES.index(name)]
        assert np.abs(direction).max() * 1000.0 > 0.5  # mm per unit beta somewhere
        joint_motion = standin["J_regressor"] @ direction
        assert np.abs(joint_motion).max() * 1000.0 < 0.5 + 0.3 * np.abs(direction).max() * 1000.0


def test_pose_correctives_are_small_and_local(standin: dict[str, np.ndarray]) -> None:
    posedirs = standin["posedirs"] * 1000.0  # mm per unit of (R - I)
    assert 0.5 < np.abs(posedirs).max() < 3.0
    assert np.abs(posedirs[list(FINGERTIP_VERTEX_IDS_SMPLX)]).max() == 0.0


def test_left_model_is_the_mirror(standin: dict[str, np.ndarray]) -> None:
    left = build_standin("left")
    assert np.allclose(left["v_template"][:, 0], -standin["v_template"][:, 0])
    assert np.allclose(left["shapedirs"][:, 0], -standin["shapedirs"][:, 0])
    assert np.array_equal(left["J_regressor"], standin["J_regressor"])
    assert np.allclose(mirror_to_left(standin)["hands_mean"], left["hands_mean"])
    with pytest.raises(ValueError, match="side"):
        build_standin("both")


def test_write_standin_round_trips_through_the_loader(tmp_path, standin: dict[str, np.ndarray]) -> None:
    path = write_standin(tmp_path / "MANO_RIGHT")
    assert path.name == "MANO_RIGHT.npz"
    loaded = load_mano_file(path)
    assert all(np.allclose(loaded[k], standin[k]) for k in standin)
