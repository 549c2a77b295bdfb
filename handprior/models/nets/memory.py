"""Hand prior memory (paper section 3.3; docs/architecture.md, "Hand prior memory").

M learnable tokens (1,M,C) hold sequence-specific hand information (shape, bone lengths).

- ``style="prior"`` (the paper's method): after every block the memory is *updated* by cross-attention from
  the memory (queries) to the block's fused global hand features g (B,T,C) (keys and values), then an MLP:
  ``m = m + CrossAttn(LN(m), LN(g)); m = m + MLP(LN(m))``. The memory is *injected* into every spatial and
  temporal attention of the next block as extra keys/values only (J+M and T+M keys; J and T queries)
  [choice], through a :class:`~handprior.models.nets.memory_hook.MemoryHook`. The first block sees the learned
  initial tokens.
- ``style="vit"`` (Table 3, "VS"): like a ViT class token, the tokens join every spatial and temporal
  attention of the spatio-temporal blocks as keys, values *and* queries, and go through the stages' MLPs.
  Realisation: in an attention over G groups (frames or joints) each group gives the token an update; the
  updates are averaged over the groups, and the two branches' tokens are fused with the block's fusion
  weights. There is no cross-attention update. The paper uses a single token; any M >= 1 works.

beta (B,10) is read from the memory by :class:`BetaHead` (mean over tokens -> LN -> MLP -> 10).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from handprior.models.nets.config import MemoryStyle
from handprior.models.nets.dstformer import LN_EPS, MLPSublayer, attend, head_dim
from handprior.models.nets.memory_hook import MemoryHook


class CrossAttention(nn.Module):
    """Multi-head attention of query tokens (B,M,C) over context tokens (B,T,C) -> (B,M,C)."""

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        head_dim(dim, num_heads)
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, query: Tensor, context: Tensor) -> Tensor:
        B, M, C = query.shape
        T, H = context.shape[1], self.num_heads
        q = self.q(query).view(B, M, H, C // H).transpose(1, 2)  # (B,H,M,C/H)
        k, v = self.kv(context).view(B, T, 2, H, C // H).permute(2, 0, 3, 1, 4)  # 2 x (B,H,T,C/H)
        out = attend(q, k, v)  # (B,H,M,C/H)
        out = out.transpose(1, 2).reshape(B, M, C)  # (B,M,C)
        return self.drop(self.proj(out))


class MemoryUpdate(nn.Module):
    """One memory update: m + CrossAttn(LN(m), LN(g)), then m + MLP(LN(m))."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 2.0, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm_memory = nn.LayerNorm(dim, eps=LN_EPS)
        self.norm_context = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = CrossAttention(dim, num_heads, dropout)
        self.mlp = MLPSublayer(dim, mlp_ratio, dropout)

    def forward(self, memory: Tensor, context: Tensor) -> Tensor:
        """memory (B,M,C), context g (B,T,C) -> memory (B,M,C)."""
        memory = memory + self.attn(self.norm_memory(memory), self.norm_context(context))
        return self.mlp(memory)


class HandPriorMemory(nn.Module):
    """Learnable memory tokens and, for ``style="prior"``, one update module per block.

    Args:
        dim: channels C.
        num_tokens: M >= 1.
        depth: number of blocks (one update after each).
        num_heads: heads of the cross-attention update.
        mlp_ratio: MLP hidden size of the update relative to C.
        style: "prior" (cross-attention update, keys/values only) or "vit" (tokens are also queries).
        dropout: dropout on sublayer outputs.
    """

    def __init__(
        self,
        dim: int,
        num_tokens: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float = 2.0,
        style: MemoryStyle = "prior",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if num_tokens < 1:
            raise ValueError(f"memory needs at least one token, got {num_tokens}")
        self.style = style
        self.tokens = nn.Parameter(torch.zeros(1, num_tokens, dim))
        nn.init.trunc_normal_(self.tokens, std=0.02)
        self.updates = (
            nn.ModuleList(MemoryUpdate(dim, num_heads, mlp_ratio, dropout) for _ in range(depth))
            if style == "prior"
            else None
        )

    @property
    def is_query(self) -> bool:
        """Whether the tokens are queries of the spatio-temporal attentions (ViT style)."""
        return self.style == "vit"

    def initial(self, batch_size: int) -> Tensor:
        """The learned tokens for a batch, (B,M,C)."""
        return self.tokens.expand(batch_size, -1, -1)

    def hook(self, batch_size: int) -> MemoryHook:
        """The learned tokens for a batch as the spatio-temporal blocks' attentions consult them."""
        return MemoryHook(self.initial(batch_size), as_queries=self.is_query)

    def update(self, block: int, memory: Tensor, context: Tensor) -> Tensor:
        """The update after block ``block`` (identity in ViT style, where the blocks update the tokens)."""
        if self.updates is None:
            return memory
        return self.updates[block](memory, context)


class BetaHead(nn.Module):
    """Tokens (B,N,D) -> mean over tokens -> LN -> Linear(D->D) -> GELU -> Linear(D->10): MANO shape (B,10)."""

    def __init__(self, dim: int, num_betas: int = 10) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, num_betas))

    def forward(self, tokens: Tensor) -> Tensor:
        return self.mlp(self.norm(tokens.mean(dim=1)))  # (B,D) -> (B,10)
