"""Classical filters against direct scipy calls, short sequences, and the NetOutput contract."""

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter1d
from scipy.signal import savgol_filter

from handprior.models.filters import Gaussian1d, Identity, SavitzkyGolay, savgol_window
from handprior.models.nets.output import NetOutput


def noisy_sequence(length: int, seed: int = 0) -> torch.Tensor:
    """(1,L,21,3): a smooth moving hand plus jitter, with a drifting wrist."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, length)[:, None, None]
    base = rng.normal(size=(1, 21, 3)) + 0.3 * np.sin(t + rng.normal(size=(1, 21, 3)))
    base = base + np.stack([t[..., 0], np.cos(t[..., 0]), 0 * t[..., 0]], axis=-1)  # wrist trajectory
    return torch.from_numpy(base + 0.05 * rng.normal(size=base.shape))[None].float()


def root_relative_reference(x: np.ndarray, smooth) -> np.ndarray:
    root = x[:, :, :1]
    return smooth(root) + smooth(x - root)


def test_savgol_matches_scipy_on_root_relative_input():
    x = noisy_sequence(80)
    out = SavitzkyGolay(window_length=31, polyorder=2)(x)
    assert isinstance(out, NetOutput) and out.theta is None and out.beta is None
    assert out.joints.shape == x.shape and out.joints.dtype == x.dtype
    a = x.double().numpy()
    expected = root_relative_reference(a, lambda v: savgol_filter(v, 31, 2, axis=1, mode="interp"))
    np.testing.assert_allclose(out.joints.double().numpy(), expected, atol=1e-5)
    # The filter is linear, so it also equals scipy on the absolute positions.
    np.testing.assert_allclose(out.joints.numpy(), savgol_filter(a, 31, 2, axis=1, mode="interp"), atol=1e-5)
    # and it smooths: second differences shrink.
    accel = lambda v: np.abs(np.diff(v, n=2, axis=1)).mean()  # noqa: E731
    assert accel(out.joints.numpy()) < 0.5 * accel(a)


def test_gaussian_matches_scipy_on_root_relative_input():
    x = noisy_sequence(50, seed=1)
    out = Gaussian1d(sigma=3.0)(x)
    a = x.double().numpy()
    expected = root_relative_reference(a, lambda v: gaussian_filter1d(v, 3.0, axis=1))
    np.testing.assert_allclose(out.joints.double().numpy(), expected, atol=1e-5)
    assert not np.allclose(out.joints.numpy(), a, atol=1e-3)


@pytest.mark.parametrize(
    ("length", "window"), [(31, 31), (40, 31), (20, 19), (19, 19), (4, 3), (3, 3), (2, None), (1, None)]
)
def test_savgol_window_is_clipped_odd_and_above_polyorder(length, window):
    assert savgol_window(length, 31, 2) == window


@pytest.mark.parametrize("length", [1, 2, 3, 10, 20])
def test_short_sequences(length):
    x = noisy_sequence(length, seed=2)
    out = SavitzkyGolay()(x).joints
    window = savgol_window(length, 31, 2)
    if window is None:
        torch.testing.assert_close(out, x)
    else:
        expected = savgol_filter(x.double().numpy(), window, 2, axis=1, mode="interp")
        np.testing.assert_allclose(out.numpy(), expected, atol=1e-5)
    assert Gaussian1d()(x).joints.shape == x.shape


def test_filters_are_parameter_free_sequence_level_and_keep_the_device():
    for net in (SavitzkyGolay(), Gaussian1d(), Identity()):
        assert net.sequence_level is True
        assert sum(p.numel() for p in net.parameters()) == 0
    x = noisy_sequence(12)
    torch.testing.assert_close(Identity()(x).joints, x)
    assert Gaussian1d()(x.double()).joints.dtype == torch.float64


def test_invalid_settings_are_rejected():
    with pytest.raises(ValueError, match="polyorder"):
        SavitzkyGolay(window_length=3, polyorder=3)
    with pytest.raises(ValueError, match="sigma"):
        Gaussian1d(sigma=0)
