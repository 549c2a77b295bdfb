"""Motion generator: anatomical axes and limits, real-data statistics (docs/architecture.md,
"Synthetic benchmark"), determinism."""

import numpy as np
import torch

from handprior.body.joints import FINGERTIPS
from handprior.data.synthetic.articulation import JOINT_LIMITS
from handprior.data.synthetic.axes import ABD, FLEX, MANO15_CANON, MANO15_FINGER, articulation_to_pose, hand_axes
from handprior.data.synthetic.motion import MotionConfig, sample_sequence
from handprior.data.synthetic.stats import bone_length_std, motion_statistics


def _rest(mano) -> np.ndarray:
    return mano.rest_joints(torch.zeros(1, 10))[0].double().numpy()  # (21,3)


def _pose_one(mano, angles: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Joints (21,3) of one articulation (15,3) deg with identity global rotation."""
    theta = np.concatenate([np.zeros(3), articulation_to_pose(angles[None], hand_axes(rest))[0]])
    with torch.no_grad():
        return mano(torch.as_tensor(theta[None], dtype=torch.float32), torch.zeros(1, 10))[1][0].double().numpy()


def test_axes_are_orthonormal_per_joint(mano):
    axes = hand_axes(_rest(mano)).axes  # (15,3,3)
    gram = np.einsum("jkc,jlc->jkl", axes, axes)
    np.testing.assert_allclose(gram, np.broadcast_to(np.eye(3), gram.shape), atol=1e-9)


def test_positive_flexion_curls_each_finger_into_the_palm(mano):
    rest = _rest(mano)
    normal = hand_axes(rest).palm_normal
    ulnar = (rest[17] - rest[5]) / np.linalg.norm(rest[17] - rest[5])  # index base -> pinky base
    flat = _pose_one(mano, np.zeros((15, 3)), rest)
    for j, canon in enumerate(MANO15_CANON):
        angles = np.zeros((15, 3))
        angles[j, FLEX] = 40.0
        tip = FINGERTIPS[MANO15_FINGER[j]]
        moved = _pose_one(mano, angles, rest)[tip] - flat[tip]
        size = np.linalg.norm(moved)
        assert size > 5.0, f"joint {canon} did not move its fingertip"
        if MANO15_FINGER[j] != 0:
            assert moved @ normal > 0.3 * size, f"flexing joint {canon} does not curl towards the palm"
        elif canon == 1:  # thumb base: opposition sweeps the thumb across the palm
            assert moved @ ulnar > 0.3 * size
        else:  # thumb MCP and IP: into the palm and towards the little finger
            assert moved @ normal > 0.2 * size and moved @ ulnar > 0.2 * size


def test_positive_abduction_spreads_fingers_away_from_the_middle_finger(mano):
    rest = _rest(mano)
    flat = _pose_one(mano, np.zeros((15, 3)), rest)
    for j, canon in enumerate(MANO15_CANON):
        finger = MANO15_FINGER[j]
        if canon % 4 != 1 or finger in (0, 2):  # base joints of index, ring and pinky
            continue
        angles = np.zeros((15, 3))
        angles[j, ABD] = 15.0
        tip = FINGERTIPS[finger]
        gap_before = np.linalg.norm(flat[tip] - flat[12])
        gap_after = np.linalg.norm(_pose_one(mano, angles, rest)[tip] - flat[12])
        assert gap_after > gap_before + 5.0


def test_articulation_stays_within_anatomical_limits():
    rng = np.random.default_rng(7)
    rest = np.zeros((21, 3))
    rest[1:] = np.random.default_rng(0).normal(0, 1, (20, 3))  # any non-degenerate skeleton gives axes
    rest[[5, 9, 13, 17]] = [[-90, 0, 20], [-95, 0, 0], [-90, 0, -17], [-80, 0, -33]]
    for _ in range(10):
        angles = sample_sequence(rng, 300, rest)["articulation"]  # (N,15,3)
        assert np.all(angles >= JOINT_LIMITS[..., 0] - 1e-9) and np.all(angles <= JOINT_LIMITS[..., 1] + 1e-9)
    # flexion dominates: the typical finger flexion is far larger than the typical abduction
    assert np.abs(angles[..., FLEX]).mean() > 3 * np.abs(angles[..., ABD]).mean()


def test_motion_statistics_match_real_motion_capture(truth):
    stats = motion_statistics(truth["gt"], truth["offsets"])
    # docs/architecture.md "Synthetic benchmark", ManipNet (STB in brackets): wrist speed median 67 (88), p90 352 mm/s
    assert 40 < stats["wrist_speed_median"] < 100
    assert 200 < stats["wrist_speed_p90"] < 500
    # fingertip speed relative to the wrist: median 69 (109), p90 335 mm/s
    assert 45 < stats["tip_rel_speed_median"] < 120
    assert 200 < stats["tip_rel_speed_p90"] < 480
    # wrist-relative joint acceleration: mean 1.70, median 0.84, p99 11.9 mm/frame^2
    assert 0.9 < stats["rel_accel_mean"] < 2.5
    assert 0.5 < stats["rel_accel_median"] < 1.3
    assert 6.0 < stats["rel_accel_p99"] < 20.0
    # adult hands: wrist to middle MCP 80-110 mm
    assert 80.0 <= stats["hand_size_min"] and stats["hand_size_max"] <= 110.0


def test_bone_lengths_are_constant_within_each_sequence_and_vary_between_them(truth):
    per_sequence = bone_length_std(truth["gt"], truth["offsets"])  # (S,20)
    assert per_sequence.max() < 0.01  # float32 round-off only
    lengths = np.linalg.norm(truth["gt"][:, 9] - truth["gt"][:, 0], axis=-1)
    firsts = lengths[truth["offsets"][:-1]]
    assert firsts.std() > 2.0  # hand shapes differ between sequences


def test_sample_sequence_is_deterministic_and_has_documented_shapes(mano):
    rest = _rest(mano)
    a = sample_sequence(np.random.default_rng(5), 120, rest)
    b = sample_sequence(np.random.default_rng(5), 120, rest)
    c = sample_sequence(np.random.default_rng(6), 120, rest)
    assert a["theta"].shape == (120, 48) and a["beta"].shape == (10,) and a["transl"].shape == (120, 3)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.allclose(a["theta"], c["theta"])


def test_fps_sets_the_time_scale(mano):
    """The same motion sampled at 60 fps moves about half as far per frame as at 30 fps."""
    rest = _rest(mano)
    cfg = MotionConfig(tremor_deg=0.0, tremor_mm=0.0)
    step30 = np.abs(np.diff(sample_sequence(np.random.default_rng(3), 3000, rest, 30.0, cfg)["wrist"], axis=0))
    step60 = np.abs(np.diff(sample_sequence(np.random.default_rng(3), 6000, rest, 60.0, cfg)["wrist"], axis=0))
    assert 0.35 < step60.mean() / step30.mean() < 0.65
