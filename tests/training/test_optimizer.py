"""The training optimiser: fused AdamW where the parameters allow it, the same update as the default one."""

from __future__ import annotations

import torch
from torch import nn

from handprior.training.optimizer import adamw


def test_fused_on_cpu_and_the_same_update_as_the_default() -> None:
    torch.manual_seed(0)
    a = nn.Sequential(nn.Linear(5, 7), nn.GELU(), nn.Linear(7, 3))
    b = nn.Sequential(nn.Linear(5, 7), nn.GELU(), nn.Linear(7, 3))
    b.load_state_dict(a.state_dict())
    fused, default = (
        adamw(a.parameters(), lr=1e-2, weight_decay=0.05),
        torch.optim.AdamW(b.parameters(), lr=1e-2, weight_decay=0.05),
    )
    assert fused.param_groups[0]["fused"] is True
    x = torch.randn(16, 5)
    for _ in range(3):
        for net, opt in ((a, fused), (b, default)):
            opt.zero_grad()
            net(x).square().mean().backward()
            opt.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6)


def test_unfused_where_a_parameter_is_not_on_a_fused_device() -> None:
    with torch.device("meta"):
        meta = nn.Linear(3, 3)
    assert not adamw(meta.parameters(), lr=1e-3).param_groups[0]["fused"]
