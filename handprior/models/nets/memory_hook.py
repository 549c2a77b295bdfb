"""How the hand prior memory reaches the backbone's attentions: the one hook into the MotionBERT backbone.

HandPriorNet makes one :class:`MemoryHook` per window batch and passes it to every spatio-temporal block; the
attention and MLP sublayers consult it at the line marked ``# memory hook`` (without a hook they are MotionBERT's).

- Prior style (the paper's method): in every spatial and temporal attention the memory tokens, normalised by the
  sublayer's LayerNorm and projected by its key/value weights once per window, join every group's keys and
  values (J+M and T+M keys; J and T queries). The tokens do not change inside a block.
- ViT style (Table 3, "VS"): the tokens are also queries. Each attention gives them one update per group
  (frame or joint), averaged over the groups; they go through the MLP sublayers too; each branch updates its own
  view of them, and the block fuses the views with its fusion weights.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from handprior.models.nets.dstformer import attend, to_groups

if TYPE_CHECKING:
    from handprior.models.nets.dstformer import Attention, AttentionSublayer, Fusion, MLPSublayer


class MemoryHook:
    """The memory tokens (B,M,C) as the attentions of a spatio-temporal block see them.

    ``tokens`` is the only state that changes in a block's forward pass, and only with ``as_queries`` (ViT
    style): the sublayers replace it by its updated value (no tensor is modified in place).
    """

    def __init__(self, tokens: Tensor, as_queries: bool = False) -> None:
        self.tokens = tokens  # (B,M,C)
        self.as_queries = as_queries

    def attention(self, layer: AttentionSublayer, x: Tensor) -> Tensor:
        """The update of x (B,T,J,C) by the pre-LN attention sublayer ``layer`` with the memory tokens joined to
        every group's keys and values (and queries: then the tokens take their own update)."""
        attn = layer.attn
        memory = layer.norm(self.tokens)  # (B,M,C), normalised like the tokens
        tokens = to_groups(layer.norm(x), layer.axis)  # (B,G,N,C)
        B, G, N, C = tokens.shape
        M = memory.shape[1]
        if self.as_queries:  # ViT style: the memory tokens are queries too
            joined = torch.cat([tokens, memory.unsqueeze(1).expand(B, G, M, C)], dim=2)  # (B,G,N+M,C)
            q, k, v = attn.split_heads(attn.qkv(joined))  # 3 x (B*G,H,N+M,D)
            out = attend(q, k, v)  # (B*G,H,N+M,D)
            update = attn.merge_heads(out[:, :, N:], B, G).mean(dim=1)  # (B,M,C), averaged over the groups
            self.tokens = self.tokens + attn.project_out(update)
            out = out[:, :, :N]  # (B*G,H,N,D)
        else:  # prior style: the memory joins the keys and values only
            q, k, v = attn.split_heads(attn.qkv(tokens))  # 3 x (B*G,H,N,D) views
            k, v = memory_keys_values(attn, memory, k, v)  # 2 x (B*G,H,N+M,D)
            out = attend(q, k, v)  # (B*G,H,N,D)
        out = attn.project_out(attn.merge_heads(out, B, G))  # (B,G,N,C)
        return out if layer.axis == "spatial" else out.transpose(1, 2)  # (B,T,J,C)

    def mlp(self, layer: MLPSublayer) -> None:
        """ViT style: the tokens go through the pre-LN residual MLP sublayer ``layer`` (prior style: nothing)."""
        if self.as_queries:
            self.tokens = self.tokens + layer.mlp(layer.norm(self.tokens))

    def per_branch(self, n: int) -> list[MemoryHook]:
        """The views of the memory for n parallel branches: copies of this hook in ViT style, else itself."""
        return [MemoryHook(self.tokens, True) for _ in range(n)] if self.as_queries else [self] * n

    def fuse(self, views: list[MemoryHook], fusion: Fusion) -> None:
        """ViT style: the branches' tokens fused with the block's fusion weights (prior style: nothing)."""
        if self.as_queries:
            self.tokens = fusion([view.tokens for view in views])  # (B,M,C)


def memory_keys_values(attn: Attention, memory: Tensor, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """Token keys/values k, v (B*G,H,N,D) of G groups per batch item, extended by the keys/values of the normalised
    memory (B,M,C) -> 2 x (B*G,H,N+M,D).

    The memory is projected once per batch item (not once per group) and broadcast to the groups; the
    concatenation is the one copy that puts k and v in batched-matmul order.
    """
    B, M, C = memory.shape
    G = k.shape[0] // B
    H, N, D = attn.num_heads, k.shape[2], C // attn.num_heads
    w_kv, b_kv = attn.qkv.weight[C:], attn.qkv.bias[C:]
    mk, mv = F.linear(memory, w_kv, b_kv).view(B, 1, -1, 2, H, D).permute(3, 0, 1, 4, 2, 5)  # 2 x (B,1,H,M,D)
    groups = (B, G, H, -1, D)
    k = torch.cat([k.view(groups), mk.expand(B, G, H, M, D)], dim=3)  # (B,G,H,N+M,D)
    v = torch.cat([v.view(groups), mv.expand(B, G, H, M, D)], dim=3)
    return k.view(B * G, H, N + M, D), v.view(B * G, H, N + M, D)
