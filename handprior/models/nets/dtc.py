"""Dynamic temporal convolution (DTC): a 1-D deformable, modulated convolution along time (paper eq. 2).

One module serves both levels of the paper: joint level (a batch of B*J single-joint sequences) and hand level
(a batch of B joint-pooled sequences). For input x (B',T,C), G groups of C/G channels and K taps:

    v      = value_proj(x)                               (B',T,G,C/G)
    delta  = clamp(offset_proj(x), -max_offset, +max_offset)   (B',T,G,K)  in frames
    m      = mod_proj(x)                                 (B',T,G,K)   no softmax (DCNv4 style)
    p      = t + (k - (K-1)/2) + delta                   sampling positions; an even K gives a half-integer grid
    y[t,g] = sum_k m[t,g,k] * interp(v[:,g], p[t,g,k])   linear interpolation, zero outside [0, T-1]
    out    = output_proj(y)

offset_proj and mod_proj start at zero, so a fresh DTC outputs exactly zero (m = 0) and a residual DTC
sublayer leaves its input unchanged. Everything is vectorised over time, taps and groups. Two equivalent
formulations of the sampling step are implemented:

- ``"gather"``: gather the two neighbouring frames of every tap, weight them, sum over taps;
- ``"matrix"``: scatter-add every tap's two interpolation weights into a per-(sequence, group) matrix
  W[t, s] (T x T), then one batched matmul y = W @ v.

``experiments/speed/dtc_formulations.py`` times both; the faster one on CPU is the default.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

FORMULATIONS = ("matrix", "gather")
DEFAULT_FORMULATION = "matrix"


def _sampling(offset: Tensor, mod: Tensor, kernel_size: int, max_offset: float) -> tuple[Tensor, Tensor]:
    """Indices and weights of the two frames each tap reads.

    offset, mod: (B',T,G,K) raw offsets (frames) and modulation scalars.
    Returns idx (B',T,G,2K) int64 frame indices, clamped into [0, T-1], and w (B',T,G,2K) weights
    (modulation x linear interpolation weight, zero for a neighbour outside the sequence).
    """
    T = offset.shape[1]
    delta = offset.clamp(-max_offset, max_offset)  # (B',T,G,K)
    t = torch.arange(T, device=offset.device, dtype=offset.dtype).view(1, T, 1, 1)
    grid = torch.arange(kernel_size, device=offset.device, dtype=offset.dtype) - (kernel_size - 1) / 2  # (K,)
    p = t + grid + delta  # (B',T,G,K) sampling positions
    p0 = torch.floor(p)
    frac = p - p0  # gradient of p flows through frac
    i0 = p0.long()
    i1 = i0 + 1
    valid0 = (i0 >= 0) & (i0 <= T - 1)
    valid1 = (i1 >= 0) & (i1 <= T - 1)
    w0 = mod * (1 - frac) * valid0
    w1 = mod * frac * valid1
    idx = torch.cat([i0, i1], dim=-1).clamp(0, T - 1)  # (B',T,G,2K); clamped taps carry weight 0
    w = torch.cat([w0, w1], dim=-1)  # (B',T,G,2K)
    return idx, w


def sample_gather(v: Tensor, idx: Tensor, w: Tensor) -> Tensor:
    """y[b,t,g] = sum_n w[b,t,g,n] * v[b, idx[b,t,g,n], g] by gathering the sampled frames.

    v: (B',T,G,D), idx/w: (B',T,G,N) -> (B',T,G,D).
    """
    B, T, G, D = v.shape
    N = idx.shape[-1]
    group = torch.arange(G, device=v.device).view(1, 1, G, 1)
    flat = (idx * G + group).reshape(B, T * G * N, 1).expand(-1, -1, D)  # (B',T*G*N,D) rows of v.view(B',T*G,D)
    vals = torch.gather(v.reshape(B, T * G, D), 1, flat)  # (B',T*G*N,D)
    vals = vals.view(B, T, G, N, D)
    return (w.unsqueeze(-2) @ vals).squeeze(-2)  # (B',T,G,1,N) @ (B',T,G,N,D) -> (B',T,G,D)


def sample_matrix(v: Tensor, idx: Tensor, w: Tensor) -> Tensor:
    """The same as :func:`sample_gather`, through an interpolation matrix and one batched matmul.

    W[b,g,t,s] = sum of the weights of the taps of (t, g) that read frame s; y = W @ v per (b, g).
    """
    B, T, G, D = v.shape
    idx_g = idx.permute(0, 2, 1, 3)  # (B',G,T,N)
    w_g = w.permute(0, 2, 1, 3)  # (B',G,T,N)
    W = w.new_zeros(B, G, T, T).scatter_add_(3, idx_g, w_g)  # (B',G,T,T)
    y = W @ v.permute(0, 2, 1, 3)  # (B',G,T,T) @ (B',G,T,D) -> (B',G,T,D)
    return y.permute(0, 2, 1, 3)  # (B',T,G,D)


class DynamicTemporalConv(nn.Module):
    """Deformable, modulated 1-D convolution along time for input (B',T,C) -> (B',T,C).

    Args:
        dim: channels C.
        groups: aggregation groups G (C must be divisible by G); each group has its own offsets and modulation.
        kernel_size: taps K; regular grid k - (K-1)/2 (half-integers for an even K).
        max_offset: learned offsets are clamped to [-max_offset, +max_offset] frames (paper: 2).
        formulation: "matrix" (interpolation matrix + batched matmul) or "gather" (gather two frames per tap).
    """

    def __init__(
        self,
        dim: int,
        groups: int,
        kernel_size: int,
        max_offset: float = 2.0,
        formulation: str = DEFAULT_FORMULATION,
    ) -> None:
        super().__init__()
        if dim % groups != 0:
            raise ValueError(f"DTC: dim {dim} is not divisible by groups {groups}")
        if kernel_size < 1:
            raise ValueError(f"DTC: kernel_size must be >= 1, got {kernel_size}")
        if max_offset < 0:
            raise ValueError(f"DTC: max_offset must be >= 0, got {max_offset}")
        if formulation not in FORMULATIONS:
            raise ValueError(f"DTC: formulation must be one of {FORMULATIONS}, got {formulation!r}")
        self.dim, self.groups, self.kernel_size = dim, groups, kernel_size
        self.max_offset = float(max_offset)
        self.formulation = formulation
        self.value_proj = nn.Linear(dim, dim)
        self.offset_proj = nn.Linear(dim, groups * kernel_size)
        self.mod_proj = nn.Linear(dim, groups * kernel_size)
        self.output_proj = nn.Linear(dim, dim)
        self.reset_dynamic_parameters()

    def reset_dynamic_parameters(self) -> None:
        """Zero offsets and modulation: the layer starts on the regular grid with zero output."""
        for layer in (self.offset_proj, self.mod_proj):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: Tensor) -> Tensor:
        B, T, C = x.shape
        G, K = self.groups, self.kernel_size
        v = self.value_proj(x).view(B, T, G, C // G)  # (B',T,G,C/G)
        offset = self.offset_proj(x).view(B, T, G, K)  # (B',T,G,K)
        mod = self.mod_proj(x).view(B, T, G, K)  # (B',T,G,K)
        idx, w = _sampling(offset, mod, K, self.max_offset)  # (B',T,G,2K) each
        sample = sample_matrix if self.formulation == "matrix" else sample_gather
        y = sample(v, idx, w)  # (B',T,G,C/G)
        return self.output_proj(y.reshape(B, T, C))  # (B',T,C)

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, groups={self.groups}, kernel_size={self.kernel_size}, "
            f"max_offset={self.max_offset}, formulation={self.formulation!r}"
        )


class DTCSublayer(nn.Module):
    """Pre-LN residual DTC sublayer: x + DTC(LN(x)).

    ``level="joint"``: x (B,T,J,C), every joint is its own sequence (B' = B*J).
    ``level="hand"``: the normalised features are averaged over joints, one DTC runs per hand (B' = B), and its
    output is broadcast-added to every joint (the paper's "hand-level DTC replaces joint-level DTC", Fig. 4a).
    The hand-level module on pooled (B,T,C) features of the global block uses :class:`DynamicTemporalConv`
    through :meth:`forward_sequence`.
    """

    def __init__(
        self,
        dim: int,
        groups: int,
        kernel_size: int,
        max_offset: float = 2.0,
        level: str = "joint",
        formulation: str = DEFAULT_FORMULATION,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if level not in ("joint", "hand"):
            raise ValueError(f"DTC sublayer: level must be 'joint' or 'hand', got {level!r}")
        self.level = level
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.dtc = DynamicTemporalConv(dim, groups, kernel_size, max_offset, formulation)
        self.drop = nn.Dropout(dropout)

    def forward_sequence(self, x: Tensor) -> Tensor:
        """x (B',T,C) -> x + DTC(LN(x))."""
        return x + self.drop(self.dtc(self.norm(x)))

    def forward(self, x: Tensor) -> Tensor:
        """x (B,T,J,C) -> (B,T,J,C)."""
        B, T, J, C = x.shape
        if self.level == "hand":
            g = self.norm(x).mean(dim=2)  # (B,T,C)
            return x + self.drop(self.dtc(g)).unsqueeze(2)  # (B,T,1,C) broadcast over joints
        seq = self.norm(x).transpose(1, 2).reshape(B * J, T, C)  # (B*J,T,C)
        y = self.dtc(seq).view(B, J, T, C).transpose(1, 2)  # (B,T,J,C)
        return x + self.drop(y)
