"""One-Euro, constant-velocity Kalman and RTS smoother: the published equations, constants kept exactly,
causality, and the registry / live-offline marks."""

import math

import numpy as np
import pytest
import torch

from handprior.models.filters import (
    Gaussian1d,
    Identity,
    Kalman,
    OneEuro,
    RTSSmoother,
    SavitzkyGolay,
    is_causal,
    kalman_filter,
)
from handprior.models.filters.one_euro import one_euro
from handprior.models.registry import NETWORKS, check_net_config

RATE = 30.0


def alpha(cutoff: float) -> float:
    """The paper's smoothing factor, written from its definition tau = 1 / (2 pi fc), alpha = 1 / (1 + tau rate)."""
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau * RATE)


def test_one_euro_step_response_follows_the_published_recurrences():
    step = np.concatenate([np.zeros(3), np.ones(6)])[:, None]  # (9,1): 0 until frame 3, then 1
    min_cutoff, beta, d_cutoff = 1.0, 0.05, 1.0
    out = one_euro(step, RATE, min_cutoff, beta, d_cutoff)[:, 0]
    assert np.all(out[:3] == 0.0)
    # Frame 3 by hand: speed = alpha_d * (1 - 0) * rate, cutoff = min_cutoff + beta * speed.
    speed = alpha(d_cutoff) * RATE
    first = alpha(min_cutoff + beta * speed) * 1.0
    assert out[3] == pytest.approx(first, rel=1e-12)
    # Frame 4: the speed filtered again from the residual step 1 - x̂_3.
    speed = speed + alpha(d_cutoff) * ((1.0 - first) * RATE - speed)
    second = first + alpha(min_cutoff + beta * speed) * (1.0 - first)
    assert out[4] == pytest.approx(second, rel=1e-12)
    assert np.all(np.diff(out[3:]) > 0) and out[-1] < 1.0  # monotone approach, no overshoot
    # beta = 0: a first-order low-pass, 1 - (1 - alpha)^(n + 1) after n frames of the step.
    plain = one_euro(step, RATE, min_cutoff, 0.0, d_cutoff)[3:, 0]
    np.testing.assert_allclose(plain, 1.0 - (1.0 - alpha(min_cutoff)) ** np.arange(1, 7), rtol=1e-12)
    # A larger beta follows the step faster.
    assert np.all(one_euro(step, RATE, min_cutoff, 1.0, d_cutoff)[3:, 0] > plain)


def textbook_kalman(z: np.ndarray, q: float, r: float) -> tuple[np.ndarray, np.ndarray]:
    """Scalar constant-velocity Kalman filter and RTS smoother with full matrices, one step at a time."""
    F = np.array([[1.0, 1.0], [0.0, 1.0]])
    H = np.array([[1.0, 0.0]])
    Q = q * np.array([[1 / 3, 1 / 2], [1 / 2, 1.0]])
    s, P = np.array([z[0], 0.0]), r * np.diag([1.0, 2.0])
    states, covs, priors, prior_covs = [s], [P], [s], [P]
    for value in z[1:]:
        s_prior, P_prior = F @ s, F @ P @ F.T + Q
        K = P_prior @ H.T @ np.linalg.inv(H @ P_prior @ H.T + r)
        s = s_prior + (K @ (np.array([value]) - H @ s_prior)).ravel()
        P = (np.eye(2) - K @ H) @ P_prior
        states.append(s), covs.append(P), priors.append(s_prior), prior_covs.append(P_prior)
    smoothed = [states[-1]]
    for t in range(len(z) - 2, -1, -1):
        C = covs[t] @ F.T @ np.linalg.inv(prior_covs[t + 1])
        smoothed.insert(0, states[t] + C @ (smoothed[0] - priors[t + 1]))
    return np.array(states)[:, 0], np.array(smoothed)[:, 0]


