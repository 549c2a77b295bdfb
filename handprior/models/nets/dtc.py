"""Dynamic temporal convolution (DTC): a 1-D deformable, modulated convolution along time (paper eq. 2).

One module serves both levels of the paper: joint level (every joint of every window is a sequence,
B' = B*J) and hand level (one joint-pooled sequence per window, B' = B). For input x (B',T,C), G groups of
C/G channels and K taps:

    v      = value_proj(x)                                      (B',T,G,C/G)
    delta  = clamp(offset_proj(x), -max_offset, +max_offset)    (B',T,G,K)  in frames
    m      = mod_proj(x)                                        (B',T,G,K)  no softmax (DCNv4 style)
    p      = t + (k - (K-1)/2) + delta                          sampling positions; an even K gives half-integers
    y[t,g] = sum_k m[t,g,k] * interp(v[:,g], p[t,g,k])          linear interpolation, zero outside [0, T-1]
    out    = output_proj(y)

The module also accepts x (B,T,S,C), e.g. (B,T,J,C): each of the S series is its own sequence, which spares the
joint level two transposes of the residual stream. offset_proj, mod_proj and output_proj's bias start at zero,
so a fresh DTC outputs exactly zero (m = 0) and a residual DTC sublayer leaves its input unchanged. Everything is vectorised
over time, taps and groups; two equivalent formulations of the sampling step are implemented:

- ``"gather"``: gather the two neighbouring frames of every tap, weight them, sum over taps;
- ``"matrix"``: scatter-add every tap's two interpolation weights into a matrix W[t, f] per sequence and group
  (f over the frames zero-padded on both sides, so no masks are needed), then one batched matmul y = W @ v.

``experiments/speed/dtc_formulations.py`` times both; "matrix" is 1.5-2.5x faster on CPU (about as costly as the
temporal attention it follows at the CPU size, 0.6-0.7x at the paper size) and is the default.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

FORMULATIONS = ("matrix", "gather")
DEFAULT_FORMULATION = "matrix"


def frame_padding(kernel_size: int, max_offset: float) -> int:
    """How far outside [0, T-1] a tap's two neighbouring frames can fall (at most (K-1)/2 + max_offset + 1)."""
    return math.ceil((kernel_size - 1) / 2 + max_offset) + 1


def sampling_weights(offset: Tensor, mod: Tensor, kernel_size: int, max_offset: float) -> tuple[Tensor, Tensor]:
    """Frames and weights that the taps read.

    offset, mod: (B,T,S,G,K) raw offsets (frames) and modulation scalars.
    Returns (idx, w), each (B,T,S,G,2K): for tap k, entries 2k and 2k+1 are the frames floor(p) and floor(p)+1
    shifted by :func:`frame_padding` (so always >= 0; an index past the padded sequence's real frames, i.e.
    outside [pad, pad+T-1], reads zero padding) and their weights, modulation x linear interpolation weight.
    """
    T = offset.shape[1]
    pad = frame_padding(kernel_size, max_offset)
    delta = offset.clamp(-max_offset, max_offset)  # (B,T,S,G,K)
    t = torch.arange(T, device=offset.device, dtype=offset.dtype).view(1, T, 1, 1, 1)
    grid = torch.arange(kernel_size, device=offset.device, dtype=offset.dtype) - (kernel_size - 1) / 2  # (K,)
    p = (t + grid) + delta  # (B,T,S,G,K) sampling positions
    p0 = torch.floor(p)
    weighted_frac = mod * (p - p0)  # (B,T,S,G,K); the gradient of p flows through the fraction
    w = torch.stack((mod - weighted_frac, weighted_frac), dim=-1)  # (B,T,S,G,K,2): mod*(1-frac), mod*frac
    i0 = (p0.long() + pad).clamp_(0, T + 2 * pad - 2)  # (B,T,S,G,K); the clamp only guards non-finite offsets
    idx = torch.stack((i0, i0 + 1), dim=-1)  # (B,T,S,G,K,2)
    return idx.flatten(-2), w.flatten(-2)  # (B,T,S,G,2K) each


def sample_gather(v: Tensor, idx: Tensor, w: Tensor, pad: int) -> Tensor:
    """y[b,t,s,g] = sum_n w[b,t,s,g,n] * vp[b, idx[b,t,s,g,n], s, g] by gathering the sampled frames, where vp is
    v with ``pad`` zero frames on either side.

    v: (B,T,S,G,D); idx, w: (B,T,S,G,N) padded frames and weights of N samples -> (B,T,S,G,D).
    """
    B, T, S, G, D = v.shape
    rows = F.pad(v, (0, 0, 0, 0, 0, 0, pad, pad)).reshape(B, -1, D)  # (B,(T+2*pad)*S*G,D), row (f*S+s)*G+g
    series_group = torch.arange(S * G, device=v.device).view(1, 1, S, G, 1)
    K = idx.shape[-1] // 2
    y = v.new_zeros(B, T, S, G, D)
    for c in range(2):  # one gather per interpolation neighbour: entries c, c+2, ... are its K samples
        i, wi = idx[..., c::2], w[..., c::2]  # (B,T,S,G,K)
        flat = (i * (S * G) + series_group).reshape(B, -1, 1).expand(-1, -1, D)  # (B,T*S*G*K,D)
        vals = torch.gather(rows, 1, flat).view(B, T, S, G, K, D)  # (B,T,S,G,K,D)
        y = y + (wi.unsqueeze(-1) * vals).sum(dim=4)  # summed over the K samples
    return y


