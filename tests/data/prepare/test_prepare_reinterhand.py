"""Re:InterHand fixture (per-capture folders) -> stores: split by capture, Mugsy and Ego views, drops."""

import shutil

import numpy as np
import pytest
from official_fixtures import REIH_TEST, REIH_TRAIN, write_reinterhand

from handprior.body.joints import mirror_x
from handprior.data.prepare.commands import prepare_reinterhand
from handprior.data.prepare.geometry import mirror_axis_angle
from handprior.data.prepare.predictions import write_predictions
from handprior.data.prepare.reinterhand import format_key, parse_key
from handprior.data.store import SequenceStore
from handprior.errors import HandpriorInputError


@pytest.fixture(scope="module")
def reih(tmp_path_factory):
    root = tmp_path_factory.mktemp("reih")
    expected = write_reinterhand(root / "data")  # the parent of data/ is accepted as root
    prepare_reinterhand(root=str(root), out=str(root / "out"), progress=False)
    return root, expected


def test_split_by_capture_with_counts_and_drops(reih):
    root, _ = reih
    test, train = SequenceStore.open(root / "out" / "test"), SequenceStore.open(root / "out" / "train")
    assert not (root / "out" / "val").exists()
    assert test.num_sequences == 8 and test.num_frames == 18 and test.has_mano
    assert test.meta["prepare"]["dropped"] == {"ego view truncated": 2, "no MANO fit": 2, "no ground truth": 2}
    assert test.meta["captures"] == [REIH_TEST] and train.meta["captures"] == [REIH_TRAIN]
    assert train.lengths.tolist() == [30, 30] and train.meta["sides"] == ["right", "left"]
    names = test.meta["names"]
    assert names[:3] == [f"{REIH_TEST}/cam01/right@0", f"{REIH_TEST}/cam01/right@5", f"{REIH_TEST}/cam01/left"]
    assert test.lengths.tolist() == [4, 1, 5, 2, 1, 1, 1, 3]  # cam01 r, r, l; ego r, r, r, l, l


def test_ground_truth_matches_each_camera_including_the_moving_ego_camera(reih):
    root, expected = reih
    for split in ("test", "train"):
        store = SequenceStore.open(root / "out" / split)
        for s, name in enumerate(store.meta["names"]):
            capture, camera, side = name.split("@")[0].split("/")
            entry = expected[(capture, camera, side)]
            rows, first = store.sequence(s), store.meta["first_frames"][s]
            frames = slice(first, first + rows.stop - rows.start)
            gt, theta = entry["gt"][frames], entry["theta"][frames]
            if side == "left":
                gt, theta = mirror_x(gt), mirror_axis_angle(theta)
            assert np.allclose(store.gt[rows], gt, atol=1e-3), name
            assert np.allclose(store.gt_theta[rows], theta, atol=1e-5), name


def test_keys_of_both_camera_rigs_and_renderings_parse():
    assert parse_key(format_key((REIH_TEST, "cam01", 7))) == (REIH_TEST, "cam01", 7)
    assert parse_key(f"/x/{REIH_TEST}/Mugsy_cameras/envmap_per_frame/images/cam01/000006.png") == (REIH_TEST, "cam01", 6)
    assert parse_key(format_key((REIH_TEST, "ego:per_segment", 3))) == (REIH_TEST, "ego:per_segment", 3)
    assert parse_key(f"{REIH_TEST}/keypoints/000003.png") is None


def test_predictions_restrict_views_and_cameras_option(reih, tmp_path):
    root, expected = reih
    entry = expected[(REIH_TEST, "ego:per_segment", "left")]
    keys = [format_key((REIH_TEST, "ego:per_segment", f)) for f in entry["frames"]]
    path = write_predictions(tmp_path / "p.npz", keys, entry["gt"], "mm", ["left"] * len(keys))
    summary = prepare_reinterhand(root=str(root), out=str(tmp_path / "o"), predictions=str(path), progress=False)
    assert summary["skipped_splits"] == {"train": "no view in this split has a prediction"}
    store = SequenceStore.open(tmp_path / "o" / "test")
    # Only the predicted view and hand: the right hand of the Ego view has no prediction at all.
    assert {n.split("@")[0] for n in store.meta["names"]} == {f"{REIH_TEST}/ego:per_segment/left"}
    assert store.meta["prepare"]["dropped"]["no prediction"] == 4  # right hand frames 0, 1, 3, 5
    assert np.allclose(store.pred, store.gt, atol=1e-3)
    summary = prepare_reinterhand(root=str(root), out=str(tmp_path / "c"), cameras=["cam01"], with_mano=False, progress=False)
    store = SequenceStore.open(tmp_path / "c" / "test")
    assert all("/cam01/" in n for n in store.meta["names"]) and not store.has_mano
    assert store.meta["mano"] == {"available": False, "reason": "not requested (with_mano=False)"}


def test_missing_frame_list_and_bad_lines_are_clear_errors(reih, tmp_path):
    root, _ = reih
    with pytest.raises(HandpriorInputError, match="no capture folder"):
        prepare_reinterhand(root=str(tmp_path), out=str(tmp_path / "o"), progress=False)
    copy = tmp_path / "copy"
    shutil.copytree(root / "data" / REIH_TEST, copy / REIH_TEST)
    (copy / REIH_TEST / "frame_list.txt").write_text("seg0 000000\nseg0\n")
    with pytest.raises(HandpriorInputError, match="frame_list.txt: line 2"):
        prepare_reinterhand(root=str(copy), out=str(tmp_path / "o"), split="test", progress=False)
