"""The paper's network: DSTformer backbone + joint-level DTC + global temporal block + hand prior memory.

Input x (B,T,J,3): a window of noisy joints, centred on its mean wrist and divided by 100 mm by the caller.
Output :class:`NetOutput`: refined joints (B,T,J,3) = x + head(features), MANO theta (B,T,48) from the
joint-pooled features of each frame, MANO beta (B,10) from the final memory (or from features pooled over
frames and joints when the memory is off).

Every ablation of the paper's Tables 1-3 is a constructor argument. With ``joint_dtc="none"``,
``global_block=False`` and ``memory_tokens=0`` the network is exactly the MotionBERT DSTformer
("Dual-branch (Baseline)").
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from handprior.models.nets.dstformer import (
    AttentionSublayer,
    Branch,
    Embedding,
    MLPSublayer,
    RepresentationHead,
    Stage,
    STBlock,
    init_weights,
)
from handprior.models.nets.dtc import DEFAULT_FORMULATION, FORMULATIONS, DTCSublayer
from handprior.models.nets.global_block import GlobalTemporalBlock
from handprior.models.nets.memory import MEMORY_STYLES, BetaHead, HandPriorMemory
from handprior.models.nets.output import NetOutput

JOINT_DTC_PLACEMENTS = ("none", "head", "tail", "replace", "fusion", "tri_branch", "dual")
GLOBAL_PLACEMENTS = ("serial", "parallel")
BETA_SUPERVISIONS = ("final", "every_block")
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
        joint_dtc: placement of the joint-level dynamic temporal convolution (Table 1): "none" (MotionBERT
            baseline), "head" (a DTC sublayer at the head of each branch), "tail" (at the tail of each
            branch), "replace" (DTC instead of temporal attention), "fusion" (one DTC sublayer after the
            fused branches), "tri_branch" (three branches S->T, T->S and S->DTC, 3-way fusion),
            "dual" ("Dynamic Dual-branch", default: a DTC sublayer directly after the temporal attention of
            each branch).
        dtc_groups: DTC aggregation groups G (dim must be divisible by it).
        dtc_kernel: DTC kernel size K (paper: 8; an even K samples a half-integer grid).
        dtc_max_offset: DTC offsets are clamped to +-this many frames (paper: 2).
        dtc_formulation: "matrix" (interpolation matrix + batched matmul) or "gather"; same numbers.
        hand_dtc_replaces_joint: the joint-level DTC sublayers of ``joint_dtc`` work on the joint-pooled hand
            feature and add their output to every joint (Table 2, Fig. 4a).
        global_block: add a global temporal block (hand level) per spatio-temporal block (Table 2).
        global_attention: the global block's temporal-attention branch ("GA").
        global_dtc: the global block's hand-level DTC branch ("DC").
        global_placement: "serial" ("SS", default: after each spatio-temporal block, on its output) or
            "parallel" ("PS": on the block's input, its update added to the block's output).
        memory_tokens: hand prior memory tokens M (Table 3: 1, 4, 8, 16); 0 switches the memory off (beta is
            then read from the features pooled over frames and joints). Without the global block the memory
            update reads the joint mean of each block's output.
        memory_style: "prior" (cross-attention update after each block, injected as extra keys/values) or
            "vit" (the tokens also act as queries in every spatio-temporal attention, ViT-style "VS").
        beta_supervision: "final" (beta from the final memory only, "FS") or "every_block" (also a beta from
            the memory after each of the first depth-1 blocks, through the same beta head, returned in
            ``beta_blocks``; with ``beta`` that is one beta per block; needs the memory).
        dropout: dropout on the embedding and on sublayer outputs.
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
        joint_dtc: str = "dual",
        dtc_groups: int = 2,
        dtc_kernel: int = 8,
        dtc_max_offset: float = 2.0,
        dtc_formulation: str = DEFAULT_FORMULATION,
        hand_dtc_replaces_joint: bool = False,
        global_block: bool = True,
        global_attention: bool = True,
        global_dtc: bool = True,
        global_placement: str = "serial",
        memory_tokens: int = 8,
        memory_style: str = "prior",
        beta_supervision: str = "final",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        _check_choice("joint_dtc", joint_dtc, JOINT_DTC_PLACEMENTS)
        _check_choice("dtc_formulation", dtc_formulation, FORMULATIONS)
        _check_choice("global_placement", global_placement, GLOBAL_PLACEMENTS)
        _check_choice("memory_style", memory_style, MEMORY_STYLES)
        _check_choice("beta_supervision", beta_supervision, BETA_SUPERVISIONS)
        for name, value in (("num_joints", num_joints), ("seq_len", seq_len), ("dim", dim), ("depth", depth)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if dim % num_heads != 0:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        if dim % dtc_groups != 0:
            raise ValueError(f"dim {dim} is not divisible by dtc_groups {dtc_groups}")
        if memory_tokens < 0:
            raise ValueError(f"memory_tokens must be >= 0, got {memory_tokens}")
        if global_block and not (global_attention or global_dtc):
            raise ValueError("global_block=True needs global_attention or global_dtc; use global_block=False")
        if hand_dtc_replaces_joint and joint_dtc == "none":
            raise ValueError("hand_dtc_replaces_joint=True needs a joint_dtc placement other than 'none'")
        if beta_supervision == "every_block" and memory_tokens == 0:
            raise ValueError("beta_supervision='every_block' reads the memory: set memory_tokens >= 1")

        self.joint_dtc = joint_dtc
        self.global_placement = global_placement
        self.beta_supervision = beta_supervision
        dtc_args = dict(
            dim=dim,
            groups=dtc_groups,
            kernel_size=dtc_kernel,
            max_offset=dtc_max_offset,
            level="hand" if hand_dtc_replaces_joint else "joint",
            formulation=dtc_formulation,
            dropout=dropout,
        )

        def dtc() -> DTCSublayer:
            return DTCSublayer(**dtc_args)

        def stage(axis: str, post_dtc: bool = False) -> Stage:
            mixer = AttentionSublayer(dim, num_heads, axis, dropout)
            return Stage(mixer, MLPSublayer(dim, mlp_ratio, dropout), dtc() if post_dtc else None)

        def dtc_stage() -> Stage:  # DTC instead of temporal attention
            return Stage(dtc(), MLPSublayer(dim, mlp_ratio, dropout))

        def block() -> STBlock:
            p = joint_dtc
            if p == "replace":
                branches = [Branch([stage("spatial"), dtc_stage()]), Branch([dtc_stage(), stage("spatial")])]
            else:
                dual = p == "dual"
                branches = [
                    Branch([stage("spatial"), stage("temporal", dual)], *_head_tail(p, dtc)),
                    Branch([stage("temporal", dual), stage("spatial")], *_head_tail(p, dtc)),
                ]
                if p == "tri_branch":
                    branches.append(Branch([stage("spatial"), dtc_stage()]))
            return STBlock(branches, dim, dtc() if p == "fusion" else None)

        self.embed = Embedding(num_joints, seq_len, dim, dropout)
        self.blocks = nn.ModuleList(block() for _ in range(depth))
        self.global_blocks = (
            nn.ModuleList(
                GlobalTemporalBlock(
                    dim,
                    num_heads,
                    mlp_ratio,
                    attention=global_attention,
                    dtc=global_dtc,
                    dtc_groups=dtc_groups,
                    dtc_kernel=dtc_kernel,
                    dtc_max_offset=dtc_max_offset,
                    dtc_formulation=dtc_formulation,
                    dropout=dropout,
                )
                for _ in range(depth)
            )
            if global_block
            else None
        )
        self.memory = (
            HandPriorMemory(dim, memory_tokens, depth, num_heads, mlp_ratio, memory_style, dropout)
            if memory_tokens > 0
            else None
        )
        self.rep = RepresentationHead(dim, dim_rep)
        self.joint_head = nn.Linear(dim_rep, 3)
        self.theta_head = nn.Linear(dim_rep, THETA_DIM)
        self.beta_head = BetaHead(dim if memory_tokens > 0 else dim_rep, BETA_DIM)
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
        B = x.shape[0]
        h = self.embed(x)  # (B,T,J,C)
        memory = self.memory.initial(B) if self.memory is not None else None  # (B,M,C)
        query = self.memory is not None and self.memory.is_query
        beta_blocks = []
        for i, block in enumerate(self.blocks):
            if self.global_blocks is not None and self.global_placement == "parallel":
                update, g = self.global_blocks[i](h)  # (B,T,C) each, from the block's input
                h, memory = block(h, memory, query)
                h = h + update.unsqueeze(2)  # (B,T,1,C) broadcast over joints
            else:
                h, memory = block(h, memory, query)
                if self.global_blocks is not None:
                    update, g = self.global_blocks[i](h)
                    h = h + update.unsqueeze(2)
                else:
                    g = h.mean(dim=2)  # (B,T,C): memory context when the global block is off
            if self.memory is not None:
                memory = self.memory.update(i, memory, g)
                if self.beta_supervision == "every_block" and i < len(self.blocks) - 1:
                    beta_blocks.append(self.beta_head(memory))  # intermediate blocks; the last one is `beta`
        rep = self.rep(h)  # (B,T,J,C_rep)
        joints = x + self.joint_head(rep)  # (B,T,J,3) residual refinement
        theta = self.theta_head(rep.mean(dim=2))  # (B,T,48)
        if memory is not None:
            beta = self.beta_head(memory)  # (B,10) from the final memory
        else:
            beta = self.beta_head(rep.flatten(1, 2))  # (B,T*J,C_rep) -> (B,10)
        return NetOutput(joints=joints, theta=theta, beta=beta, beta_blocks=beta_blocks)


def _head_tail(placement: str, make_dtc: Callable[[], DTCSublayer]) -> tuple[DTCSublayer | None, DTCSublayer | None]:
    """The (head, tail) DTC sublayers of a branch for a placement."""
    return (make_dtc() if placement == "head" else None, make_dtc() if placement == "tail" else None)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
