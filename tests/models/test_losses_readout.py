"""Streaming training (loss.readout): the frame a live stream reads gets the extra weight, nothing else changes."""

import pytest
import torch

from handprior.models.checkpoint import build_net
from handprior.models.losses import LossWeights, accel_loss, position_loss, readout_weights
from handprior.models.refiner import HandRefiner

NET = {"class_path": "handprior.models.nets.HandPriorNet", "init_args": {"dim": 16, "depth": 1, "num_heads": 2}}


def test_readout_weights_mark_the_frame_the_stream_reads():
    assert readout_weights(27, 0.0, 0) is None
    weights = readout_weights(27, 26.0, 0)
    assert weights[-1] == 27.0 and torch.all(weights[:-1] == 1.0)
    assert torch.argmax(readout_weights(27, 5.0, 4)) == 22
    with pytest.raises(ValueError, match="readout_lag"):
        readout_weights(27, 1.0, 27)


def test_the_weighted_loss_is_a_weighted_mean_over_frames():
    torch.manual_seed(0)
    pred, gt = torch.randn(2, 5, 21, 3) * 5, torch.randn(2, 5, 21, 3) * 5
    weights = readout_weights(5, 4.0, 0)[None, :, None]  # (1,T,1)
    per_frame = torch.stack([position_loss(pred[:, t], gt[:, t], 1.0) for t in range(5)])  # (T,)
    expected = (per_frame * torch.tensor([1.0, 1, 1, 1, 5])).sum() / 9.0
    torch.testing.assert_close(position_loss(pred, gt, 1.0, weights), expected)
    only_last = torch.zeros(5)
    only_last[-1] = 1.0
    late = accel_loss(pred, gt, only_last[None, :, None])
    assert late == 0.0  # no second difference has all three frames counted: the last frame has no t+1
    assert accel_loss(pred, gt, weights) != accel_loss(pred, gt)


def test_a_readout_model_trains_on_the_last_frame_more(tmp_path):
    torch.manual_seed(0)
    batch = {"pred": torch.randn(4, 27, 21, 3) * 30 + 400, "gt": torch.randn(4, 27, 21, 3) * 30 + 400}
    losses = {}
    for readout in (0.0, 27.0):
        torch.manual_seed(1)
        model = HandRefiner(build_net(NET), loss=LossWeights(readout=readout, verts=0, theta=0, beta=0))
        model.log = lambda *args, **kwargs: None  # no trainer attached
        loss = model.training_step(batch, 0)
        loss.backward()
        losses[readout] = loss.item()
    assert losses[0.0] != losses[27.0]
    assert HandRefiner(build_net(NET), loss=LossWeights(readout=27.0)).hparams["loss"]["readout"] == 27.0
