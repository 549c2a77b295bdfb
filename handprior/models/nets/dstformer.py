"""Dual-stream spatio-temporal transformer pieces: the MotionBERT DSTformer backbone (docs/architecture.md,
"Spatio-temporal block and weighted fusion").

The residual stream is x (B,T,J,C). A block runs two branches in parallel on the same input, S->T and T->S,
and fuses them per token with learned softmax weights. Each S or T *stage* is a pre-LN residual token-mixing
sublayer (spatial or temporal attention) followed by a pre-LN residual MLP sublayer. The stages carry optional
DTC slots so that every joint-level DTC placement of the paper's Table 1 reuses the same backbone modules (the
backbone parameter names do not change when a DTC is added, so a baseline checkpoint loads into any variant).

The hand prior memory is MotionBERT's one addition here: a :class:`~handprior.models.nets.memory_hook.MemoryHook`
passed to a block's ``forward`` reaches every attention and MLP sublayer, which consult it at the one line marked
``# memory hook``; without it every module is MotionBERT's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from handprior.models.nets.dtc import DTCSublayer

if TYPE_CHECKING:
    from handprior.models.nets.memory_hook import MemoryHook

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
    PyTorch's CPU flash kernel is slower, forward+backward, than two batched matmuls and a softmax
    (``python -m experiments.speed.attention_kernels``; experiments/speed/results_cpu.md, "Attention kernels").
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
        for name, value in (("num_joints", num_joints), ("seq_len", seq_len), ("dim", dim)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
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


def head_dim(dim: int, num_heads: int) -> int:
    """Channels per head, C / H; the one check that the heads divide the channels."""
    if num_heads < 1 or dim % num_heads != 0:
        raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
    return dim // num_heads


def to_groups(x: Tensor, axis: str) -> Tensor:
    """x (B,T,J,C) -> tokens (B,G,N,C): spatial = G=T frames of N=J joints (x as it is), temporal = G=J joints of
    N=T frames (one C-wide transpose of the input instead of permuting the 3C-wide q/k/v)."""
    return x if axis == "spatial" else x.transpose(1, 2)


def from_groups(out: Tensor, axis: str) -> Tensor:
    """The inverse of :func:`to_groups`: (B,G,N,C) -> (B,T,J,C)."""
    return out if axis == "spatial" else out.transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention along one axis of x (B,T,J,C).

    ``axis="spatial"``: the J joints of each frame attend to each other (B*T groups of J tokens);
    ``axis="temporal"``: the T frames of each joint attend to each other (B*J groups of T tokens).
    x comes normalised; returns its update (B,T,J,C).
    """

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        head_dim(dim, num_heads)
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, axis: str) -> Tensor:
        tokens = to_groups(x, axis)  # (B,G,N,C)
        B, G = tokens.shape[:2]
        q, k, v = self.split_heads(self.qkv(tokens))  # 3 x (B*G,H,N,D) views
        return from_groups(self.project_out(self.merge_heads(attend(q, k, v), B, G)), axis)  # (B,T,J,C)

    def split_heads(self, qkv: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The projection qkv (B,G,N,3C) -> q, k, v 3 x (B*G,H,N,D), strided views (nothing copied)."""
        B, G, N, C3 = qkv.shape
        H = self.num_heads
        q, k, v = qkv.view(B * G, N, 3, H, C3 // (3 * H)).permute(2, 0, 3, 1, 4)
        return q, k, v

    @staticmethod
    def merge_heads(out: Tensor, B: int, G: int) -> Tensor:
        """Attention output (B*G,H,N,D) -> (B,G,N,C)."""
        _, H, N, D = out.shape
        return out.transpose(1, 2).reshape(B, G, N, H * D)

    def project_out(self, out: Tensor) -> Tensor:
        """The output projection and dropout, (..., C) -> (..., C)."""
        return self.drop(self.proj(out))


class AttentionSublayer(nn.Module):
    """Pre-LN residual attention along one axis of x (B,T,J,C): ``spatial`` (joints of a frame attend to each
    other) or ``temporal`` (frames of a joint attend to each other)."""

    def __init__(self, dim: int, num_heads: int, axis: str, dropout: float = 0.0) -> None:
        super().__init__()
        if axis not in ("spatial", "temporal"):
            raise ValueError(f"attention axis must be 'spatial' or 'temporal', got {axis!r}")
        self.axis = axis
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = Attention(dim, num_heads, dropout)

    def forward(self, x: Tensor, memory: MemoryHook | None = None) -> Tensor:
        if memory is not None:  # memory hook: the memory tokens join this attention
            return x + memory.attention(self, x)
        return x + self.attn(self.norm(x), self.axis)


class MLPSublayer(nn.Module):
    """Pre-LN residual MLP (Linear, GELU, Linear) on the last axis."""

    def __init__(self, dim: int, mlp_ratio: float = 2.0, dropout: float = 0.0) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim), nn.Dropout(dropout)
        )

    def forward(self, x: Tensor, memory: MemoryHook | None = None) -> Tensor:
        x = x + self.mlp(self.norm(x))
        if memory is not None:  # memory hook: ViT-style memory tokens go through the MLP too
            memory.mlp(self)
        return x


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

    def forward(self, x: Tensor, memory: MemoryHook | None = None) -> Tensor:
        x = self.mixer(x, memory) if isinstance(self.mixer, AttentionSublayer) else self.mixer(x)  # DTC: no memory
        if self.post_dtc is not None:
            x = self.post_dtc(x)
        return self.mlp(x, memory)


class Branch(nn.Module):
    """A sequence of stages with optional DTC sublayers at its head and tail (Table 1 (a), (b))."""

    def __init__(
        self, stages: list[Stage], head_dtc: DTCSublayer | None = None, tail_dtc: DTCSublayer | None = None
    ) -> None:
        super().__init__()
        self.head_dtc = head_dtc
        self.stages = nn.ModuleList(stages)
        self.tail_dtc = tail_dtc

    def forward(self, x: Tensor, memory: MemoryHook | None = None) -> Tensor:
        if self.head_dtc is not None:
            x = self.head_dtc(x)
        for stage in self.stages:
            x = stage(x, memory)
        if self.tail_dtc is not None:
            x = self.tail_dtc(x)
        return x


class STBlock(nn.Module):
    """Spatio-temporal block: parallel branches on the same input, fused per token, then an optional DTC
    sublayer after the fusion (Table 1 (d)). With a memory hook every branch reads the same memory, and
    ViT-style memory tokens are fused like the joints."""

    def __init__(self, branches: list[Branch], dim: int, post_fusion_dtc: DTCSublayer | None = None) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.fusion = Fusion(dim, len(branches))
        self.post_fusion_dtc = post_fusion_dtc

    def forward(self, x: Tensor, memory: MemoryHook | None = None) -> Tensor:
        if memory is None:
            x = self.fusion([branch(x) for branch in self.branches])  # (B,T,J,C)
        else:  # memory hook: one view of the memory per branch, fused after them
            views = memory.per_branch(len(self.branches))
            x = self.fusion([branch(x, view) for branch, view in zip(self.branches, views)])  # (B,T,J,C)
            memory.fuse(views, self.fusion)
        if self.post_fusion_dtc is not None:
            x = self.post_fusion_dtc(x)
        return x


class RepresentationHead(nn.Module):
    """Final LN -> Linear(C->C_rep) -> tanh: the motion representation the output heads read."""

    def __init__(self, dim: int, dim_rep: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.proj = nn.Linear(dim, dim_rep)

    def forward(self, x: Tensor) -> Tensor:
        return torch.tanh(self.proj(self.norm(x)))
