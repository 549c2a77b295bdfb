"""HaMeR / WiLoR track files through `handprior refine`: one shape per track, valid rotations, the MANO round
trip, the fit, and one clear line for bad files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from handprior.body.joints import FINGERTIP_VERTEX_IDS, FINGERTIPS, mirror_x
from handprior.body.mano import ManoLayer
from handprior.cli import main
from handprior.errors import HandpriorInputError
from handprior.inference.model import RefinementModel
from handprior.inference.refine import Refiner
from handprior.inference.tracks import (
    ROUND_TRIP_TOLERANCE_MM,
    MANOJoints,
    aggregate_beta,
    fit_pose,
    refine_tracks,
    round_trip_error,
    runs_of,
)
from handprior.inference.tracks_io import MIRROR, is_track_file, read_tracks
from handprior.models.filters.base import Identity

KEYS = ("frame", "track_id", "is_right", "global_orient", "hand_pose", "betas", "keypoints_3d", "cam_t")
LEFT_FRAMES = [f for f in range(35) if not 10 <= f <= 12]  # track 1 misses frames 10-12


def make_detections(seed: int = 0, noise_m: float = 0.002, flicker: float = 0.2) -> list[dict[str, Any]]:
    """HaMeR-like detections of two tracks posed by the stand-in MANO: track 0 a right hand in frames 0-29,
    track 1 a left hand in frames 0-34 but 10-12; per-frame shape flicker and keypoint noise; sorted by frame."""
    rng = np.random.default_rng(seed)
    layer = ManoLayer(flat_hand_mean=True)
    rows = []
    for track, right, frames in ((0, True, list(range(30))), (1, False, LEFT_FRAMES)):
        count = len(frames)
        time = np.array(frames, dtype=np.float64)[:, None]  # (N,1)
        theta = np.zeros((count, 48))
        theta[:, :3] = np.array([0.3, -0.2, 0.1]) + 0.05 * np.sin(time / 5)
        bent = rng.random(45) > 0.5  # (45,) the finger parameters that move
        theta[:, 3:] = 0.3 * np.sin(time / 7 + np.arange(45)) * bent + rng.normal(0, 0.03, (count, 45))
        betas = rng.normal(0, 0.5, (1, 10)) + rng.normal(0, flicker, (count, 10))  # (N,10)
        with torch.no_grad():
            verts, joints = layer(torch.tensor(theta).float(), torch.tensor(betas).float())
        joints, verts = joints.double().numpy() / 1000, verts.double().numpy() / 1000  # metres, MANO origin
        matrices = Rotation.from_rotvec(theta.reshape(-1, 3)).as_matrix().reshape(count, 16, 3, 3)
        cam_t = np.array([0.1 if right else -0.1, 0.0, 0.6]) + 0.003 * np.cumsum(rng.normal(0, 1, (count, 3)), axis=0)
        if not right:  # as HaMeR's demo shows a left hand: the mirror of the right model's
            matrices, joints, verts = MIRROR @ matrices @ MIRROR, mirror_x(joints), mirror_x(verts)
        for i, frame in enumerate(frames):
            rows.append({
                "frame": frame, "track_id": track, "is_right": right, "global_orient": matrices[i, :1],
                "hand_pose": matrices[i, 1:], "betas": betas[i], "cam_t": cam_t[i], "vertices": verts[i],
                "keypoints_3d": joints[i] + rng.normal(0, noise_m, (21, 3)),
            })  # fmt: skip
    return sorted(rows, key=lambda row: (row["frame"], row["track_id"]))


def write_npz(path: Path, rows: list[dict[str, Any]], **extra: np.ndarray) -> Path:
    arrays = {key: np.array([row[key] for row in rows]) for key in KEYS}
    arrays["global_orient"] = arrays["global_orient"].astype(np.float32)  # HaMeR's dtype
    np.savez(path, **{**arrays, "fps": np.array(30.0), **extra})
    return path


def write_json(path: Path, rows: list[dict[str, Any]]) -> Path:
    """The per-frame records a user dumps from the demo, one with no hand (frame 40), extra keys kept."""
    records: dict[int, dict[str, Any]] = {}
    for row in rows:
        hand = {key: (row[key].tolist() if isinstance(row[key], np.ndarray) else row[key]) for key in KEYS[1:]
                if key in row}  # fmt: skip
        hand["bbox"] = [1, 2, 3, 4]
        records.setdefault(row["frame"], {"frame": row["frame"], "image": f"{row['frame']:05d}.jpg", "hands": []})
        records[row["frame"]]["hands"].append(hand)
    records[40] = {"frame": 40, "image": "00040.jpg", "hands": []}
    path.write_text(json.dumps({"fps": 30, "frames": list(records.values())}))
    return path


def _refine(checkpoint: Path, *args: str) -> None:
    main(["refine", "--ckpt", str(checkpoint), "--device", "cpu", "--quiet", "true", *args])


def _check_output(tracks_in, tracks_out, rows_in: list[dict[str, Any]]) -> None:
    """One beta per track, valid rotations, the input's rows, the round trip."""
    assert tracks_out.num_detections == tracks_in.num_detections == len(rows_in)
    np.testing.assert_array_equal(tracks_out.frame, tracks_in.frame)
    assert tracks_out.track_id == tracks_in.track_id
    np.testing.assert_array_equal(tracks_out.is_right, tracks_in.is_right)
    for _, rows in tracks_out.tracks():
        np.testing.assert_array_equal(tracks_out.betas[rows], tracks_out.betas[rows[:1]].repeat(len(rows), 0))
        assert (tracks_out.betas[rows].max(axis=0) - tracks_out.betas[rows].min(axis=0)).max() == 0  # zero spread
        assert not np.allclose(tracks_in.betas[rows].var(axis=0), 0)  # while the input's flickered
    matrices = np.concatenate([tracks_out.global_orient[:, None], tracks_out.hand_pose], axis=1).reshape(-1, 3, 3)
    np.testing.assert_allclose(np.swapaxes(matrices, 1, 2) @ matrices, np.broadcast_to(np.eye(3), matrices.shape),
                               atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(np.linalg.det(matrices), 1.0, atol=1e-6)
    assert round_trip_error(tracks_out, ManoLayer(), "m").max() < ROUND_TRIP_TOLERANCE_MM


def test_npz_two_tracks_through_refine(tmp_path: Path, checkpoint: Path, capsys) -> None:
    rows = make_detections()
    source = write_npz(tmp_path / "hamer.npz", rows, keypoints_2d=np.zeros((len(rows), 21, 2)))
    assert is_track_file(source)
    _refine(checkpoint, "--input", str(source), "--output", str(tmp_path / "out.npz"), "--mano", "true")
    out = capsys.readouterr().out
    assert "track 0 (right): 30 detections in 1 run" in out
    assert "track 1 (left): 32 detections in 2 runs" in out and "rotations given as rotation matrices" in out
    assert "one shape per track (median of the network's betas)" in out and "round trip" in out
    tracks_in, tracks_out = read_tracks(source), read_tracks(tmp_path / "out.npz")
    _check_output(tracks_in, tracks_out, rows)
    assert round_trip_error(tracks_in, ManoLayer(), "m").max() > 1.0  # the check fails on the noisy input
    with np.load(tmp_path / "out.npz", allow_pickle=False) as saved:
        assert set(saved.files) >= {*KEYS, "fps", "keypoints_2d", "refined_joints", "fit_error", "vertices"}
        assert saved["global_orient"].shape == (62, 1, 3, 3) and saved["global_orient"].dtype == np.float32
        assert saved["hand_pose"].shape == (62, 15, 3, 3) and saved["vertices"].shape == (62, 778, 3)
        np.testing.assert_array_equal(saved["keypoints_2d"], 0)  # copied through
        # the refined joints sit where the MANO joints do, up to the stated fit error
        gap = np.linalg.norm(saved["refined_joints"] - saved["keypoints_3d"], axis=-1).mean(axis=1)
        np.testing.assert_allclose(gap, saved["fit_error"], rtol=1e-4, atol=1e-7)
        # the mesh is the one of the written parameters, both sides: its fingertip vertices are the fingertips
        tips = saved["vertices"][:, list(FINGERTIP_VERTEX_IDS)]  # (D,5,3)
        np.testing.assert_allclose(tips, saved["keypoints_3d"][:, list(FINGERTIPS)], atol=1e-6)


def test_json_two_tracks_keeps_the_layout(tmp_path: Path, checkpoint: Path, capsys) -> None:
    rows = make_detections(seed=1)
    source = write_json(tmp_path / "hamer.json", rows)
    assert is_track_file(source)
    _refine(checkpoint, "--input", str(source), "--output", str(tmp_path / "out.json"), "--beta", "mean",
            "--interpolate_gaps", "3")  # fmt: skip
    out = capsys.readouterr().out
    assert "track 1 (left): 32 detections in 1 run, 3 missing frames filled" in out and "mean of the network" in out
    document = json.loads((tmp_path / "out.json").read_text())
    assert document["fps"] == 30 and [r["frame"] for r in document["frames"]][-1] == 40
    assert document["frames"][-1]["hands"] == [] and document["frames"][0]["image"] == "00000.jpg"
    hand = document["frames"][0]["hands"][0]
    assert hand["bbox"] == [1, 2, 3, 4] and np.array(hand["global_orient"]).shape == (1, 3, 3)
    assert "vertices" not in hand and np.array(hand["refined_joints"]).shape == (21, 3)
    _check_output(read_tracks(source), read_tracks(tmp_path / "out.json"), rows)


def test_axis_angle_in_axis_angle_out(tmp_path: Path, checkpoint: Path, capsys) -> None:
    rows = make_detections(seed=2)
    for row in rows:  # WiLoR-mini's form: (1,3) and (15,3)
        row["global_orient"] = Rotation.from_matrix(row["global_orient"]).as_rotvec()
        row["hand_pose"] = Rotation.from_matrix(row["hand_pose"]).as_rotvec()
    source = write_npz(tmp_path / "wilor.npz", rows)
    _refine(checkpoint, "--input", str(source), "--output", str(tmp_path / "out.npz"), "--beta_source", "input")
    assert "rotations given as axis-angle" in capsys.readouterr().out
    with np.load(tmp_path / "out.npz") as saved:
        assert saved["global_orient"].shape == (62, 1, 3) and saved["hand_pose"].shape == (62, 15, 3)
    tracks_in, tracks_out = read_tracks(source), read_tracks(tmp_path / "out.npz")
    _check_output(tracks_in, tracks_out, rows)
    for _, rows_of_track in tracks_out.tracks():  # the track's shape is the median of the estimator's
        np.testing.assert_allclose(tracks_out.betas[rows_of_track[0]], np.median(tracks_in.betas[rows_of_track], 0),
                                   atol=1e-6)  # fmt: skip


def test_identity_refiner_recovers_the_hand(tmp_path: Path) -> None:
    """With the unrefined joints as target, the estimator's shape and pose, and a constant shape per track,
    the fit reproduces the input hands: output joints within 0.1 mm of the input's, parameters the input's."""
    rows = make_detections(seed=3, noise_m=0.0, flicker=0.0)
    tracks = read_tracks(write_npz(tmp_path / "exact.npz", rows))
    refiner = Refiner(RefinementModel(Identity()))
    values, reports = refine_tracks(tracks, refiner, "m", beta_source="input", pose_prior="input")
    assert max(report.fit_max_mm for report in reports) < 0.1
    camera_out = values["keypoints_3d"] + values["cam_t"][:, None]
    assert np.abs(camera_out - tracks.camera_joints()).max() * 1000 < 0.1
    np.testing.assert_allclose(values["betas"], tracks.betas, atol=1e-6)
    np.testing.assert_allclose(values["hand_pose"], tracks.hand_pose, atol=1e-3)
    with pytest.raises(HandpriorInputError, match="predicts no MANO pose or shape"):
        refine_tracks(tracks, refiner, "m")  # beta from the network, which has none


def test_fit_pose_converges_from_a_perturbed_start() -> None:
    layer = ManoLayer(flat_hand_mean=True)
    rng = np.random.default_rng(0)
    theta = torch.tensor(rng.normal(0, 0.3, (8, 48))).float()
    beta = torch.tensor(rng.normal(0, 0.5, (8, 10))).float()
    with torch.no_grad():
        _, target = layer(theta, beta)
    target = target + torch.tensor([10.0, -20.0, 500.0])  # a camera-frame translation
    start = theta + torch.tensor(rng.normal(0, 0.1, (8, 48))).float()
    fitted, transl = fit_pose(layer, target, beta, start, prior_weight=0.0)
    with torch.no_grad():
        _, joints = layer(fitted, beta)
    assert (joints + transl[:, None] - target).norm(dim=-1).max() < 0.5  # mm; the start is ~10 mm off
    _, start_joints = layer(start, beta)
    assert (start_joints - target).norm(dim=-1).mean() > 5


def test_joints_only_forward_matches_the_layer() -> None:
    layer = ManoLayer(flat_hand_mean=True)
    theta, beta = torch.randn(5, 48) * 0.5, torch.randn(5, 10)
    _, joints = layer(theta, beta)
    np.testing.assert_allclose(MANOJoints(layer, beta)(theta).numpy(), joints.numpy(), atol=1e-3)


def test_beta_aggregates_and_runs() -> None:
    beta = np.array([[0.0, 1.0], [0.1, 1.0], [9.0, 1.0]])
    np.testing.assert_allclose(aggregate_beta(beta, "median"), [0.1, 1.0])
    np.testing.assert_allclose(aggregate_beta(beta, "mean"), [3.0333333, 1.0])
    frames = np.array([0, 1, 2, 5, 6, 10])
    assert runs_of(frames, 0) == [(0, 3), (3, 5), (5, 6)]
    assert runs_of(frames, 2) == [(0, 5), (5, 6)] and runs_of(frames, 3) == [(0, 6)]


@pytest.mark.skipif(not os.environ.get("HANDPRIOR_MANO_MODEL"), reason="set HANDPRIOR_MANO_MODEL to the official MANO")
def test_round_trip_with_the_official_mano(tmp_path: Path, checkpoint: Path, capsys) -> None:
    model = os.environ["HANDPRIOR_MANO_MODEL"]
    source = write_npz(tmp_path / "hamer.npz", make_detections())
    _refine(checkpoint, "--input", str(source), "--output", str(tmp_path / "out.npz"), "--mano_model", model)
    assert "round trip" in capsys.readouterr().out
    layer = ManoLayer(model_path=model, flat_hand_mean=True)
    assert round_trip_error(read_tracks(tmp_path / "out.npz"), layer, "m").max() < ROUND_TRIP_TOLERANCE_MM


def _bad_side(rows: list[dict[str, Any]]) -> None:
    next(row for row in rows if row["track_id"] == 0 and row["frame"] == 7)["is_right"] = False


def _reflection(rows: list[dict[str, Any]]) -> None:
    rows[3]["hand_pose"] = rows[3]["hand_pose"].copy()
    rows[3]["hand_pose"][2] = rows[3]["hand_pose"][2] @ MIRROR  # det -1


def _scaled(rows: list[dict[str, Any]]) -> None:
    rows[5]["global_orient"] = rows[5]["global_orient"] * 1.1


def _repeat(rows: list[dict[str, Any]]) -> None:
    rows.append(dict(rows[0]))


@pytest.mark.parametrize(
    "change, drop, message",
    [
        (_bad_side, None, "track 0 changes side at frame 7 (right before, left there)"),
        (_reflection, None, "'hand_pose' of detection 3 (joint 2) is not a rotation matrix"),
        (_scaled, None, "'global_orient' of detection 5 is not a rotation matrix"),
        (_repeat, None, "track 0 has two detections in frame 0"),
        (None, "cam_t", "missing keys ['cam_t']"),
    ],
)
@pytest.mark.parametrize("kind", ["npz", "json"])
def test_bad_track_files_are_one_line(tmp_path: Path, checkpoint: Path, capsys, kind, change, drop, message) -> None:
    rows = make_detections()
    if change is not None:
        change(rows)
    if drop is not None:
        for row in rows:
            row.pop(drop)
    path = tmp_path / f"bad.{kind}"
    if kind == "npz":
        np.savez(path, **{key: np.array([row[key] for row in rows]) for key in KEYS if key != drop})
    else:
        write_json(path, rows)
    if kind == "json" and drop is not None:
        message = f"is missing keys ['{drop}']"
    with pytest.raises(SystemExit) as info:
        _refine(checkpoint, "--input", str(path), "--output", str(tmp_path / f"out.{kind}"))
    err = capsys.readouterr().err
    assert info.value.code == 2 and message in err and str(path) in err and "Traceback" not in err
    assert err.startswith("handprior: error: ") and err.count("\n") == 1


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"betas": np.zeros((62, 11))}, "'betas' has shape (11,) per hand; expected (10,)"),
        ({"keypoints_3d": np.zeros((61, 21, 3))}, "'keypoints_3d' has 61 entries, but 'frame' has 62 detections"),
        ({"hand_pose": np.zeros((62, 15, 3))}, "mix rotation matrices and axis-angle"),
        ({"frame": np.full(62, -1)}, "'frame' holds a negative index"),
        ({"track_id": np.zeros(62, dtype=complex)}, "'track_id' must hold integers or strings"),
    ],
)
def test_bad_npz_shapes(tmp_path: Path, arrays: dict[str, np.ndarray], message: str) -> None:
    path = write_npz(tmp_path / "bad.npz", make_detections())
    with np.load(path) as data:
        content = {**dict(data), **arrays}
    np.savez(path, **content)
    with pytest.raises(HandpriorInputError) as info:
        read_tracks(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_output_keeps_the_input_format(tmp_path: Path, checkpoint: Path, capsys) -> None:
    source = write_npz(tmp_path / "hamer.npz", make_detections())
    with pytest.raises(SystemExit):
        _refine(checkpoint, "--input", str(source), "--output", str(tmp_path / "out.json"))
    assert "written in its input's format (.npz)" in capsys.readouterr().err


def test_plain_joint_files_are_not_track_files(tmp_path: Path, hand) -> None:
    np.savez(tmp_path / "plain.npz", pred=hand(30))
    (tmp_path / "plain.json").write_text(json.dumps(hand(30).tolist()))
    assert not is_track_file(tmp_path / "plain.npz") and not is_track_file(tmp_path / "plain.json")
