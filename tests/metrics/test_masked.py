"""Metrics with a ground-truth validity mask: hand-computed values, and all-valid masks equal the unmasked metric
to the last bit (so the synthetic benchmark's numbers, which carry no mask, cannot change)."""

import torch

from handprior.metrics.functional import accel_weights, aligned_errors, joint_weights, weighted_frame_mean
from handprior.metrics.modules import MPJPE, MPVPE, AccelError, MPVPEJoints, sequence_scores


def _hand(frames: int, seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)
    return torch.randn(frames, 21, 3, dtype=torch.float32) * 40


def test_all_valid_masks_give_exactly_the_unmasked_values():
    regressor = torch.rand(21, 778)
    regressor = regressor / regressor.sum(dim=1, keepdim=True)
    for pad in (False, True):
        pairs = [(_hand(n, n), _hand(n, n + 100)) for n in (1, 2, 17, 40)]
        metrics = {"mpjpe": (MPJPE(), MPJPE()), "accel": (AccelError(pad=pad), AccelError(pad=pad))}
        for pred, gt in pairs:
            valid = torch.ones(len(gt), 21, dtype=torch.bool)
            for plain, masked in metrics.values():
                plain.update(pred, gt)
                masked.update(pred, gt, valid)
        for name, (plain, masked) in metrics.items():
            assert masked.compute().item() == plain.compute().item(), (name, pad)
    verts = torch.randn(6, 778, 3) * 40, torch.randn(6, 778, 3) * 40
    joints = _hand(6, 1), _hand(6, 2)
    valid = torch.ones(6, 21, dtype=torch.bool)
    for plain, masked, args in ((MPVPE(), MPVPE(), (*verts, regressor)), (MPVPEJoints(), MPVPEJoints(), (*verts, *joints))):
        plain.update(*args)
        masked.update(*args, valid)
        assert masked.compute().item() == plain.compute().item()
    assert sequence_scores(pairs) == sequence_scores((p, g, torch.ones(len(g), 21, dtype=torch.bool)) for p, g in pairs)


def test_masked_mpjpe_is_the_mean_over_counted_joints():
    gt = torch.zeros(2, 21, 3)
    gt[:, :, 1] = torch.arange(21.0) * 10  # joint j at y = 10 j mm: wrist at 0, middle MCP at 90
    pred = gt.clone()
    pred[0, 3, 0] += 4.0  # frame 0: joint 3 off by 4 mm (the bone, wrist and MCP are unchanged: scale 1)
    pred[0, 5, 0] += 8.0  # frame 0: joint 5 off by 8 mm, but invalid in the ground truth
    pred[1, 7, 0] += 6.0  # frame 1: joint 7 off by 6 mm, but the frame's middle MCP is invalid
    valid = torch.ones(2, 21, dtype=torch.bool)
    valid[0, 5] = False
    valid[1, 9] = False  # no reference bone: frame 1 cannot be scale-aligned and counts nothing
    metric = MPJPE()
    metric.update(pred, gt, valid)
    assert torch.isclose(metric.compute(), torch.tensor(4.0 / 20))  # 20 counted joints, one off by 4 mm
    root_only = MPJPE(scale=False)
    root_only.update(pred, gt, valid)
    assert torch.isclose(root_only.compute(), torch.tensor((4.0 + 6.0) / 40))  # without scaling the MCP is free
    plain = MPJPE()
    plain.update(pred, gt)
    assert torch.isclose(plain.compute(), torch.tensor((12.0 / 21 + 6.0 / 21) / 2))  # unmasked counts it all


