"""HandPriorNet: every ablation variant runs, the additions start as no-ops on the backbone, arguments are checked."""

from __future__ import annotations

import pytest
import torch

from handprior.models.nets import HandPriorNet, NetOutput
from handprior.models.nets.dstformer import AttentionSublayer
from handprior.models.nets.dtc import DTCSublayer

B, T, J = 2, 9, 21
TINY = dict(num_joints=J, seq_len=T, dim=16, depth=2, num_heads=2, dim_rep=8, dtc_groups=2, dtc_kernel=4)
BACKBONE = dict(joint_dtc="none", global_block=False, memory_tokens=0)


def run(net: HandPriorNet, x: torch.Tensor) -> NetOutput:
    """Forward + backward; checks shapes, finiteness and that every parameter receives a gradient."""
    out = net(x)
    assert out.joints.shape == (B, T, J, 3)
    assert out.theta.shape == (B, T, 48)
    assert out.beta.shape == (B, 10)
    loss = out.joints.square().mean() + out.theta.square().mean() + out.beta.square().mean()
    loss = loss + sum(b.square().mean() for b in out.beta_blocks)
    loss.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, f"{name} is not used"
        assert torch.isfinite(p.grad).all(), name
    assert all(torch.isfinite(t).all() for t in (out.joints, out.theta, out.beta))
    return out


@pytest.fixture
def x() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(B, T, J, 3)


VARIANTS = [
    *({"joint_dtc": p} for p in ("none", "head", "tail", "replace", "fusion", "tri_branch", "dual")),
    {"global_attention": False},
    {"global_dtc": False},
    {"global_placement": "parallel"},
    {"global_block": False, "hand_dtc_replaces_joint": True},
    {"global_block": False},
    *({"memory_tokens": m} for m in (0, 1, 4, 8, 16)),
    {"memory_style": "vit", "memory_tokens": 1},
    {"memory_style": "vit", "memory_tokens": 1, "beta_supervision": "every_block"},
    {"beta_supervision": "every_block"},
    {"global_block": False, "memory_tokens": 2},
    {"dtc_formulation": "gather"},
    {"dropout": 0.1},
]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(f"{k}={val}" for k, val in v.items()))
def test_variant_forward_backward(variant: dict, x: torch.Tensor) -> None:
    torch.manual_seed(0)
    net = HandPriorNet(**TINY, **variant)
    out = run(net, x)
    expected_blocks = TINY["depth"] - 1 if variant.get("beta_supervision") == "every_block" else 0
    assert len(out.beta_blocks) == expected_blocks  # intermediate blocks; out.beta is the last block's
    for beta in out.beta_blocks:
        assert beta.shape == (B, 10) and not torch.allclose(beta, out.beta)


def test_shorter_window(x: torch.Tensor) -> None:
    out = HandPriorNet(**TINY)(x[:, :5])
    assert out.joints.shape == (B, 5, J, 3)


def dtc_count(net: HandPriorNet) -> int:
    return sum(isinstance(m, DTCSublayer) for m in net.blocks[0].modules())


@pytest.mark.parametrize(
    ("placement", "per_block", "branches"),
    [("none", 0, 2), ("head", 2, 2), ("tail", 2, 2), ("replace", 2, 2), ("fusion", 1, 2), ("tri_branch", 1, 3),
     ("dual", 2, 2)],
)  # fmt: skip
def test_placement_structure(placement: str, per_block: int, branches: int) -> None:
    net = HandPriorNet(**TINY, joint_dtc=placement)
    assert dtc_count(net) == per_block
    assert len(net.blocks[0].branches) == branches
    temporal_attention = sum(isinstance(m, AttentionSublayer) and m.axis == "temporal" for m in net.blocks[0].modules())
    assert temporal_attention == (0 if placement == "replace" else 2)  # tri_branch: S->T, T->S, S->DTC


def test_dual_dtc_follows_temporal_attention() -> None:
    net = HandPriorNet(**TINY, joint_dtc="dual")
    for branch in net.blocks[0].branches:
        for stage in branch.stages:
            has_dtc = stage.post_dtc is not None
            assert has_dtc == (stage.mixer.axis == "temporal")


