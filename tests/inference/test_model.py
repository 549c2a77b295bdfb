"""The inference object: how it windows a whole sequence (``eval_stride``), and its checkpoint loader."""

from pathlib import Path

import pytest
import torch

from handprior.inference.model import RefinementModel
from handprior.models.nets import HandPriorNet
from handprior.models.nets.config import DTCConfig, MemoryConfig
from handprior.models.refiner import HandRefiner


def _windows_seen(model: RefinementModel, length: int) -> int:
    seen = []
    handle = model.net.register_forward_hook(lambda module, args, out: seen.append(args[0].shape[0]))
    out = model.refine_sequence(torch.randn(length, 21, 3) * 30)
    handle.remove()
    assert out["joints"].shape == (length, 21, 3)
    return sum(seen)


def _model(**kwargs) -> RefinementModel:
    net = HandPriorNet(dim=8, depth=1, num_heads=1, dim_rep=8, dtc=DTCConfig(groups=1), memory=MemoryConfig(tokens=2))
    return RefinementModel(net, window=27, **kwargs).eval()


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


def test_the_lightning_module_and_the_checkpoint_loader_refine_alike(checkpoint: Path, hand) -> None:
    sequence = torch.from_numpy(hand(70)).float()
    loaded = RefinementModel.from_checkpoint(checkpoint, eval_stride=9)
    module = HandRefiner.load_from_checkpoint(checkpoint, eval_stride=9).eval()
    assert module.inference.net is module.net and loaded.eval_stride == module.inference.eval_stride == 9
    ours, theirs = loaded.refine_sequence(sequence), module.inference.refine_sequence(sequence)
    for key in ("joints", "theta", "beta"):
        torch.testing.assert_close(ours[key], theirs[key], rtol=0, atol=0)
    torch.testing.assert_close(module(sequence[None, :27]).joints[0], loaded.run_net(sequence[None, :27]).joints[0])


def test_evaluation_settings_are_not_stored_with_the_weights() -> None:
    module = HandRefiner(
        net=HandPriorNet(dim=8, depth=1, num_heads=1, dim_rep=8, memory=MemoryConfig(tokens=2)), eval_stride=9
    )
    assert module.inference.eval_stride == 9
    assert not {"eval_stride", "eval_chunk", "accel_pad"} & set(module.hparams)
