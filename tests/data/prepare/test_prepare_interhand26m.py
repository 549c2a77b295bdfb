"""InterHand2.6M fixture (official JSON layout) -> stores: counts, drops, camera frame, mirroring, predictions."""

import json
import shutil

import numpy as np
import pytest
from official_fixtures import write_interhand26m

from handprior.body.joints import mirror_x
from handprior.data.prepare.commands import prepare_interhand26m
from handprior.data.prepare.geometry import mirror_axis_angle
from handprior.data.prepare.interhand26m import format_key, parse_key
from handprior.data.prepare.predictions import write_predictions
from handprior.data.prepare.sequences import fill_invalid
from handprior.data.store import SequenceStore
from handprior.errors import HandpriorInputError


@pytest.fixture(scope="module")
def ih26m(tmp_path_factory):
    root = tmp_path_factory.mktemp("ih26m")
    expected = write_interhand26m(root)
    prepare_interhand26m(root=str(root), out=str(root / "out"), progress=False)
    return root, expected


def _expected_sequence(expected, name, first, length, split="test"):
    """Ground truth, theta, beta and validity the store should hold for a stored sequence (mirrored for left
    hands); the ground truth of invalid joints is the fixture's true value, which the store does not know."""
    _, capture, seq_name, camera, side = name.split("@")[0].split("/")
    entry = expected[(split, seq_name, camera[3:], side)]
    frames = [f for f in entry["frames"] if f >= first][:length]  # a stored sequence is a run of consecutive frames
    rows = [entry["frames"].index(f) for f in frames]
    gt, theta = entry["gt"][rows], entry["theta"][rows]
    if side == "left":
        gt, theta = mirror_x(gt), mirror_axis_angle(theta)
    return gt, theta, entry["beta"][rows], entry["valid"][rows]


def test_store_counts_drops_and_layout(ih26m):
    root, _ = ih26m
    assert sorted(p.name for p in (root / "out").iterdir()) == ["prepare.json", "test", "train", "val"]
    test = SequenceStore.open(root / "out" / "test")
    assert test.num_sequences == 5 and test.num_frames == 18 and test.has_mano
    meta = test.meta
    # Partly valid hands are kept (their invalid joints masked); a hand without a valid wrist is dropped.
    assert meta["prepare"]["dropped"] == {"invalid wrist": 1, "no MANO fit": 3, "no ground truth": 2}
    # right 1002 (middle MCP) and 1005 (index tip) in both views; left 1004 (thumb and pinky tips)
    assert meta["prepare"]["masked"] == {"joint marked invalid": {"frames": 5, "joints": 6}}
    assert meta["sides"] == ["right", "left", "left", "left", "right"]
    assert meta["names"][0] == "test/Capture0/0266_dh_pray/cam400030/right"
    assert meta["first_frames"] == [1000, 1000, 1002, 1004, 1000] and test.lengths.tolist() == [7, 1, 1, 3, 6]
    assert test.valid is not None and test.valid.shape == (18, 21) and int((~test.valid).sum()) == 6
    assert SequenceStore.open(root / "out" / "val").valid[3:5, 8].tolist() == [False, False]  # the flat form
    assert meta["predictions"]["simulated"] and meta["estimator"] == "simulated:interwild"
    assert meta["mano"]["available"] and meta["mano"]["flat_hand_mean"] is False and meta["fps"] == 30.0
    assert SequenceStore.open(root / "out" / "val").meta["sides"] == ["left"]
    assert SequenceStore.open(root / "out" / "train").lengths.tolist() == [40, 40]
    assert json.loads((root / "out" / "prepare.json").read_text())["splits"]["test"]["frames"] == 18


