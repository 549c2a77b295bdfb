"""HandPriorNet: every ablation variant runs, the additions start as no-ops on the backbone, arguments are checked."""

from __future__ import annotations

import pytest
import torch

from handprior.models.nets import HandPriorNet, NetOutput
from handprior.models.nets.config import DTCConfig, GlobalBlockConfig, JointDTCConfig, MemoryConfig
from handprior.models.nets.dstformer import AttentionSublayer
from handprior.models.nets.dtc import DTCSublayer

B, T, J = 2, 9, 21
TINY = dict(num_joints=J, seq_len=T, dim=16, depth=2, num_heads=2, dim_rep=8, dtc=DTCConfig(groups=2, kernel_size=4))
NO_GLOBAL = GlobalBlockConfig(placement="none")
BACKBONE = dict(joint_dtc=JointDTCConfig(placement="none"), global_block=NO_GLOBAL, memory=MemoryConfig(tokens=0))


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
    *({"joint_dtc": JointDTCConfig(p)} for p in ("none", "head", "tail", "replace", "fusion", "tri_branch", "dual")),
    {"global_block": GlobalBlockConfig(attention=False)},
    {"global_block": GlobalBlockConfig(dtc=False)},
    {"global_block": GlobalBlockConfig(placement="parallel")},
    {"global_block": NO_GLOBAL, "joint_dtc": JointDTCConfig(level="hand")},
    {"global_block": NO_GLOBAL},
    *({"memory": MemoryConfig(tokens=m)} for m in (0, 1, 4, 8, 16)),
    {"memory": MemoryConfig(tokens=1, style="vit")},
    {"memory": MemoryConfig(tokens=1, style="vit", beta_supervision="every_block")},
    {"memory": MemoryConfig(beta_supervision="every_block")},
    {"global_block": NO_GLOBAL, "memory": MemoryConfig(tokens=2)},
    {"dtc": DTCConfig(groups=2, kernel_size=4, formulation="gather")},
    {"dropout": 0.1},
]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(f"{k}={val}" for k, val in v.items()))
def test_variant_forward_backward(variant: dict, x: torch.Tensor) -> None:
    torch.manual_seed(0)
    net = HandPriorNet(**{**TINY, **variant})
    out = run(net, x)
    every_block = variant.get("memory", MemoryConfig()).beta_supervision == "every_block"
    expected_blocks = TINY["depth"] - 1 if every_block else 0
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
    net = HandPriorNet(**TINY, joint_dtc=JointDTCConfig(placement))
    assert dtc_count(net) == per_block
    assert len(net.blocks[0].branches) == branches
    temporal_attention = sum(isinstance(m, AttentionSublayer) and m.axis == "temporal" for m in net.blocks[0].modules())
    assert temporal_attention == (0 if placement == "replace" else 2)  # tri_branch: S->T, T->S, S->DTC


def test_dual_dtc_follows_temporal_attention() -> None:
    net = HandPriorNet(**TINY, joint_dtc=JointDTCConfig("dual"))
    for branch in net.blocks[0].branches:
        for stage in branch.stages:
            has_dtc = stage.post_dtc is not None
            assert has_dtc == (stage.mixer.axis == "temporal")


@pytest.mark.parametrize("placement", ["head", "tail", "fusion", "dual"])
@pytest.mark.parametrize("hand_level", [False, True])
def test_additions_start_as_the_backbone(placement: str, hand_level: bool, x: torch.Tensor) -> None:
    torch.manual_seed(0)
    backbone = HandPriorNet(**TINY, **BACKBONE)
    variant = HandPriorNet(
        **TINY, **dict(BACKBONE, joint_dtc=JointDTCConfig(placement, "hand" if hand_level else "joint"))
    )
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
    net = HandPriorNet(**TINY, memory=MemoryConfig(tokens=1, style="vit"))
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
    ("make", "match"),
    [
        (lambda: JointDTCConfig("middle"), "placement"),
        (lambda: JointDTCConfig("none", "hand"), "level"),
        (lambda: GlobalBlockConfig(placement="before"), "placement"),
        (lambda: GlobalBlockConfig(attention=False, dtc=False), "global_block"),
        (lambda: MemoryConfig(style="lstm"), "style"),
        (lambda: MemoryConfig(beta_supervision="sometimes"), "beta_supervision"),
        (lambda: MemoryConfig(tokens=-1), "tokens"),
        (lambda: MemoryConfig(tokens=0, beta_supervision="every_block"), "tokens"),
        (lambda: DTCConfig(formulation="fft"), "formulation"),
        (lambda: DTCConfig(kernel_size=0), "kernel_size"),
        (lambda: HandPriorNet(**dict(TINY, num_heads=3)), "num_heads"),
        (lambda: HandPriorNet(**dict(TINY, dtc=DTCConfig(groups=3))), "groups"),
        (lambda: HandPriorNet(**dict(TINY, depth=0)), "depth"),
        (lambda: HandPriorNet(**dict(TINY, seq_len=0)), "seq_len"),
    ],
)
def test_invalid_arguments(make: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_invalid_input() -> None:
    net = HandPriorNet(**TINY)
    with pytest.raises(ValueError, match=r"\(B,T,J,3\)"):
        net(torch.randn(2, 9, 21 * 3))
    with pytest.raises(ValueError, match="seq_len"):
        net(torch.randn(1, 10, 21, 3))
