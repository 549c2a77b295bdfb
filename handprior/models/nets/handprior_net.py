"""The paper's network: DSTformer backbone + joint-level DTC + global temporal block + hand prior memory
(docs/architecture.md, "The network").

Input x (B,T,J,3): a window of noisy joints, centred on its mean wrist and divided by 100 mm by the caller.
Output :class:`NetOutput`: refined joints (B,T,J,3) = x + head(features), MANO theta (B,T,48) from the
joint-pooled features of each frame, MANO beta (B,10) from the final memory (or from features pooled over
frames and joints when the memory is off).

Every ablation of the paper's Tables 1-3 is a setting of the typed configuration (:mod:`.config`). With
``joint_dtc.placement="none"``, ``global_block.placement="none"`` and ``memory.tokens=0`` the network is exactly
the MotionBERT DSTformer ("Dual-branch (Baseline)").
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from handprior.models.nets.block_layout import LAYOUTS, build_block
from handprior.models.nets.config import (
    DEFAULT_DTC,
    DEFAULT_GLOBAL_BLOCK,
    DEFAULT_JOINT_DTC,
    DEFAULT_MEMORY,
    DTCConfig,
    GlobalBlockConfig,
    JointDTCConfig,
    MemoryConfig,
)
from handprior.models.nets.dstformer import Embedding, RepresentationHead, init_weights
from handprior.models.nets.dtc import DTCSublayer
from handprior.models.nets.global_block import GlobalTemporalBlock
from handprior.models.nets.memory import BetaHead, HandPriorMemory
from handprior.models.nets.output import NetOutput

THETA_DIM = 48  # 3 global orientation + 45 finger articulation, axis-angle
BETA_DIM = 10


class HandPriorNet(nn.Module):
    """Prior-aware dynamic temporal network (ICCV 2025) for window-wise 3D hand pose refinement.

    Defaults are a CPU-sized full model (every addition on); ``configs/paper.yaml`` sets the paper's size
    (dim 512, depth 5, heads 8, dim_rep 512, kernel 8).

    Args:
        num_joints: joints J per frame.
        seq_len: window length T the temporal embedding is sized for (shorter windows are allowed).
        dim: channels C of the backbone.
        depth: number of spatio-temporal blocks N.
        num_heads: attention heads (all attentions).
        mlp_ratio: MLP hidden size relative to C.
        dim_rep: channels of the tanh motion representation the heads read.
        dropout: dropout on the embedding and on sublayer outputs.
        joint_dtc: where the joint-level dynamic temporal convolution goes (Table 1).
        dtc: the dynamic temporal convolution, for every DTC of the network.
        global_block: the global temporal block (Table 2).
        memory: the hand prior memory (Table 3).
    """

    def __init__(
        self,
        num_joints: int = 21,
        seq_len: int = 27,
        dim: int = 32,
        depth: int = 2,
        num_heads: int = 2,
        mlp_ratio: float = 2.0,
        dim_rep: int = 32,
        dropout: float = 0.0,
        joint_dtc: JointDTCConfig = DEFAULT_JOINT_DTC,
        dtc: DTCConfig = DEFAULT_DTC,
        global_block: GlobalBlockConfig = DEFAULT_GLOBAL_BLOCK,
        memory: MemoryConfig = DEFAULT_MEMORY,
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.global_placement, self.beta_supervision = global_block.placement, memory.beta_supervision

        def make_dtc() -> DTCSublayer:
            return DTCSublayer(dim, dtc, joint_dtc.level, dropout)

        layout = LAYOUTS[joint_dtc.placement]
        self.embed = Embedding(num_joints, seq_len, dim, dropout)
        self.blocks = nn.ModuleList(
            build_block(layout, dim, num_heads, mlp_ratio, dropout, make_dtc) for _ in range(depth)
        )
        global_dtc = dtc if global_block.dtc else None
        self.global_blocks = (
            nn.ModuleList(
                GlobalTemporalBlock(dim, num_heads, mlp_ratio, global_block.attention, global_dtc, dropout)
                for _ in range(depth)
            )
            if global_block.placement != "none"
            else None
        )
        self.memory = (
            HandPriorMemory(dim, memory.tokens, depth, num_heads, mlp_ratio, memory.style, dropout)
            if memory.tokens > 0
            else None
        )
        self.rep = RepresentationHead(dim, dim_rep)
        self.joint_head = nn.Linear(dim_rep, 3)
        self.theta_head = nn.Linear(dim_rep, THETA_DIM)
        self.beta_head = BetaHead(dim if memory.tokens > 0 else dim_rep, BETA_DIM)
        self._init_weights()

    def _init_weights(self) -> None:
        """Linear trunc-normal 0.02 / bias 0 everywhere, then the zero-start DTCs and the 0.5/0.5 fusions."""
        self.apply(init_weights)
        for module in self.modules():
            if hasattr(module, "reset_dynamic_parameters"):
                module.reset_dynamic_parameters()
            if hasattr(module, "reset_fusion"):
                module.reset_fusion()

    def forward(self, x: Tensor) -> NetOutput:
        """x (B,T,J,3) normalised joints -> NetOutput(joints (B,T,J,3), theta (B,T,48), beta (B,10), ...)."""
        if x.dim() != 4 or x.shape[-1] != 3:
            raise ValueError(f"HandPriorNet expects joints (B,T,J,3), got shape {tuple(x.shape)}")
        h = self.embed(x)  # (B,T,J,C)
        memory = self.memory.hook(x.shape[0]) if self.memory is not None else None  # tokens (B,M,C)
        beta_blocks = []
        for i, block in enumerate(self.blocks):
            if self.global_blocks is not None and self.global_placement == "parallel":
                update, g = self.global_blocks[i](h)  # (B,T,C) each, from the block's input
                h = block(h, memory)
                h = h + update.unsqueeze(2)  # (B,T,1,C) broadcast over joints
            else:
                h = block(h, memory)
                if self.global_blocks is not None:
                    update, g = self.global_blocks[i](h)
                    h = h + update.unsqueeze(2)
                else:
                    g = h.mean(dim=2)  # (B,T,C): memory context when the global block is off
            if self.memory is not None:
                memory.tokens = self.memory.update(i, memory.tokens, g)
                if self.beta_supervision == "every_block" and i < len(self.blocks) - 1:
                    beta_blocks.append(self.beta_head(memory.tokens))  # intermediate blocks; the last is `beta`
        rep = self.rep(h)  # (B,T,J,C_rep)
        joints = x + self.joint_head(rep)  # (B,T,J,3) residual refinement
        theta = self.theta_head(rep.mean(dim=2))  # (B,T,48)
        if memory is not None:
            beta = self.beta_head(memory.tokens)  # (B,10) from the final memory
        else:
            beta = self.beta_head(rep.flatten(1, 2))  # (B,T*J,C_rep) -> (B,10)
        return NetOutput(joints=joints, theta=theta, beta=beta, beta_blocks=beta_blocks)


def typed_settings(init_args: Mapping[str, Any]) -> dict[str, Any]:
    """HandPriorNet keyword arguments from plain ``init_args`` as a config file holds them: every nested mapping
    (``{"dtc": {"groups": 8}}``) made into its settings dataclass, the other values as they are."""
    hints = typing.get_type_hints(HandPriorNet.__init__)
    return {
        key: hints[key](**value) if isinstance(value, Mapping) and dataclasses.is_dataclass(hints.get(key)) else value
        for key, value in init_args.items()
    }