def test_ground_truth_is_camera_frame_and_left_hands_are_mirrored(ih26m):
    root, expected = ih26m
    test = SequenceStore.open(root / "out" / "test")
    for s, name in enumerate(test.meta["names"]):
        rows = test.sequence(s)
        gt, theta, beta, valid = _expected_sequence(expected, name, test.meta["first_frames"][s], rows.stop - rows.start)
        assert np.array_equal(test.valid[rows], valid), name
        assert np.allclose(test.gt[rows][valid], gt[valid], atol=1e-3), name
        # An invalid joint holds the placeholder (never the file's [1, 1, 1]): its nearest valid wrist-relative value.
        assert np.allclose(test.gt[rows], fill_invalid(gt, valid), atol=1e-3), name
        assert np.allclose(test.gt_theta[rows], theta, atol=1e-5), name
        assert np.allclose(test.gt_beta[rows], beta, atol=1e-5), name
    # Simulated predictions stay close to the ground truth (mm, same frame).
    error = np.linalg.norm(np.asarray(test.pred) - np.asarray(test.gt), axis=-1).mean()
    assert 1 < error < 60


def test_min_length_drops_short_sequences(ih26m, tmp_path):
    root, _ = ih26m
    summary = prepare_interhand26m(root=str(root), out=str(tmp_path), split="test", min_length=2, progress=False)
    assert summary["splits"]["test"]["sequences"] == 3 and summary["splits"]["test"]["frames"] == 16
    assert summary["splits"]["test"]["dropped"]["sequence shorter than min_length"] == 2
    # masks are counted on the stored frames only: left 1004 stays (in a 3-frame sequence), nothing else went
    assert summary["splits"]["test"]["masked"] == {"joint marked invalid": {"frames": 5, "joints": 6}}


def _predictions(expected, path, units="m", hands=True, key=format_key):
    """Predictions for every test-split frame of the fixture, ground truth + 5 mm, with three defects."""
    keys, sides, joints = [], [], []
    for (split, seq_name, camera, side), entry in expected.items():
        for f, joint in zip(entry["frames"], entry["gt"]):
            if split == "test" and (camera, f, side) != ("400030", 1002, "right"):  # one missing prediction
                keys.append(key(("test", 0, seq_name, camera, f)))
                sides.append(side)
                joints.append(joint + 5.0)
    joints = np.array(joints)
    nan_key = key(("test", 0, "0266_dh_pray", "400030", 1000))
    joints[[i for i, (k, s) in enumerate(zip(keys, sides)) if (k, s) == (nan_key, "left")]] = np.nan  # left, frame 1000
    keys.append(format_key(("test", 0, "0266_dh_pray", "400030", 5000)))  # not annotated
    sides.append("right")
    joints = np.concatenate([joints, joints[:1]])
    scale = 1000.0 if units == "m" else 1.0
    return write_predictions(path, keys, joints / scale, units, sides if hands else None, source="unit-test")


def test_predictions_are_joined_by_image_path_and_counted(ih26m, tmp_path):
    root, expected = ih26m
    path = _predictions(expected, tmp_path / "pred.npz")
    summary = prepare_interhand26m(root=str(root), out=str(tmp_path / "out"), predictions=str(path), progress=False)
    assert set(summary["skipped_splits"]) == {"train", "val"}  # predictions cover only the test split
    # Unmatched: the unknown frame 5000 and the six left hands of view cam400031, whose images show only the
    # right hand (an estimator like InterWild predicts both hands anyway).
    assert summary["predictions"] == {"total": 30, "matched_kept_frames": 16, "matched_dropped_frames": 7, "unmatched": 7}
    test = SequenceStore.open(tmp_path / "out" / "test")
    dropped = test.meta["prepare"]["dropped"]
    assert dropped["no prediction"] == 1 and dropped["prediction not finite"] == 1
    assert test.num_sequences == 5 and test.num_frames == 16
    assert test.meta["estimator"] == "unit-test" and not test.meta["predictions"]["simulated"]
    for s, name in enumerate(test.meta["names"]):
        rows = test.sequence(s)
        gt, _, _, _ = _expected_sequence(expected, name, test.meta["first_frames"][s], rows.stop - rows.start)
        offset = np.array([-5.0, 5.0, 5.0]) if test.meta["sides"][s] == "left" else 5.0
        assert np.allclose(test.pred[rows], gt + offset, atol=1e-2), name


