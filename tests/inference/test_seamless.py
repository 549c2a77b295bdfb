"""Seamless refinement (issue #22, item 1): overlapping windows blended with tapered weights in the inference
object; the evaluation protocol of `handprior test` unchanged; progress callbacks (item 3)."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from handprior.data.windows import cut_windows, local_window_starts, stitch_windows, taper_weights
from handprior.inference.model import RefinementModel
from handprior.inference.streaming import StreamingRefiner
from handprior.models.nets.output import NetOutput


class WindowMean(nn.Module):
    """Every frame of a window becomes the window's mean pose: windows disagree, so joining them shows seams."""

    def forward(self, x: Tensor) -> NetOutput:  # (B,T,J,3) -> joints (B,T,J,3)
        return NetOutput(joints=x.mean(dim=1, keepdim=True).expand_as(x).clone())


def _ramp(frames: int = 120) -> Tensor:
    """A hand moving at constant speed, mm: (frames,21,3); its acceleration is zero."""
    t = torch.arange(frames, dtype=torch.float32)[:, None, None]
    return torch.zeros(1, 21, 3) + torch.linspace(0, 50, 21)[None, :, None] + t * torch.tensor([2.0, 0.0, 0.0])


def _largest_accel(joints: Tensor) -> float:
    return float(torch.diff(joints, n=2, dim=0).norm(dim=-1).max())


def test_taper_weights_ramp_at_both_ends_and_never_reach_zero() -> None:
    weights = taper_weights(27, 13)
    assert weights.shape == (27,) and weights[13] == 1.0 and torch.equal(weights, weights.flip(0))
    assert float(weights[0]) == pytest.approx(1 / 14) and bool((weights > 0).all())
    assert bool((torch.diff(weights[:14]) > 0).all())  # rises to the centre
    assert torch.equal(taper_weights(27, 0), torch.ones(27))
    with pytest.raises(ValueError):
        taper_weights(27, -1)


def test_weighted_stitching_is_a_weighted_average_and_equal_weights_are_the_plain_average() -> None:
    sequence = torch.randn(40, 21, 3)
    starts = torch.from_numpy(local_window_starts(40, 10, 3))
    windows = cut_windows(sequence, starts, 10)
    for weights in (None, taper_weights(10, 4), torch.ones(10)):
        torch.testing.assert_close(stitch_windows(windows, starts, 40, weights), sequence)  # windows agree: exact
    outputs = torch.randn(len(starts), 10, 5)  # windows that disagree
    torch.testing.assert_close(stitch_windows(outputs, starts, 40, torch.ones(10)), stitch_windows(outputs, starts, 40))
    weights = taper_weights(10, 4)
    frame = 20  # by hand: the weighted mean of the windows covering frame 20
    covering = [(i, frame - int(s)) for i, s in enumerate(starts) if 0 <= frame - int(s) < 10]
    expected = sum(weights[p] * outputs[i, p] for i, p in covering) / sum(weights[p] for _, p in covering)
    torch.testing.assert_close(stitch_windows(outputs, starts, 40, weights)[frame], expected)


def test_seamless_blending_removes_the_step_where_windows_meet() -> None:
    model = RefinementModel(WindowMean(), window=27, input_scale_mm=100.0)
    motion = _ramp()
    evaluation = model.refine_sequence(motion)["joints"]  # one window per frame: a step every 27 frames
    stride, taper = model.seamless()
    seamless = model.refine_sequence(motion, stride=stride, taper=taper)["joints"]
    plain = model.refine_sequence(motion, stride=stride)["joints"]  # the same windows, equal weights
    assert (stride, taper) == (9, 13)
    assert _largest_accel(evaluation) > 40.0  # a jump of 27 frames x 2 mm
    assert _largest_accel(seamless) < 0.2 * _largest_accel(plain) < 0.2 * _largest_accel(evaluation)


def test_the_evaluation_protocol_is_unchanged_by_default() -> None:
    torch.manual_seed(0)
    model = RefinementModel(WindowMean(), window=27)
    pred = torch.randn(70, 21, 3) * 20
    starts = torch.from_numpy(local_window_starts(70, 27, 27))
    by_hand = stitch_windows(model.run_net(cut_windows(pred, starts, 27)).joints, starts, 70)
    torch.testing.assert_close(model.refine_sequence(pred)["joints"], by_hand, rtol=0, atol=0)
    torch.testing.assert_close(model.refine_sequence(pred, stride=27, taper=0)["joints"], by_hand, rtol=0, atol=0)


def test_progress_callbacks_count_every_frame_once() -> None:
    model = RefinementModel(WindowMean(), window=27, eval_chunk=2)
    for length in (10, 27, 100):
        counted: list[int] = []
        model.refine_sequence(torch.randn(length, 21, 3), stride=9, taper=13, progress=counted.append)
        assert sum(counted) == length and all(n >= 0 for n in counted) and len(counted) > (length > 27)
        streamed: list[int] = []
        StreamingRefiner(model).refine_sequence(torch.randn(length, 21, 3), progress=streamed.append)
        assert sum(streamed) == length