def test_masked_mpjpe_weighs_joints_not_frames_and_sums_exactly_across_updates():
    pred, gt = _hand(5, 3), _hand(5, 4)
    valid = torch.rand(5, 21, generator=torch.Generator().manual_seed(0)) > 0.3
    valid[:, [0, 9]] = True
    errors = aligned_errors(pred, gt)  # (5,21)
    expected = errors[valid].double().mean()
    whole, split = MPJPE(), MPJPE()
    whole.update(pred, gt, valid)
    split.update(pred[:2], gt[:2], valid[:2])
    split.update(pred[2:], gt[2:], valid[2:])  # what DDP's sum of the states amounts to
    assert torch.isclose(whole.compute().double(), expected, rtol=1e-6)
    assert torch.isclose(split.compute(), whole.compute())
    assert torch.isclose(whole.mpjpe_count, valid.sum().double() / 21)  # the state is a weight, not a frame count


def test_masked_accel_counts_a_joint_only_where_it_is_valid_in_all_three_frames():
    gt = torch.zeros(5, 21, 3)
    pred = gt.clone()
    pred[2, 4, 0] = 1.0  # joint 4 jumps at frame 2: second differences 1, -2, 1 at frames 1, 2, 3
    valid = torch.ones(5, 21, dtype=torch.bool)
    valid[4, 4] = False  # joint 4 invalid at the last frame: its acceleration at frame 3 does not count
    weights = accel_weights(valid)  # (3,21): frames 1, 2, 3
    assert weights[:, 4].tolist() == [1.0, 1.0, 0.0] and weights.sum() == 3 * 21 - 1
    metric = AccelError()
    metric.update(pred, gt, valid)
    assert torch.isclose(metric.compute(), torch.tensor((1.0 + 2.0) / (3 * 21 - 1)))
    no_wrist = valid.clone()
    no_wrist[1, 0] = False  # the wrist (every joint's reference) invalid at frame 1: accelerations at 1, 2 count nothing
    assert accel_weights(no_wrist)[:2].sum() == 0 and accel_weights(no_wrist)[2].sum() == 20
    padded = AccelError(pad=True)
    padded.update(pred, gt, valid)
    assert torch.isclose(padded.compute(), torch.tensor(3.0 / (3 * 21 - 1 + 2 * 21)))  # two zero frames, weight 1


def test_mpvpe_counts_only_frames_whose_joints_are_all_valid():
    regressor = torch.rand(21, 778)
    regressor = regressor / regressor.sum(dim=1, keepdim=True)
    gt_v = torch.randn(3, 778, 3) * 40
    pred_v = gt_v.clone()
    pred_v[1] += torch.randn(778, 3) * 5  # only frame 1 is wrong, and one of its joints is invalid
    valid = torch.ones(3, 21, dtype=torch.bool)
    valid[1, 12] = False
    for metric, args in ((MPVPE(), (pred_v, gt_v, regressor)), (MPVPEJoints(), (pred_v, gt_v, _hand(3), _hand(3)))):
        metric.update(*args, valid)
        if isinstance(metric, MPVPE):
            assert metric.compute().item() < 1e-4  # frames 0 and 2 are exact; frame 1 is left out
        count = metric.mpvpe_count if isinstance(metric, MPVPE) else metric.mpvpe_joints_count
        assert count == 2


def test_weights_helpers_shapes_and_the_frame_mean():
    valid = torch.ones(4, 21, dtype=torch.bool)
    valid[1, 0] = False  # no wrist: nothing counts in frame 1
    valid[2, 9] = False  # no middle MCP: nothing counts when scaling, the rest does without
    assert joint_weights(valid).sum(dim=-1).tolist() == [21, 0, 0, 21]
    assert joint_weights(valid, scale=False).sum(dim=-1).tolist() == [21, 0, 20, 21]
    errors = torch.arange(84.0).reshape(4, 21)
    value, weight = weighted_frame_mean(errors, joint_weights(valid, scale=False))
    assert torch.allclose(weight, torch.tensor([1.0, 0.0, 20 / 21, 1.0])) and value[1] == 0
    assert value[0] == errors[0].mean() and torch.isclose(value[2], errors[2][torch.arange(21) != 9].mean())