def test_absolute_paths_and_relative_keys_parse_the_same():
    frame_id = ("test", 0, "0266_dh_pray", "400030", 1000)
    assert parse_key(format_key(frame_id)) == frame_id
    assert parse_key("/data/InterHand2.6M/images/" + format_key(frame_id)[7:]) == frame_id
    assert parse_key("Capture0/0266_dh_pray/cam400030/image1000.jpg") is None  # split unknown


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"units": "mm"}, "metres"),  # values in metres declared as mm
        ({"hands": False}, "'hands'"),
        ({"key": lambda fid: format_key(("test", 9, *fid[2:]))}, "none of the"),  # another capture
        ({"key": lambda fid: f"frame_{fid[-1]}.jpg"}, "not interhand26m frame identifiers"),
    ],
)
def test_bad_predictions_raise_clear_errors(ih26m, tmp_path, kwargs, message):
    root, expected = ih26m
    units = kwargs.pop("units", "m")
    path = _predictions(expected, tmp_path / "pred.npz", **kwargs)
    if units == "mm":
        data = dict(np.load(path))
        data["units"] = np.asarray("mm")
        np.savez(path, **data)
    with pytest.raises(HandpriorInputError, match=message) as error:
        prepare_interhand26m(root=str(root), out=str(tmp_path / "out"), predictions=str(path), progress=False)
    assert "pred.npz" in str(error.value)


def test_duplicate_predictions_and_explicit_empty_split_raise(ih26m, tmp_path):
    root, expected = ih26m
    path = _predictions(expected, tmp_path / "pred.npz")
    data = dict(np.load(path))
    np.savez(tmp_path / "dup.npz", **{**data, "keys": np.concatenate([data["keys"], data["keys"][:1]]),
                                      "hands": np.concatenate([data["hands"], data["hands"][:1]]),
                                      "joints": np.concatenate([data["joints"], data["joints"][:1]])})  # fmt: skip
    with pytest.raises(HandpriorInputError, match="duplicate"):
        prepare_interhand26m(root=str(root), out=str(tmp_path / "o"), predictions=str(tmp_path / "dup.npz"), progress=False)
    with pytest.raises(HandpriorInputError, match="none of the 30 predictions matches"):
        prepare_interhand26m(root=str(root), out=str(tmp_path / "o"), predictions=str(path), split="train", progress=False)
    np.savez(tmp_path / "nan.npz", **{**data, "joints": np.full_like(data["joints"], np.nan)})
    with pytest.raises(HandpriorInputError, match=r"split 'test': no frame kept .*'prediction not finite': 17"):
        prepare_interhand26m(root=str(root), out=str(tmp_path / "o"), predictions=str(tmp_path / "nan.npz"),
                             split="test", progress=False)  # fmt: skip
    with pytest.raises(HandpriorInputError, match="has splits"):
        prepare_interhand26m(root=str(root), out=str(tmp_path / "o"), split="training", progress=False)


def test_corrupt_or_missing_annotation_files_name_the_file(ih26m, tmp_path):
    root, _ = ih26m
    with pytest.raises(HandpriorInputError, match="split 'test': .*InterHand2.6M_test_data.json not found"):
        prepare_interhand26m(root=str(tmp_path), out=str(tmp_path / "o"), split="test", progress=False)
    only_test = tmp_path / "only_test"
    shutil.copytree(root / "annotations" / "test", only_test / "annotations" / "test")
    summary = prepare_interhand26m(root=str(only_test), out=str(tmp_path / "t"), progress=False)
    assert list(summary["splits"]) == ["test"] and "InterHand2.6M_val_data.json not found" in summary["skipped_splits"]["val"]
    (only_test / "annotations" / "test" / "InterHand2.6M_test_camera.json").unlink()
    with pytest.raises(HandpriorInputError, match="InterHand2.6M_test_camera.json: annotation file not found"):
        prepare_interhand26m(root=str(only_test), out=str(tmp_path / "t"), progress=False)
    broken = tmp_path / "annotations" / "test"
    broken.mkdir(parents=True)
    (broken / "InterHand2.6M_test_data.json").write_text("{not json")
    with pytest.raises(HandpriorInputError, match="not valid JSON"):
        prepare_interhand26m(root=str(tmp_path), out=str(tmp_path / "o"), split="test", progress=False)
