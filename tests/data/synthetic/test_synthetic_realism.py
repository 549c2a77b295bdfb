"""Finger coordination, dynamics and palm rotation of the generated motion against the real ranges
(handprior/data/synthetic/real_ranges.py, docs/architecture.md "Synthetic benchmark") for the benchmark's motion
(v2), and the versioned cache."""

import json

import numpy as np
import pytest

from handprior.data.synthetic.generate import BENCHMARK_VERSION, SyntheticConfig, ensure_synthetic, sample_ground_truth
from handprior.data.synthetic.hand_stats import hand_motion_statistics, joint_flexion, palm_frames, rotation_angle
from handprior.data.synthetic.motion import MOTION_V2
from handprior.data.synthetic.real_ranges import REAL_RANGES


@pytest.fixture(scope="module")
def stats(mano):
    """Statistics of the benchmark's motion on a draw of 120 sequences of 200-300 frames (seed 2024, which the
    calibration did not search on; about 4 s)."""
    truth = sample_ground_truth(np.random.default_rng(2024), 120, (200, 300), mano, motion=MOTION_V2)
    return hand_motion_statistics(truth["gt"], truth["offsets"])


@pytest.mark.parametrize("name", list(REAL_RANGES))
def test_statistic_is_inside_its_real_range_within_tolerance(stats, name):
    real = REAL_RANGES[name]
    assert real.accepts(stats[name]), f"{name} = {stats[name]:.3f}, accepted {real.bounds()}"


def test_flexion_and_palm_frame_definitions():
    joints = np.zeros((2, 21, 3))
    for f in range(5):  # straight fingers along +x, fanned out in y
        for k in range(1, 5):
            joints[:, 1 + 4 * f + (k - 1)] = [30.0 * k, 20.0 * (f - 2), 0.0]
    assert np.allclose(joint_flexion(joints)[:, 1:, 1:], 0.0, atol=1e-6)  # straight PIP and DIP
    bent = joints.copy()
    bent[1, 8] = bent[1, 7] + [0.0, 0.0, 30.0]  # index DIP -> tip turned by 90 degrees
    assert joint_flexion(bent)[1, 1, 2] == pytest.approx(90.0)
    frames = palm_frames(joints)
    np.testing.assert_allclose(
        np.einsum("nji,njk->nik", frames, frames), np.broadcast_to(np.eye(3), (2, 3, 3)), atol=1e-9
    )
    assert rotation_angle(frames[:1], frames[1:])[0] == pytest.approx(0.0, abs=1e-6)


def test_a_cache_of_the_old_version_is_regenerated_whole(tmp_path):
    tiny = SyntheticConfig(train_sequences=2, val_sequences=1, test_sequences=1, frames_range=(30, 35))
    paths = ensure_synthetic(tmp_path, tiny)
    for path in paths.values():  # pretend the cache was written by another version of the generator
        meta = json.loads((path / "meta.json").read_text())
        meta.update(benchmark_version="v0", config_hash="0123456789abcdef")
        (path / "meta.json").write_text(json.dumps(meta))
    ensure_synthetic(tmp_path, tiny)
    for path in paths.values():
        meta = json.loads((path / "meta.json").read_text())
        assert meta["benchmark_version"] == BENCHMARK_VERSION == "v2" and meta["config_hash"] == tiny.digest()
