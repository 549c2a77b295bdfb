"""Where the joint-level DTC goes in a spatio-temporal block: the rows of the paper's Table 1, as data.

A :class:`BlockLayout` names the stages of every branch and the DTC slots that are filled; :func:`build_block`
builds any layout from the same backbone modules, so the backbone's parameter names do not depend on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from handprior.models.nets.config import JointDTCPlacement
from handprior.models.nets.dstformer import AttentionSublayer, Branch, MLPSublayer, Stage, STBlock
from handprior.models.nets.dtc import DTCSublayer


@dataclass(frozen=True)
class BlockLayout:
    """The layout of one spatio-temporal block.

    branches: one string per branch, its stages in order: "S" spatial attention, "T" temporal attention, "D" a
        DTC stage (DTC + MLP, temporal mixing by DTC instead of attention). The branches are fused per token.
    dtc_after_temporal: a DTC sublayer right after every temporal attention.
    dtc_at_branch_head, dtc_at_branch_tail: a DTC sublayer at the head / tail of every branch.
    dtc_after_fusion: one DTC sublayer after the fused branches.
    """

    branches: tuple[str, ...] = ("ST", "TS")
    dtc_after_temporal: bool = False
    dtc_at_branch_head: bool = False
    dtc_at_branch_tail: bool = False
    dtc_after_fusion: bool = False


LAYOUTS: dict[JointDTCPlacement, BlockLayout] = {
    "none": BlockLayout(),  # Dual-branch (Baseline) = MotionBERT
    "head": BlockLayout(dtc_at_branch_head=True),  # Head Insertion (a)
    "tail": BlockLayout(dtc_at_branch_tail=True),  # Tail Insertion (b)
    "replace": BlockLayout(branches=("SD", "DS")),  # Replacement (c)
    "fusion": BlockLayout(dtc_after_fusion=True),  # Fusion Insertion (d)
    "tri_branch": BlockLayout(branches=("ST", "TS", "SD")),  # Tri-branch (e)
    "dual": BlockLayout(dtc_after_temporal=True),  # Dynamic Dual-branch (ours)
}


def build_block(
    layout: BlockLayout, dim: int, num_heads: int, mlp_ratio: float, dropout: float, dtc: Callable[[], DTCSublayer]
) -> STBlock:
    """A spatio-temporal block on x (B,T,J,C) laid out as ``layout``; ``dtc`` makes one DTC sublayer.

    Modules are made in forward order (stage by stage, each stage's mixer, MLP, then its DTC; a branch's head
    and tail DTC after its stages; the post-fusion DTC last), which fixes their random initialisation.
    """

    def stage(kind: str) -> Stage:
        if kind == "D":
            return Stage(dtc(), MLPSublayer(dim, mlp_ratio, dropout))
        mixer = AttentionSublayer(dim, num_heads, "spatial" if kind == "S" else "temporal", dropout)
        post_dtc = kind == "T" and layout.dtc_after_temporal
        return Stage(mixer, MLPSublayer(dim, mlp_ratio, dropout), dtc() if post_dtc else None)

    branches = [
        Branch(
            [stage(kind) for kind in kinds],
            dtc() if layout.dtc_at_branch_head else None,
            dtc() if layout.dtc_at_branch_tail else None,
        )
        for kinds in layout.branches
    ]
    return STBlock(branches, dim, dtc() if layout.dtc_after_fusion else None)
