import pytest
import torch
from torchmetrics import MetricCollection
from torchmetrics.utilities.data import dim_zero_sum

from handprior.metrics.functional import accel_errors, mpjpe, mpvpe, mpvpe_joints, regress_joints
from handprior.metrics.modules import MPJPE, MPVPE, AccelError, MPVPEJoints


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
    collection = MetricCollection({"mpjpe": MPJPE(), "mpvpe_joints": MPVPEJoints()}, compute_groups=False)
    verts = torch.randn(4, 778, 3) * 40
    collection.update(pred_joints=gt, gt_joints=gt, pred_verts=verts, gt_verts=verts)
    noisy = gt.clone()
    noisy[:, 1:9] += 3  # neither the root nor the reference bone moves, so the mesh error stays 0
    collection.update(pred_joints=noisy, gt_joints=gt, pred_verts=verts, gt_verts=verts)
    out = collection.compute()
    assert out["mpjpe"] > 0 and torch.isclose(out["mpvpe_joints"], torch.tensor(0.0), atol=1e-5)


def test_both_mpvpe_metrics_stream_sum_and_count_states():
    torch.manual_seed(1)
    regressor = torch.rand(21, 778)
    regressor = regressor / regressor.sum(dim=1, keepdim=True)  # (21,778)
    batches = []
    for n in (3, 8, 1):
        gt_v = torch.randn(n, 778, 3) * 40
        batches.append((gt_v + torch.randn(n, 778, 3) * 2, gt_v))
    cited, by_joints = MPVPE(), MPVPEJoints()
    cited_frames, joints_frames = [], []
    for pred_v, gt_v in batches:
        gt_j = regress_joints(gt_v, regressor)  # (n,21,3); also given for the prediction: not its own joints
        cited.update(pred_v, gt_v, regressor)
        by_joints.update(pred_v, gt_v, gt_j, gt_j)
        cited_frames.append(mpvpe(pred_v, gt_v, regressor))
        joints_frames.append(mpvpe_joints(pred_v, gt_v, gt_j, gt_j))
    assert torch.isclose(cited.compute(), torch.cat(cited_frames).double().mean().float())
    assert torch.isclose(by_joints.compute(), torch.cat(joints_frames).double().mean().float())
    assert not torch.isclose(cited.compute(), by_joints.compute())
    for metric, state in ((cited, "mpvpe"), (by_joints, "mpvpe_joints")):
        assert getattr(metric, f"{state}_count") == 12  # frames, not batches
        assert torch.isclose(getattr(metric, f"{state}_sum"), metric.compute().double() * 12, rtol=1e-6)
        assert metric._reductions[f"{state}_sum"] is dim_zero_sum  # dist_reduce_fx="sum"
        assert metric._reductions[f"{state}_count"] is dim_zero_sum
