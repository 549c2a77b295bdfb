"""Masked training losses: all-valid weights give exactly the unmasked values; masked joints do not count."""

import torch

from handprior.models.losses import accel_loss, frame_weights, param_loss, position_loss, relative_weights


def _pair(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    gt = torch.randn(4, 9, 21, 3) * 30
    return gt + torch.randn_like(gt) * 3, gt


def test_all_valid_weights_give_exactly_the_unmasked_losses():
    pred, gt = _pair()
    valid = torch.ones(4, 9, 21, dtype=torch.bool)
    weights = relative_weights(valid)
    assert position_loss(pred, gt, 1.0, weights).item() == position_loss(pred, gt, 1.0).item()
    assert accel_loss(pred, gt, weights).item() == accel_loss(pred, gt).item()
    theta = torch.randn(4, 9, 48), torch.randn(4, 9, 48)
    assert param_loss(*theta, 0.1, frame_weights(valid)).item() == param_loss(*theta, 0.1).item()
    assert relative_weights(None) is None and frame_weights(None) is None


def test_masked_joints_do_not_count():
    pred, gt = _pair(1)
    valid = torch.ones(4, 9, 21, dtype=torch.bool)
    valid[:, 4, 7] = False  # joint 7 unannotated at frame 4 of every window
    valid[2, :, 0] = False  # window 2 has no wrist anywhere: its root-relative terms count nothing
    moved = gt.clone()
    moved[:, 4, 7] += 500.0  # a placeholder anywhere else must not change the masked loss
    moved[2] += 300.0
    weights = relative_weights(valid)
    assert torch.isclose(position_loss(pred, moved, 1.0, weights), position_loss(pred, gt, 1.0, weights))
    assert torch.isclose(accel_loss(pred, moved, weights), accel_loss(pred, gt, weights))
    assert not torch.isclose(position_loss(pred, moved, 1.0), position_loss(pred, gt, 1.0))  # unmasked: it does
    # the masked mean is the mean over the counted elements
    keep = weights.bool()
    expected = torch.nn.functional.smooth_l1_loss(pred[keep], gt[keep], beta=1.0)
    assert torch.isclose(position_loss(pred, gt, 1.0, weights), expected)
    counted = weights[:, :-2] * weights[:, 1:-1] * weights[:, 2:]  # (4,7,21)
    assert counted[:, 2:5, 7].sum() == 0 and counted[2].sum() == 0 and counted[0, 0].sum() == 21
    # a frame with an invalid joint carries no MANO supervision (the MPVPE rule)
    assert frame_weights(valid)[:, 4].sum() == 0 and frame_weights(valid)[0, 3] == 1
    assert position_loss(pred, gt, 1.0, torch.zeros(4, 9, 21)).item() == 0.0  # nothing counted: 0, not NaN