def sample_matrix(v: Tensor, idx: Tensor, w: Tensor, pad: int) -> Tensor:
    """The same as :func:`sample_gather`, through an interpolation matrix and one batched matmul.

    W[b,s,g,t,f] = sum of the weights of the samples of (t, s, g) that read padded frame f; y = W @ vp per
    (b, s, g), vp being v with ``pad`` zero frames on either side (no masks, no slicing of W).
    """
    B, T, S, G, D = v.shape
    F_ = T + 2 * pad
    # one in-place scatter-add into a fresh matrix; the permuted index and weight views are read in place
    W = v.new_zeros(B, S, G, T, F_).scatter_add_(4, idx.permute(0, 2, 3, 1, 4), w.permute(0, 2, 3, 1, 4))
    vp = v.new_zeros(B, S, G, F_, D)  # (B,S,G,T+2*pad,D)
    vp[:, :, :, pad : pad + T] = v.permute(0, 2, 3, 1, 4)  # the one copy that puts the frames in matmul order
    y = W @ vp  # (B,S,G,T,T+2*pad) @ (B,S,G,T+2*pad,D) -> (B,S,G,T,D)
    return y.permute(0, 3, 1, 2, 4)  # (B,T,S,G,D)


class DynamicTemporalConv(nn.Module):
    """Deformable, modulated 1-D convolution along time: x (B',T,C) -> (B',T,C), or (B,T,S,C) -> (B,T,S,C).

    Args:
        dim: channels C.
        groups: aggregation groups G (C must be divisible by G); each group has its own offsets and modulation.
        kernel_size: taps K on the regular grid k - (K-1)/2 (half-integers for an even K).
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
        if groups < 1 or dim % groups != 0:
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
        """Zero offsets, modulation and output bias: the layer starts on the regular grid with zero output."""
        for layer in (self.offset_proj, self.mod_proj):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        nn.init.zeros_(self.output_proj.bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() not in (3, 4):
            raise ValueError(f"DTC expects (B,T,C) or (B,T,S,C), got shape {tuple(x.shape)}")
        series = x if x.dim() == 4 else x.unsqueeze(2)  # (B,T,S,C); S = 1 for (B',T,C)
        B, T, S, C = series.shape
        G, K = self.groups, self.kernel_size
        # value, offset and modulation projections as one GEMM (the three Linear modules stay separate)
        weight = torch.cat([self.value_proj.weight, self.offset_proj.weight, self.mod_proj.weight])
        bias = torch.cat([self.value_proj.bias, self.offset_proj.bias, self.mod_proj.bias])
        v, offset, mod = F.linear(series, weight, bias).split([C, G * K, G * K], dim=-1)
        v = v.reshape(B, T, S, G, C // G)  # (B,T,S,G,C/G)
        offset = offset.reshape(B, T, S, G, K)  # (B,T,S,G,K)
        mod = mod.reshape(B, T, S, G, K)  # (B,T,S,G,K)
        idx, w = sampling_weights(offset, mod, K, self.max_offset)  # (B,T,S,G,2K) each
        sample = sample_matrix if self.formulation == "matrix" else sample_gather
        y = sample(v, idx, w, frame_padding(K, self.max_offset)).reshape(B, T, S, C)  # (B,T,S,G,C/G) -> (B,T,S,C)
        out = self.output_proj(y)  # (B,T,S,C)
        return out if x.dim() == 4 else out.squeeze(2)

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, groups={self.groups}, kernel_size={self.kernel_size}, "
            f"max_offset={self.max_offset}, formulation={self.formulation!r}"
        )


class DTCSublayer(nn.Module):
    """Pre-LN residual DTC sublayer on x (B,T,J,C) -> (B,T,J,C).

    ``level="joint"``: x + DTC(LN(x)), every joint is its own sequence (the paper's joint-level DTC).
    ``level="hand"``: the normalised features are averaged over joints, one DTC runs per window, and its output
    is broadcast-added to every joint (Table 2, "hand-level DTC replaces joint-level DTC", Fig. 4a).
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

    def forward(self, x: Tensor) -> Tensor:
        if self.level == "hand":
            g = self.norm(x).mean(dim=2)  # (B,T,C)
            return x + self.drop(self.dtc(g)).unsqueeze(2)  # (B,T,1,C) broadcast over joints
        return x + self.drop(self.dtc(self.norm(x)))  # (B,T,J,C): J sequences per window