@pytest.mark.parametrize(("q", "r"), [(0.01, 1.0), (1.0, 4.0), (5.0, 0.5)])
def test_kalman_and_rts_match_the_textbook_recursions(q, r):
    rng = np.random.default_rng(0)
    z = np.cumsum(rng.normal(size=(40, 3)), axis=0) + rng.normal(size=(40, 3))  # (T,M)
    filtered, smoothed = kalman_filter(z, q, r), kalman_filter(z, q, r, smooth=True)
    for column in range(3):
        expected_filtered, expected_smoothed = textbook_kalman(z[:, column], q, r)
        np.testing.assert_allclose(filtered[:, column], expected_filtered, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(smoothed[:, column], expected_smoothed, rtol=1e-10, atol=1e-10)
    # Only q / r matters, and the filter is linear: scaling both noises and the signal scales the output.
    np.testing.assert_allclose(kalman_filter(100 * z, 3 * q, 3 * r), 100 * filtered, rtol=1e-10)


def test_kalman_step_response_settles_on_the_step():
    step = np.concatenate([np.zeros(5), np.ones(60)])[:, None]
    out = kalman_filter(step, 0.1, 1.0)[:, 0]
    assert np.all(out[:5] == 0.0) and 0 < out[5] < 1 and abs(out[-1] - 1.0) < 1e-3


@pytest.mark.parametrize("run", [
    lambda z: one_euro(z, RATE, 0.5, 0.1, 1.0),
    lambda z: kalman_filter(z, 0.3, 1.0),
    lambda z: kalman_filter(z, 0.3, 1.0, smooth=True),
])  # fmt: skip
def test_a_constant_signal_is_kept_exactly(run):
    constant = np.tile(np.array([0.1, -7.3, 123.456789]), (25, 1))  # (T,3)
    np.testing.assert_array_equal(run(constant), constant)


@pytest.mark.parametrize("net", [OneEuro(0.5, 0.01), Kalman(0.3, 1.0), RTSSmoother(0.3, 1.0)])
def test_modules_keep_a_constant_hand(net):
    hand = torch.from_numpy(np.random.default_rng(1).normal(size=(1, 1, 21, 3)) * 50).repeat(1, 30, 1, 1)  # (1,30,21,3)
    torch.testing.assert_close(net(hand).joints, hand, rtol=0, atol=1e-12)


def moving_hand(length: int = 60, seed: int = 3) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    t = np.arange(length)[None, :, None, None] / RATE
    hand = rng.normal(size=(2, 1, 21, 3)) + np.sin(2 * np.pi * t + rng.normal(size=(2, 1, 21, 3)))
    return torch.from_numpy(hand + 0.1 * rng.normal(size=(2, length, 21, 3)))  # (2,T,21,3) float64


@pytest.mark.parametrize("net", [OneEuro(1.0, 0.02), Kalman(0.1, 1.0), Identity()], ids=lambda n: type(n).__name__)
def test_causal_filters_never_read_a_future_frame(net):
    x = moving_hand()
    reference = net(x).joints
    for t in (0, 10, 41, 58):
        perturbed = x.clone()
        perturbed[:, t + 1 :] += 1e3 * torch.randn_like(perturbed[:, t + 1 :])
        out = net(perturbed).joints
        torch.testing.assert_close(out[:, : t + 1], reference[:, : t + 1], rtol=0, atol=0)
        assert not torch.allclose(out[:, t + 1 :], reference[:, t + 1 :])
    # Filtering a prefix gives the same frames as filtering the whole sequence (the live output).
    torch.testing.assert_close(net(x[:, :25]).joints, reference[:, :25], rtol=0, atol=0)


@pytest.mark.parametrize("net", [RTSSmoother(0.1, 1.0), Gaussian1d(2.0), SavitzkyGolay(9, 2)])
def test_offline_filters_read_the_future_and_say_so(net):
    x = moving_hand()
    perturbed = x.clone()
    perturbed[:, 31:] += 10.0
    assert not torch.allclose(net(perturbed).joints[:, 30], net(x).joints[:, 30])
    assert not is_causal(net)


def test_causal_marks_and_registry():
    assert {cls.__name__ for cls in NETWORKS if is_causal(cls)} == {"OneEuro", "Kalman", "Identity"}
    for name in ("OneEuro", "Kalman", "RTSSmoother"):
        cls, args = check_net_config({"class_path": f"handprior.models.filters.{name}", "init_args": {}})
        assert cls.__name__ == name and args == {}
    assert not is_causal(torch.nn.Linear(2, 2))  # networks without the mark are offline


def test_one_euro_beta_is_per_mm_per_second_whatever_the_input_unit():
    x = moving_hand()
    in_mm = OneEuro(1.0, 0.02, input_unit_mm=1.0)(x * 100).joints
    in_units = OneEuro(1.0, 0.02, input_unit_mm=100.0)(x).joints
    torch.testing.assert_close(in_units * 100, in_mm, rtol=1e-10, atol=1e-9)


def test_invalid_settings_are_rejected():
    with pytest.raises(ValueError, match="min_cutoff"):
        OneEuro(min_cutoff=0)
    with pytest.raises(ValueError, match="process_noise"):
        Kalman(process_noise=-1)
    with pytest.raises(ValueError, match="measurement_noise"):
        RTSSmoother(measurement_noise=0)
