"""ManoLayer: shapes, units, canonical joints, fingertips, conventions, and switching to official files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from handprior.body.joints import (
    FINGERTIP_VERTEX_IDS_MANOPTH,
    FINGERTIP_VERTEX_IDS_SMPLX,
    FINGERTIPS,
    MIDDLE_MCP,
    WRIST,
    mirror_x,
)
from handprior.body.mano import ManoLayer, left_shapedirs_bug
from handprior.body.standin import build_standin, write_standin
from handprior.errors import HandpriorInputError


def _random_inputs(batch: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    theta = 0.4 * torch.randn(batch, 48, generator=gen)
    beta = torch.randn(batch, 10, generator=gen)
    transl = 100.0 * torch.randn(batch, 3, generator=gen)
    return theta, beta, transl


def test_shapes_units_and_attributes(layer: ManoLayer) -> None:
    theta, beta, transl = _random_inputs(3)
    verts, joints = layer(theta, beta, transl)
    assert verts.shape == (3, 778, 3) and joints.shape == (3, 21, 3)
    assert layer.num_verts == 778 and layer.faces.shape == (1538, 3) and layer.faces.dtype == torch.long
    _, rest = layer(torch.zeros(1, 48), torch.zeros(1, 10))
    assert 90.0 < float((rest[0, MIDDLE_MCP] - rest[0, WRIST]).norm()) < 100.0  # millimetres
    assert 170.0 < float((rest[0, 12] - rest[0, WRIST]).norm()) < 210.0  # wrist to middle fingertip


def test_fingertips_are_tip_vertices(layer: ManoLayer) -> None:
    theta, beta, transl = _random_inputs(2)
    verts, joints = layer(theta, beta, transl)
    assert torch.equal(joints[:, list(FINGERTIPS)], verts[:, list(FINGERTIP_VERTEX_IDS_SMPLX)])
    manopth = ManoLayer(fingertips="manopth")
    verts, joints = manopth(theta, beta, transl)
    assert torch.equal(joints[:, list(FINGERTIPS)], verts[:, list(FINGERTIP_VERTEX_IDS_MANOPTH)])
    with pytest.raises(ValueError, match="fingertips"):
        ManoLayer(fingertips="openpose")


def test_translation_places_the_wrist(layer: ManoLayer) -> None:
    theta, _, transl = _random_inputs(4)
    theta[:, 3:] = 0.0
    verts, joints = layer(theta, torch.zeros(4, 10), transl)
    assert torch.allclose(joints[:, WRIST], transl, atol=1e-3)  # the wrist is the origin of the mean shape
    plain_verts, plain_joints = layer(theta, torch.zeros(4, 10))
    assert torch.allclose(plain_joints + transl[:, None], joints, atol=1e-3)
    assert torch.allclose(plain_verts + transl[:, None], verts, atol=1e-3)


def test_joint_order_is_canonical(layer: ManoLayer) -> None:
    _, joints = layer(torch.zeros(1, 48), torch.zeros(1, 10))
    j = joints[0]
    for finger in range(5):
        chain = j[[0, 4 * finger + 1, 4 * finger + 2, 4 * finger + 3, 4 * finger + 4]]
        steps = (chain[1:] - chain[:-1]).norm(dim=1)
        assert (steps > 10.0).all()  # a chain from the wrist out to the tip, no repeated joint
        assert (chain[1:, 0] < chain[:-1, 0]).all()  # moving away from the wrist along -x
    assert j[4, 2] > j[8, 2] > j[12, 2] > j[16, 2] > j[20, 2]  # thumb..pinky from +z to -z


def test_flexion_about_z_curls_towards_the_palm(layer: ManoLayer) -> None:
    theta = torch.zeros(1, 48)
    theta[0, 3 * 1 + 2] = 1.0  # MANO joint 1 (index MCP), +z
    _, bent = layer(theta, torch.zeros(1, 10))
    _, flat = layer(torch.zeros(1, 48), torch.zeros(1, 10))
    assert bent[0, 8, 1] < flat[0, 8, 1] - 30.0  # the index tip moves to -y, the palm side
    assert torch.allclose(bent[0, 12:], flat[0, 12:])  # other fingers stay


def test_hand_mean_convention(layer: ManoLayer, standin) -> None:
    curled = ManoLayer(flat_hand_mean=False)
    _, flat = layer(torch.zeros(1, 48), torch.zeros(1, 10))
    _, relaxed = curled(torch.zeros(1, 48), torch.zeros(1, 10))
    assert (relaxed - flat).norm(dim=-1).max() > 10.0
    theta = torch.zeros(1, 48)
    theta[0, 3:] = -torch.as_tensor(standin["hands_mean"], dtype=torch.float32)
    _, undone = curled(theta, torch.zeros(1, 10))
    assert torch.allclose(undone, flat, atol=1e-3)


def test_rest_joints_match_the_unposed_forward(layer: ManoLayer) -> None:
    _, beta, _ = _random_inputs(5)
    _, joints = layer(torch.zeros(5, 48), beta)
    assert torch.allclose(layer.rest_joints(beta), joints, atol=1e-3)


def test_joint_regressor_gives_the_joints_of_a_mesh(layer: ManoLayer) -> None:
    theta, beta, transl = _random_inputs(6, seed=3)
    theta[:, 3:] = 0.0  # no finger pose: the mesh's regressed joints are the forward joints, order included
    verts, joints = layer(theta, beta, transl)
    regressor = layer.joint_regressor()  # (21, 778)
    assert regressor.shape == (21, layer.num_verts)
    assert torch.allclose(torch.einsum("jv,bvc->bjc", regressor, verts), joints, atol=1e-3)
    posed, posed_joints = layer(*_random_inputs(6, seed=4))
    regressed = torch.einsum("jv,bvc->bjc", regressor, posed)
    assert torch.allclose(regressed[:, FINGERTIPS], posed_joints[:, FINGERTIPS])  # the tips are mesh vertices
    assert (regressed - posed_joints).norm(dim=-1).max() < 2.0  # close, not equal, once the fingers bend


def test_batch_of_4096_frames(layer: ManoLayer) -> None:
    theta, beta, transl = _random_inputs(4096, seed=1)
    with torch.no_grad():
        verts, joints = layer(theta, beta, transl)
    assert verts.shape == (4096, 778, 3) and joints.shape == (4096, 21, 3)
    assert torch.isfinite(verts).all()
    _, one = layer(theta[:1], beta[:1], transl[:1])
    assert torch.allclose(one[0], joints[0], atol=1e-3)


def test_inputs_are_checked(layer: ManoLayer) -> None:
    with pytest.raises(ValueError, match="theta"):
        layer(torch.zeros(2, 45), torch.zeros(2, 10))
    with pytest.raises(ValueError, match="beta"):
        layer(torch.zeros(2, 48), torch.zeros(3, 10))
    _, broadcast = layer(torch.zeros(2, 48, dtype=torch.float64), torch.zeros(1, 10))
    assert broadcast.shape == (2, 21, 3) and broadcast.dtype == torch.float32


def test_model_data_stays_out_of_checkpoints(layer: ManoLayer) -> None:
    state = layer.state_dict()
    assert not any(k.endswith(("v_template", "shapedirs", "J_regressor", "posedirs")) for k in state)
    assert list(layer.parameters()) == []


def test_left_hand_mirrors_the_right(layer: ManoLayer) -> None:
    left = ManoLayer(side="left")
    theta, beta, _ = _random_inputs(3)
    _, right_joints = layer(theta, beta)
    mirrored_theta = (theta.view(3, 16, 3) * torch.tensor([1.0, -1.0, -1.0])).view(3, 48)
    _, left_joints = left(mirrored_theta, beta)
    assert np.allclose(mirror_x(right_joints.numpy()), left_joints.numpy(), atol=1e-3)


def test_official_pkl_in_a_folder_is_used_with_no_code_change(tmp_path: Path, standin, write_official_pkl) -> None:
    write_official_pkl(tmp_path / "MANO_RIGHT.pkl", standin)
    official = ManoLayer(model_path=str(tmp_path), flat_hand_mean=False)
    assert official.model_file == tmp_path / "MANO_RIGHT.pkl"
    builtin = ManoLayer(flat_hand_mean=False)
    theta, beta, transl = _random_inputs(4)
    for a, b in zip(official(theta, beta, transl), builtin(theta, beta, transl)):
        assert torch.allclose(a, b, atol=1e-3)
    assert torch.equal(official.faces, builtin.faces)


def test_npz_file_and_model_file_paths(tmp_path: Path, layer: ManoLayer) -> None:
    path = write_standin(tmp_path / "MANO_RIGHT.npz")
    theta, beta, _ = _random_inputs(2)
    for model_path in (str(tmp_path), str(path)):
        _, joints = ManoLayer(model_path=model_path)(theta, beta)
        assert torch.allclose(joints, layer(theta, beta)[1], atol=1e-3)
    with pytest.raises(HandpriorInputError, match="left-hand|right-hand"):
        ManoLayer(model_path=str(path), side="left")


def test_missing_model_says_where_it_looked_and_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(HandpriorInputError) as info:
        ManoLayer(model_path=str(tmp_path))
    message = str(info.value)
    assert str(tmp_path / "MANO_RIGHT.pkl") in message and str(tmp_path / "MANO_RIGHT.npz") in message
    assert "mano.is.tue.mpg.de" in message and "handprior mano convert" in message
    with pytest.raises(HandpriorInputError, match="not found"):
        ManoLayer(model_path=str(tmp_path / "MANO_RIGHT.pkl"))


def test_left_shapedirs_bug_is_fixed(tmp_path: Path, standin) -> None:
    good_left = build_standin("left")
    buggy_left = {**good_left, "shapedirs": good_left["shapedirs"].copy()}
    buggy_left["shapedirs"][:, 0, :] = standin["shapedirs"][:, 0, :]  # as in the official MANO_LEFT.pkl
    assert left_shapedirs_bug(buggy_left, standin) and not left_shapedirs_bug(good_left, standin)
    assert left_shapedirs_bug(buggy_left) and not left_shapedirs_bug(good_left)  # without the right model
    reference = ManoLayer(side="left")
    beta = torch.zeros(1, 10)
    beta[0, 0] = 2.0
    np.savez(tmp_path / "MANO_LEFT.npz", **good_left)
    assert not ManoLayer(model_path=str(tmp_path), side="left").left_shapedirs_fixed
    for folder, files in (("with_right", ("left", "right")), ("alone", ("left",))):
        (tmp_path / folder).mkdir()
        np.savez(tmp_path / folder / "MANO_LEFT.npz", **buggy_left)
        if "right" in files:
            np.savez(tmp_path / folder / "MANO_RIGHT.npz", **standin)
        fixed = ManoLayer(model_path=str(tmp_path / folder), side="left")
        assert fixed.left_shapedirs_fixed
        assert torch.allclose(fixed(torch.zeros(1, 48), beta)[0], reference(torch.zeros(1, 48), beta)[0], atol=1e-3)
