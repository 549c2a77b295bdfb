"""Dual-stream spatio-temporal transformer pieces (the MotionBERT DSTformer backbone, DESIGN 5.1).

The residual stream is x (B,T,J,C). A block runs two branches in parallel on the same input, S->T and T->S,
and fuses them per token with learned softmax weights. Each S or T *stage* is a pre-LN residual token-mixing
sublayer (spatial or temporal attention) followed by a pre-LN residual MLP sublayer. The stages carry optional
DTC slots so that every joint-level DTC placement of the paper's Table 1 reuses the same backbone modules (the
backbone parameter names do not change when a DTC is added, so a baseline checkpoint loads into any variant).

Hand prior memory tokens (B,M,C) can be appended to the keys and values of every attention ("injection");
with ``memory_query=True`` they are also queries (the ViT-style token), and each attention returns their
update, averaged over the groups (frames for spatial attention, joints for temporal attention).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from handprior.models.nets.dtc import DTCSublayer

LN_EPS = 1e-6


def init_weights(module: nn.Module) -> None:
    """Linear weights trunc-normal (std 0.02), biases 0; LayerNorm weight 1, bias 0. Use with ``Module.apply``."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def explicit_attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """softmax(q k^T / sqrt(D)) v as two batched matmuls and a softmax: q (B,H,N,D), k, v (B,H,Nk,D) -> (B,H,N,D)."""
    scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)  # (B,H,N,Nk)
    return scores.softmax(dim=-1) @ v  # (B,H,N,D)


def attend(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """softmax(q k^T / sqrt(D)) v: q (B,H,N,D), k and v (B,H,Nk,D) -> (B,H,N,D).

    On a GPU this is ``scaled_dot_product_attention`` (fused flash / memory-efficient kernels). On the CPU it is
    :func:`explicit_attention`: for the short token sets here (J=21 joints or T=27 frames, plus memory tokens)
    PyTorch's CPU flash kernel is 1.1-3x slower, forward+backward, than two batched matmuls and a softmax
    (``python -m experiments.speed.attention_kernels``).
    """
    if q.device.type == "cpu":
        return explicit_attention(q, k, v)
    return F.scaled_dot_product_attention(q, k, v)


class Embedding(nn.Module):
    """Joints (B,T,J,3) -> Linear(3->C) + spatial embedding (1,J,C) + temporal embedding (1,T,1,C).

    The temporal embedding is sized by ``seq_len``; shorter windows use its first T rows.
    """

    def __init__(self, num_joints: int, seq_len: int, dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.seq_len = seq_len
        self.proj = nn.Linear(3, dim)
        self.spatial = nn.Parameter(torch.zeros(1, num_joints, dim))
        self.temporal = nn.Parameter(torch.zeros(1, seq_len, 1, dim))
        nn.init.trunc_normal_(self.spatial, std=0.02)
        nn.init.trunc_normal_(self.temporal, std=0.02)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        T, J = x.shape[1], x.shape[2]
        if T > self.seq_len:
            raise ValueError(f"window of {T} frames is longer than the network's seq_len {self.seq_len}")
        if J != self.spatial.shape[1]:
            raise ValueError(f"input has {J} joints, the network was built for {self.spatial.shape[1]}")
        h = self.proj(x) + self.spatial + self.temporal[:, :T]  # (B,T,J,C)
        return self.drop(h)


class Attention(nn.Module):
    """Multi-head self-attention along one axis of x (B,T,J,C), with optional extra (memory) tokens.

    ``axis="spatial"``: the J joints of each frame attend to each other (B*T groups of J tokens);
    ``axis="temporal"``: the T frames of each joint attend to each other (B*J groups of T tokens).
    memory (B,M,C): tokens shared by all groups of a batch item; they join the keys and values (N+M keys per
    group of N), and with ``memory_query`` also the queries. Returns the update of x (B,T,J,C) and the memory
    update (B,M,C) averaged over the groups (None unless ``memory_query``). x and memory come normalised.
    """

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(
        self, x: Tensor, axis: str, memory: Tensor | None = None, memory_query: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        B, T, J, C = x.shape
        H, D = self.num_heads, C // self.num_heads
        # groups first: spatial = G=T frames of N=J joints (x as it is), temporal = G=J joints of N=T frames (one
        # C-wide transpose of the input instead of permuting the 3C-wide q/k/v)
        tokens = x if axis == "spatial" else x.transpose(1, 2)  # (B,G,N,C)
        G, N = tokens.shape[1], tokens.shape[2]
        if memory is not None and memory_query:  # ViT style: the memory tokens are queries too
            M = memory.shape[1]
            ext = torch.cat([tokens, memory.unsqueeze(1).expand(B, G, M, C)], dim=2)  # (B,G,N+M,C)
            q, k, v = self.qkv(ext).view(B * G, N + M, 3, H, D).permute(2, 0, 3, 1, 4)  # 3 x (B*G,H,N+M,D)
        else:
            q, k, v = self.qkv(tokens).view(B * G, N, 3, H, D).permute(2, 0, 3, 1, 4)  # 3 x (B*G,H,N,D) views
            if memory is not None:  # prior style: the memory joins the keys and values only
                k, v = self._with_memory_keys(k, v, memory, B, G)  # 2 x (B*G,H,N+M,D)
        out = attend(q, k, v).transpose(1, 2)  # (B*G,Nq,H,D)
        mem_out = None
        if memory is not None and memory_query:
            mem_out = out[:, N:].reshape(B, G, M, C).mean(dim=1)  # (B,M,C)
            mem_out = self.drop(self.proj(mem_out))  # (B,M,C)
            out = out[:, :N]  # (B*G,N,H,D)
        out = self.drop(self.proj(out.reshape(B, G, N, C)))  # (B,G,N,C)
        return (out if axis == "spatial" else out.transpose(1, 2)), mem_out  # (B,T,J,C)

    def _with_memory_keys(self, k: Tensor, v: Tensor, memory: Tensor, B: int, G: int) -> tuple[Tensor, Tensor]:
        """Token keys/values (B*G,H,N,D) of G groups per batch item, extended by the memory's keys/values.

        The memory (B,M,C) is projected once per batch item (not once per group) and broadcast to the groups;
        the concatenation is the one copy that puts k and v in batched-matmul order (B*G,H,N+M,D).
        """
        C = memory.shape[-1]
        H, D = self.num_heads, C // self.num_heads
        w_kv, b_kv = self.qkv.weight[C:], self.qkv.bias[C:]
        mk, mv = F.linear(memory, w_kv, b_kv).view(B, 1, -1, 2, H, D).permute(3, 0, 1, 4, 2, 5)  # 2 x (B,1,H,M,D)
        N, M = k.shape[2], memory.shape[1]
        groups = (B, G, H, -1, D)
        k = torch.cat([k.view(groups), mk.expand(B, G, H, M, D)], dim=3)  # (B,G,H,N+M,D)
        v = torch.cat([v.view(groups), mv.expand(B, G, H, M, D)], dim=3)
        return k.view(B * G, H, N + M, D), v.view(B * G, H, N + M, D)


class AttentionSublayer(nn.Module):
    """Pre-LN residual attention along one axis of x (B,T,J,C): ``spatial`` (joints of a frame attend to each
    other) or ``temporal`` (frames of a joint attend to each other). Memory tokens are normalised with the
    same LayerNorm as the tokens."""

    def __init__(self, dim: int, num_heads: int, axis: str, dropout: float = 0.0) -> None:
        super().__init__()
        if axis not in ("spatial", "temporal"):
            raise ValueError(f"attention axis must be 'spatial' or 'temporal', got {axis!r}")
        self.axis = axis
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = Attention(dim, num_heads, dropout)

    def forward(
        self, x: Tensor, memory: Tensor | None = None, memory_query: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        mem = self.norm(memory) if memory is not None else None
        out, mem_out = self.attn(self.norm(x), self.axis, mem, memory_query)
        if mem_out is not None:
            memory = memory + mem_out
        return x + out, memory


class MLPSublayer(nn.Module):
    """Pre-LN residual MLP (Linear, GELU, Linear) on the last axis; optionally on the memory tokens too."""

    def __init__(self, dim: int, mlp_ratio: float = 2.0, dropout: float = 0.0) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim), nn.Dropout(dropout)
        )

    def forward(
        self, x: Tensor, memory: Tensor | None = None, memory_query: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        x = x + self.mlp(self.norm(x))
        if memory is not None and memory_query:
            memory = memory + self.mlp(self.norm(memory))
        return x, memory


class Fusion(nn.Module):
    """Per-token softmax-weighted sum of n branch outputs: alpha = softmax(Linear(nC->n)([x_1..x_n])).

    The Linear starts at weight 0 and bias 0.5, so the branches start with equal weights 1/n.
    """

    def __init__(self, dim: int, num_branches: int = 2) -> None:
        super().__init__()
        self.num_branches = num_branches
        self.weight = nn.Linear(num_branches * dim, num_branches)
        self.reset_fusion()

    def reset_fusion(self) -> None:
        """Weight 0, bias 0.5 (equal branch weights)."""
        nn.init.zeros_(self.weight.weight)
        nn.init.constant_(self.weight.bias, 0.5)

    def forward(self, xs: list[Tensor]) -> Tensor:
        if len(xs) != self.num_branches:
            raise ValueError(f"fusion expects {self.num_branches} branches, got {len(xs)}")
        # Linear(nC->n) on the concatenation, as a sum over the branches' weight slices (no concatenated copy).
        w = self.weight.weight.split(xs[0].shape[-1], dim=1)  # n x (n,C)
        logits = self.weight.bias + sum(F.linear(x, wi) for x, wi in zip(xs, w))  # (..., n)
        alpha = logits.softmax(dim=-1)  # (..., n)
        return sum(alpha[..., i : i + 1] * x for i, x in enumerate(xs))  # (..., C)


class Stage(nn.Module):
    """One S or T stage of a branch: token mixer, optional DTC sublayer right after it, MLP sublayer.

    The mixer is an :class:`AttentionSublayer` or, for the "replace" placement, a :class:`DTCSublayer`
    (temporal mixing by DTC instead of temporal attention).
    """

    def __init__(self, mixer: nn.Module, mlp: MLPSublayer, post_dtc: DTCSublayer | None = None) -> None:
        super().__init__()
        self.mixer = mixer
        self.post_dtc = post_dtc
        self.mlp = mlp

    def forward(
        self, x: Tensor, memory: Tensor | None = None, memory_query: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        if isinstance(self.mixer, AttentionSublayer):
            x, memory = self.mixer(x, memory, memory_query)
        else:
            x = self.mixer(x)  # DTC mixer: memory is not involved
        if self.post_dtc is not None:
            x = self.post_dtc(x)
        return self.mlp(x, memory, memory_query)


class Branch(nn.Module):
    """A sequence of stages with optional DTC sublayers at its head and tail (Table 1 (a), (b))."""

    def __init__(
        self, stages: list[Stage], head_dtc: DTCSublayer | None = None, tail_dtc: DTCSublayer | None = None
    ) -> None:
        super().__init__()
        self.head_dtc = head_dtc
        self.stages = nn.ModuleList(stages)
        self.tail_dtc = tail_dtc

    def forward(
        self, x: Tensor, memory: Tensor | None = None, memory_query: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        if self.head_dtc is not None:
            x = self.head_dtc(x)
        for stage in self.stages:
            x, memory = stage(x, memory, memory_query)
        if self.tail_dtc is not None:
            x = self.tail_dtc(x)
        return x, memory


class STBlock(nn.Module):
    """Spatio-temporal block: parallel branches on the same input, fused per token (also the memory tokens
    when they are queries), then an optional DTC sublayer after the fusion (Table 1 (d))."""

    def __init__(self, branches: list[Branch], dim: int, post_fusion_dtc: DTCSublayer | None = None) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.fusion = Fusion(dim, len(branches))
        self.post_fusion_dtc = post_fusion_dtc

    def forward(
        self, x: Tensor, memory: Tensor | None = None, memory_query: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        outs = [branch(x, memory, memory_query) for branch in self.branches]
        x = self.fusion([o[0] for o in outs])  # (B,T,J,C)
        if memory is not None and memory_query:
            memory = self.fusion([o[1] for o in outs])  # (B,M,C)
        if self.post_fusion_dtc is not None:
            x = self.post_fusion_dtc(x)
        return x, memory


class RepresentationHead(nn.Module):
    """Final LN -> Linear(C->C_rep) -> tanh: the motion representation the output heads read."""

    def __init__(self, dim: int, dim_rep: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.proj = nn.Linear(dim, dim_rep)

    def forward(self, x: Tensor) -> Tensor:
        return torch.tanh(self.proj(self.norm(x)))
