import pytest
import torch
from torchmetrics import MetricCollection

from handprior.metrics.functional import accel_errors, mpjpe
from handprior.metrics.modules import MPJPE, MPVPE, AccelError


def test_streaming_equals_functional_over_all_frames():
    torch.manual_seed(0)
    seqs = [(torch.randn(n, 21, 3) * 40, torch.randn(n, 21, 3) * 40) for n in (10, 33, 5)]
    metric, accel = MPJPE(), AccelError()
    for pred, gt in seqs:
        metric.update(pred, gt)
        accel.update(pred, gt)
    everything = torch.cat([mpjpe(p, g) for p, g in seqs])
    assert torch.isclose(metric.compute(), everything.mean().float())
    frames = torch.cat([accel_errors(p, g) for p, g in seqs])
    assert torch.isclose(accel.compute(), frames.mean().float())


def test_no_update_gives_nan_and_reset_clears():
    metric = MPJPE()
    with pytest.warns(UserWarning, match="before the ``update``"):  # torchmetrics says so; the value is NaN
        assert torch.isnan(metric.compute())
    metric.update(torch.ones(2, 21, 3), torch.ones(2, 21, 3) * 2)
    metric.reset()
    with pytest.warns(UserWarning, match="before the ``update``"):
        assert torch.isnan(metric.compute())


def test_collection_does_not_merge_equal_looking_metrics():
    gt = torch.randn(4, 21, 3) * 40
    collection = MetricCollection({"mpjpe": MPJPE(), "mpvpe": MPVPE()}, compute_groups=False)
    verts = torch.randn(4, 778, 3) * 40
    collection.update(pred_joints=gt, gt_joints=gt, pred_verts=verts, gt_verts=verts)
    noisy = gt.clone()
    noisy[:, 1:9] += 3  # neither the root nor the reference bone moves, so the mesh error stays 0
    collection.update(pred_joints=noisy, gt_joints=gt, pred_verts=verts, gt_verts=verts)
    out = collection.compute()
    assert out["mpjpe"] > 0 and torch.isclose(out["mpvpe"], torch.tensor(0.0), atol=1e-5)
