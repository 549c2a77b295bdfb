"""Splitting tracks into continuous sequences, drop accounting, mirroring."""

import numpy as np
import pytest
from official_fixtures import hand_motion

from handprior.body.joints import mirror_x
from handprior.data.prepare.geometry import mirror_axis_angle
from handprior.data.prepare.report import SHORT_SEQUENCE, SplitReport
from handprior.data.prepare.sequences import SplitBuilder, Track, continuous_runs, fill_invalid, frame_step


def test_runs_break_at_gaps_and_step_is_the_smallest_difference():
    frames = np.array([0, 1, 2, 4, 5, 9])
    assert continuous_runs(frames, 1).tolist() == [0, 3, 5, 6]
    assert frame_step(frames) == 1 and frame_step(np.array([6, 12, 24])) == 6 and frame_step(np.array([3])) == 1
    assert continuous_runs(np.array([6, 12, 24]), 6).tolist() == [0, 2, 3]
    assert continuous_runs(np.array([], dtype=int), 1).tolist() == [0]


def _track(side="right", n=10, theta=True):
    rng = np.random.default_rng(1)
    gt = hand_motion(rng, n, side)
    return Track(f"v/{side}", side, ("v",), np.arange(100, 100 + n), gt, np.full(n, "", dtype=object),
                 rng.normal(size=(n, 48)) if theta else None, rng.normal(size=(n, 10)) if theta else None,
                 gt + 1.0)  # fmt: skip


def test_builder_counts_drops_splits_and_filters_short_runs():
    report = SplitReport("test")
    builder = SplitBuilder(report, min_length=2)
    hand = _track()
    hand.drop(np.arange(10) == 3, "invalid wrist")
    hand.drop(np.arange(10) == 3, "later reason")  # the first reason of a frame wins
    hand.drop(np.arange(10) == 5, "no prediction")  # leaves a 1-frame run (frame 104)
    builder.add(hand)
    packed = builder.finish()
    assert packed.offsets.tolist() == [0, 3, 7]
    assert packed.first_frames == [100, 106] and packed.names == ["v/right@100", "v/right@106"]
    assert dict(report.dropped) == {"invalid wrist": 1, "no prediction": 1, SHORT_SEQUENCE: 1}
    assert report.sequences == 2 and report.frames == 7
    assert np.allclose(packed.gt, np.concatenate([hand.gt[:3], hand.gt[6:]]))


def test_left_hands_are_mirrored_with_their_mano_pose_and_root_relative_option():
    builder = SplitBuilder(SplitReport("test"))
    left = _track("left")
    builder.add(left)
    packed = builder.finish()
    assert packed.sides == ["left"]
    assert np.allclose(packed.gt, mirror_x(left.gt), atol=1e-4) and np.allclose(packed.pred, mirror_x(left.pred), atol=1e-4)
    assert np.allclose(packed.theta, mirror_axis_angle(left.theta), atol=1e-6)
    assert np.allclose(packed.beta, left.beta, atol=1e-6)
    relative = SplitBuilder(SplitReport("test"), root_relative=True)
    relative.add(_track())
    packed = relative.finish()
    assert np.allclose(packed.gt[:, 0], 0) and np.allclose(packed.pred[:, 0], 0)


def test_builder_refuses_tracks_that_disagree_on_mano():
    builder = SplitBuilder(SplitReport("test"))
    builder.add(_track())
    with pytest.raises(ValueError, match="theta"):
        builder.add(_track(theta=False))


def test_fill_invalid_takes_the_nearest_valid_wrist_relative_value_or_the_parent():
    rng = np.random.default_rng(0)
    gt = rng.normal(0, 50, size=(6, 21, 3))
    valid = np.ones((6, 21), dtype=bool)
    valid[[0, 1, 4], 8] = False  # the index tip: valid at frames 2, 3, 5
    valid[:, 12] = False  # the middle tip: never valid -> on its parent (joint 11)
    gt[~valid] = np.nan
    filled = fill_invalid(gt, valid)
    rel = gt - gt[:, :1]
    assert np.isfinite(filled).all() and np.array_equal(filled[valid], gt[valid])
    for frame, source in ((0, 2), (1, 2), (4, 3)):  # nearest valid frame; the earlier one on a tie (4: 3 or 5)
        assert np.allclose(filled[frame, 8] - filled[frame, 0], rel[source, 8])
    assert np.allclose(filled[:, 12], filled[:, 11])
    no_wrist = valid.copy()
    no_wrist[2, 0] = False
    with pytest.raises(ValueError, match="valid wrist"):
        fill_invalid(gt, no_wrist)


def test_builder_counts_masked_joints_on_stored_frames_and_packs_the_mask():
    rng = np.random.default_rng(1)
    gt = hand_motion(rng, 8, "left")
    hand = Track("t/left", "left", ("t",), np.arange(8), gt.copy(), np.full(8, "", dtype=object))
    invalid = np.zeros((8, 21), dtype=bool)
    invalid[[1, 2], 5] = invalid[2, 6] = invalid[7, 3] = True  # frame 7 is then dropped: its mask is not counted
    hand.gt[invalid] = np.nan
    hand.mask(invalid, "joint marked invalid")
    hand.drop(np.arange(8) == 7, "no ground truth")
    report = SplitReport("test")
    builder = SplitBuilder(report)
    builder.add(hand)
    packed = builder.finish()
    assert report.to_dict()["masked"] == {"joint marked invalid": {"frames": 2, "joints": 3}}
    assert np.array_equal(packed.valid, ~invalid[:7]) and np.isfinite(packed.gt).all()
    assert np.allclose(packed.gt[~invalid[:7]], mirror_x(gt[:7])[~invalid[:7]], atol=1e-4)
    clean = Track("t/right", "right", ("u",), np.arange(4), gt[:4], np.full(4, "", dtype=object))
    other = SplitBuilder(SplitReport("test"))
    other.add(clean)
    assert other.finish().valid is None  # every stored joint valid: no mask