@pytest.mark.parametrize("placement", ["head", "tail", "fusion", "dual"])
@pytest.mark.parametrize("hand_level", [False, True])
def test_additions_start_as_the_backbone(placement: str, hand_level: bool, x: torch.Tensor) -> None:
    torch.manual_seed(0)
    backbone = HandPriorNet(**TINY, **BACKBONE)
    variant = HandPriorNet(**TINY, **dict(BACKBONE, joint_dtc=placement, hand_dtc_replaces_joint=hand_level))
    missing, unexpected = variant.load_state_dict(backbone.state_dict(), strict=False)
    assert not unexpected  # every backbone parameter has the same name in the variant
    assert missing and all(".dtc." in name or "_dtc" in name for name in missing)
    a, b = backbone(x), variant(x)
    assert torch.equal(a.joints, b.joints) and torch.equal(a.theta, b.theta) and torch.equal(a.beta, b.beta)


def test_backbone_has_no_additions() -> None:
    net = HandPriorNet(**TINY, **BACKBONE)
    assert dtc_count(net) == 0 and net.global_blocks is None and net.memory is None
    assert all(len(b.branches) == 2 for b in net.blocks)
    orders = [[s.mixer.axis for s in branch.stages] for branch in net.blocks[0].branches]
    assert orders == [["spatial", "temporal"], ["temporal", "spatial"]]


def test_memory_reaches_the_joints(x: torch.Tensor) -> None:
    torch.manual_seed(0)
    net = HandPriorNet(**TINY)
    before = net(x).joints
    with torch.no_grad():
        net.memory.tokens.add_(torch.randn_like(net.memory.tokens))  # LN would remove a constant shift
    assert not torch.allclose(before, net(x).joints)


def test_windows_are_independent(x: torch.Tensor) -> None:
    torch.manual_seed(0)
    net = HandPriorNet(**TINY, memory_style="vit", memory_tokens=1)
    out = net(x)
    torch.testing.assert_close(net(x[:1]).joints, out.joints[:1], rtol=1e-5, atol=1e-6)


def test_initialisation() -> None:
    net = HandPriorNet(**TINY)
    fusion = net.blocks[0].fusion.weight
    assert torch.equal(fusion.weight, torch.zeros_like(fusion.weight))
    assert torch.equal(fusion.bias, torch.full_like(fusion.bias, 0.5))
    assert torch.equal(net.blocks[0].branches[0].stages[1].post_dtc.dtc.mod_proj.weight.abs().sum(), torch.tensor(0.0))
    assert net.joint_head.bias.abs().sum() == 0
    assert 0.015 < net.blocks[0].branches[0].stages[0].mlp.mlp[0].weight.std() < 0.025


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"joint_dtc": "middle"}, "joint_dtc"),
        ({"global_placement": "before"}, "global_placement"),
        ({"memory_style": "lstm"}, "memory_style"),
        ({"beta_supervision": "sometimes"}, "beta_supervision"),
        ({"dtc_formulation": "fft"}, "dtc_formulation"),
        ({"num_heads": 3}, "num_heads"),
        ({"dtc_groups": 3}, "dtc_groups"),
        ({"memory_tokens": -1}, "memory_tokens"),
        ({"depth": 0}, "depth"),
        ({"global_attention": False, "global_dtc": False}, "global_block"),
        ({"joint_dtc": "none", "hand_dtc_replaces_joint": True}, "hand_dtc_replaces_joint"),
        ({"memory_tokens": 0, "beta_supervision": "every_block"}, "memory_tokens"),
    ],
)
def test_invalid_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        HandPriorNet(**dict(TINY, **kwargs))


def test_invalid_input() -> None:
    net = HandPriorNet(**TINY)
    with pytest.raises(ValueError, match=r"\(B,T,J,3\)"):
        net(torch.randn(2, 9, 21 * 3))
    with pytest.raises(ValueError, match="seq_len"):
        net(torch.randn(1, 10, 21, 3))
