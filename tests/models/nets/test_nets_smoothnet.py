"""SmoothNet: shapes, joints only, per-channel temporal mapping, argument checks."""

from __future__ import annotations

import pytest
import torch

from handprior.models.nets import SmoothNet


def test_forward_backward_shapes() -> None:
    torch.manual_seed(0)
    net = SmoothNet(seq_len=27, hidden=32, res_hidden=16, num_blocks=2, dropout=0.5)
    x = torch.randn(3, 27, 21, 3)
    out = net(x)
    assert out.joints.shape == x.shape
    assert out.theta is None and out.beta is None and out.beta_blocks == []
    out.joints.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_channels_are_independent_signals() -> None:
    torch.manual_seed(0)
    net = SmoothNet(seq_len=8, hidden=16, res_hidden=8, dropout=0.0).eval()
    x = torch.randn(2, 8, 21, 3)
    y = x.clone()
    y[:, :, 5, 1] += torch.randn(2, 8)  # change one coordinate channel of one joint
    changed = (net(x).joints - net(y).joints).abs().amax(dim=(0, 1)) > 0  # (J,3)
    assert changed[5, 1] and changed.sum() == 1


def test_residual_option() -> None:
    torch.manual_seed(0)
    plain = SmoothNet(seq_len=8, hidden=16, res_hidden=8, dropout=0.0)
    residual = SmoothNet(seq_len=8, hidden=16, res_hidden=8, dropout=0.0, residual=True)
    residual.load_state_dict(plain.state_dict())
    x = torch.randn(2, 8, 21, 3)
    torch.testing.assert_close(residual(x).joints, plain(x).joints + x)


def test_window_length_must_match() -> None:
    with pytest.raises(ValueError, match="27 frames"):
        SmoothNet(seq_len=27)(torch.randn(1, 9, 21, 3))
    with pytest.raises(ValueError, match="num_blocks"):
        SmoothNet(num_blocks=-1)
