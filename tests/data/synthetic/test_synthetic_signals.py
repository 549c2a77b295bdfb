"""Random time signals: variance, autocorrelation, smoothness and bounds."""

import numpy as np

from handprior.data.synthetic.signals import keyframe_track, min_jerk, smooth_noise, soft_clip


def _lag1(x: np.ndarray) -> float:
    x = x - x.mean(axis=0)
    return float(np.sum(x[1:] * x[:-1]) / np.sum(x**2))


def test_smooth_noise_has_unit_variance_and_gaussian_autocorrelation():
    x = smooth_noise(np.random.default_rng(0), 4000, (50,), sigma=4.0)
    assert x.shape == (4000, 50)
    assert 0.85 < x.var() < 1.15
    assert abs(_lag1(x) - np.exp(-1.0 / (4 * 4.0**2))) < 0.01


def test_min_jerk_is_monotone_from_zero_to_one_with_flat_ends():
    s = min_jerk(np.linspace(-0.5, 1.5, 401))
    assert s[0] == 0.0 and s[-1] == 1.0
    assert np.all(np.diff(s) >= 0)
    eps = 1e-4
    assert min_jerk(np.array([eps]))[0] < 1e-10 and 1 - min_jerk(np.array([1 - eps]))[0] < 1e-10


def test_soft_clip_is_identity_inside_and_bounded_outside():
    x = np.linspace(-100, 100, 2001)
    y = soft_clip(x, -10.0, 20.0, margin=5.0)
    inside = (x >= -5) & (x <= 15)
    np.testing.assert_allclose(y[inside], x[inside])
    assert y.min() >= -10.0 and y.max() <= 20.0
    assert np.all(np.diff(y) >= 0)
    assert np.abs(np.diff(y)).max() <= np.diff(x)[0] + 1e-12  # continuous, slope at most 1


def test_keyframe_track_is_continuous_and_visits_the_keys():
    rng = np.random.default_rng(2)
    keys = []

    def sample_key(r: np.random.Generator) -> np.ndarray:
        keys.append(r.uniform(-1, 1, 2))
        return keys[-1]

    track = keyframe_track(rng, 600, sample_key, hold_frames=(5, 20), move_frames=(8, 16))
    assert track.shape == (600, 2)
    # a min-jerk move of at least 8 frames between keys 2*sqrt(2) apart changes less than 1.875*2.83/8 per frame
    assert np.abs(np.diff(track, axis=0)).max() < 1.875 * 2 / 8 + 1e-9
    held = np.diff(track, axis=0)
    assert np.mean(np.all(held == 0, axis=1)) > 0.3  # quiet holds between the moves
    assert np.all(track >= -1) and np.all(track <= 1)
