"""How HandRefiner windows a whole sequence for evaluation (``eval_stride``)."""

import pytest
import torch

from handprior.models.nets import HandPriorNet
from handprior.models.refiner import HandRefiner


def _windows_seen(model: HandRefiner, length: int) -> int:
    seen = []
    handle = model.net.register_forward_hook(lambda module, args, out: seen.append(args[0].shape[0]))
    out = model.refine_sequence(torch.randn(length, 21, 3) * 30)
    handle.remove()
    assert out["joints"].shape == (length, 21, 3)
    return sum(seen)


def _model(**kwargs) -> HandRefiner:
    net = HandPriorNet(dim=8, depth=1, num_heads=1, dim_rep=8, dtc_groups=1, memory_tokens=2)
    return HandRefiner(net=net, window=27, **kwargs).eval()


def test_by_default_every_frame_is_predicted_by_one_window() -> None:
    # 60 frames: windows start at 0 and 27, and the last one is aligned to the end (33).
    assert _windows_seen(_model(), 60) == 3
    assert _windows_seen(_model(), 54) == 2


def test_a_smaller_stride_averages_overlapping_windows() -> None:
    assert _windows_seen(_model(eval_stride=9), 60) == 5  # 0, 9, 18, 27, 33
    assert _windows_seen(_model(eval_stride=1), 60) == 34


def test_a_stride_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="eval_stride"):
        _model(eval_stride=0)
