"""Global temporal block (hand level, paper section 3.2.2; docs/architecture.md, "Global temporal block").

The joint features x (B,T,J,C) are averaged over joints into one feature per frame, g (B,T,C). Two parallel
branches run on g: a hand-level dynamic temporal convolution (fast, short-term global motion) and temporal
attention (stable, long-term global motion), each a pre-LN residual sublayer followed by its own pre-LN
residual MLP. Their outputs are fused per frame with the softmax fusion of the backbone, giving g_fused.
The block's update g_fused - g is broadcast-added to every joint [choice: adding the update rather than
g_fused itself keeps the mean-over-joints component from being doubled at every block; it is the residual
form x_j + f(mean_j x)]. With one branch switched off the other one is used alone (no fusion).
"""

from __future__ import annotations

from torch import Tensor, nn

from handprior.models.nets.config import DEFAULT_DTC, DTCConfig
from handprior.models.nets.dstformer import AttentionSublayer, Fusion, MLPSublayer, Stage
from handprior.models.nets.dtc import DTCSublayer


class GlobalTemporalBlock(nn.Module):
    """Hand-level temporal modelling on joint-pooled features.

    Args:
        dim: channels C.
        num_heads: heads of the temporal attention branch.
        mlp_ratio: hidden size of each branch's MLP relative to C.
        attention: use the temporal-attention branch ("GA" in Table 2).
        dtc: the hand-level DTC branch ("DC" in Table 2), None for none.
        dropout: dropout on sublayer outputs.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 2.0,
        attention: bool = True,
        dtc: DTCConfig | None = DEFAULT_DTC,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not attention and dtc is None:
            raise ValueError("global temporal block needs attention or a DTC (or switch the block off)")
        self.attention_branch = (
            Stage(AttentionSublayer(dim, num_heads, "temporal", dropout), MLPSublayer(dim, mlp_ratio, dropout))
            if attention
            else None
        )
        self.dtc_branch = (
            Stage(DTCSublayer(dim, dtc, "joint", dropout), MLPSublayer(dim, mlp_ratio, dropout))
            if dtc is not None
            else None
        )
        self.fusion = Fusion(dim, 2) if attention and dtc is not None else None

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x (B,T,J,C) -> (update (B,T,C) to add to every joint, g_fused (B,T,C) for the memory update)."""
        g = x.mean(dim=2, keepdim=True)  # (B,T,1,C): one "joint" per frame, so the stages apply unchanged
        outs = [branch(g) for branch in (self.dtc_branch, self.attention_branch) if branch is not None]
        g_fused = self.fusion(outs) if self.fusion is not None else outs[0]  # (B,T,1,C)
        return (g_fused - g).squeeze(2), g_fused.squeeze(2)  # (B,T,C), (B,T,C)
