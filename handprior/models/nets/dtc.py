"""Dynamic temporal convolution (DTC): a 1-D deformable, modulated convolution along time (paper eq. 2;
docs/architecture.md, "Dynamic temporal convolution").

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
so a fresh DTC outputs exactly zero (m = 0) and a residual DTC sublayer leaves its input unchanged.

The three input projections run as one GEMM; the sampling step reads its output ``proj`` (B,T,S,C+2GK) and is
vectorised over time, taps and groups. Under autocast (bf16/fp16) the values are projected in the autocast dtype
and the offsets and modulation apart in float32 (``dyn`` (B,T,S,2GK)), so that the sampling positions and the
offsets' gradients are not those of rounded offsets (tests/models/nets/test_nets_dtc.py bounds the error). Every sequence is padded with one zero frame on either side, and every
sample whose neighbouring frame lies outside [0, T-1] reads a zero frame (:func:`tap_frames`), so no masks are
needed. Two equivalent formulations of the sampling step are implemented:

- ``"gather"`` (:func:`sample_gather`): gather the two neighbouring frames of every tap, weight them, sum over
  taps; plain autograd. The test reference.
- ``"matrix"`` (:class:`MatrixSampling`, the default): scatter-add every tap's two interpolation weights into a
  matrix W[t, f] per sequence and group, then one batched matmul y = W @ v. A custom autograd function: its
  backward is two batched matmuls and two gathers; it computes the gradients of v, offsets and modulation
  contiguous and lays them out like ``proj`` in one concatenation (autograd would save a dozen intermediates).
  Without gradients (inference) the same forward runs as :func:`sample_matrix`, without the autograd function's
  bookkeeping.

``python -m experiments.speed.dtc_formulations`` and ``make bench`` time both, forward + backward, against the
temporal attention sublayer the DTC follows; the measurements are in experiments/speed/results_cpu.md ("DTC
sublayer vs the temporal attention it follows").
"""

from __future__ import annotations

import typing

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import FunctionCtx, once_differentiable

from handprior.models.nets.config import DEFAULT_DTC, DTCConfig, DTCFormulation, DTCLevel

FORMULATIONS: tuple[DTCFormulation, ...] = typing.get_args(DTCFormulation)
DEFAULT_FORMULATION: DTCFormulation = DTCConfig.formulation


def split_projection(
    proj: Tensor, groups: int, kernel_size: int, dyn: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """The value, offset and modulation parts of the fused projection, one sequence per (series, group).

    proj: (B,T,S,C+2GK) -> v (B,S,G,T,C/G), offset (B,S,G,T,K), mod (B,S,G,T,K): permuted views, nothing copied.
    With ``dyn`` (B,T,S,2GK) (offsets and modulation projected apart, in float32 under autocast), proj is
    (B,T,S,C), the values only.
    """
    G, K = groups, kernel_size
    if dyn is None:
        C = proj.shape[-1] - 2 * G * K
        v, offset, mod = proj.split([C, G * K, G * K], dim=-1)
    else:
        v, (offset, mod) = proj, dyn.split([G * K, G * K], dim=-1)
        C = v.shape[-1]
    v = v.unflatten(-1, (G, C // G)).permute(0, 2, 3, 1, 4)  # (B,S,G,T,C/G)
    offset = offset.unflatten(-1, (G, K)).permute(0, 2, 3, 1, 4)  # (B,S,G,T,K)
    mod = mod.unflatten(-1, (G, K)).permute(0, 2, 3, 1, 4)  # (B,S,G,T,K)
    return v, offset, mod


def low_precision(x: Tensor, weight: Tensor) -> bool:
    """Whether a projection of x by weight would run below float32: under autocast, or in a bf16/fp16 module."""
    if torch.is_autocast_enabled(x.device.type):
        return True
    return weight.dtype in (torch.bfloat16, torch.float16) or x.dtype in (torch.bfloat16, torch.float16)


def tap_frames(offset: Tensor, kernel_size: int, max_offset: float) -> tuple[Tensor, Tensor, Tensor]:
    """The two frames every tap reads, and the interpolation weight of the later one.

    offset: (...,T,K) raw offsets in frames (time on the second-last axis). Returns i0, i1 (...,T,K) int64: the
    columns of floor(p) and floor(p)+1 in the sequence padded with one zero frame on either side (frame f is
    column f+1; a neighbour outside [0, T-1] reads zero column 0 or T+1), and frac = p - floor(p) (...,T,K),
    differentiable in the offset, in at least float32. Sample value: (1-frac) * col[i0] + frac * col[i1].
    """
    T = offset.shape[-2]
    # positions in at least float32: in bf16 a position near frame 27 would be rounded to 1/8 of a frame
    offset = offset.to(torch.promote_types(offset.dtype, torch.float32))
    grid = torch.arange(kernel_size, device=offset.device, dtype=offset.dtype) - (kernel_size - 1) / 2  # (K,)
    base = torch.arange(1, T + 1, device=offset.device, dtype=offset.dtype).unsqueeze(1) + grid  # (T,K), +1 pad
    p = offset.clamp(-max_offset, max_offset) + base  # (...,T,K) positions in padded columns
    p0 = torch.floor(p)
    frac = p - p0  # the gradient of p flows through the fraction
    i0 = p0.long()  # (...,T,K)
    return i0.clamp(0, T + 1), (i0 + 1).clamp_(0, T + 1), frac


def sample_gather(proj: Tensor, groups: int, kernel_size: int, max_offset: float, dyn: Tensor | None = None) -> Tensor:
    """Sampling step by gathering the two neighbouring frames of every tap: proj (B,T,S,C+2GK) -> y (B,T,S,C),
    or proj (B,T,S,C) and dyn (B,T,S,2GK) (:func:`split_projection`).

    Plain autograd; it materialises (B,S,G,T,K,C/G) per neighbour, so it is the slower formulation.
    """
    B, T, S, _ = proj.shape
    v, offset, mod = split_projection(proj, groups, kernel_size, dyn)  # (B,S,G,T,D), (B,S,G,T,K) x2
    i0, i1, frac = tap_frames(offset, kernel_size, max_offset)  # (B,S,G,T,K) each
    w1 = mod * frac
    vp = F.pad(v, (0, 0, 1, 1))  # (B,S,G,T+2,D): one zero frame on either side
    D = v.shape[-1]
    y = v.new_zeros(v.shape)
    for index, w in ((i0, mod - w1), (i1, w1)):  # the two neighbours of every tap, K taps at a time
        rows = index.flatten(-2).unsqueeze(-1).expand(*index.shape[:-2], -1, D)  # (B,S,G,T*K,D)
        vals = vp.gather(3, rows).unflatten(3, (T, kernel_size))  # (B,S,G,T,K,D)
        y = y + (w.unsqueeze(-1) * vals).sum(dim=-2)  # summed over the K taps
    return y.permute(0, 3, 1, 2, 4).reshape(B, T, S, -1).to(proj.dtype)  # (B,S,G,T,D) -> (B,T,S,C)


def sample_matrix(proj: Tensor, groups: int, kernel_size: int, max_offset: float, dyn: Tensor | None = None) -> Tensor:
    """The forward of :class:`MatrixSampling` without its autograd bookkeeping, for inference: proj (B,T,S,C+2GK)
    (or proj (B,T,S,C) and dyn (B,T,S,2GK)) -> y (B,T,S,C), the same numbers (at batch 1 the autograd
    function's bookkeeping is a measurable share of a small network's forward: README, "Speed")."""
    return _matrix_forward(proj, groups, kernel_size, max_offset, dyn)[0]


def _matrix_forward(
    proj: Tensor, groups: int, kernel_size: int, max_offset: float, dyn: Tensor | None = None
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """y (B,T,S,C) through the interpolation matrix, and W, vp, i0, i1, frac, mod, offset for the backward.

    W is built in the dtype of the offsets and modulation (at least float32) and rounded once to the values'
    dtype for the matmul."""
    B, T, S, _ = proj.shape
    v, offset, mod = split_projection(proj, groups, kernel_size, dyn)  # (B,S,G,T,D), (B,S,G,T,K) x2
    # in (B,S,G,T,K) order, so that the indices, weights and everything derived from them (scatter, gather,
    # the gradients) are contiguous too: on permuted views the scatter and the gathers run slower (README, "Speed")
    offset, mod = offset.contiguous(), mod.contiguous()
    i0, i1, frac = tap_frames(offset, kernel_size, max_offset)  # (B,S,G,T,K) each
    w1 = mod * frac  # (B,S,G,T,K), at least float32 like frac
    W = w1.new_zeros(B, S, groups, T, T + 2)  # (B,S,G,T,T+2)
    W = W.scatter_add_(4, i0, mod - w1).scatter_add_(4, i1, w1).to(proj.dtype)
    vp = proj.new_zeros(B, S, groups, T + 2, v.shape[-1])  # (B,S,G,T+2,D)
    vp[:, :, :, 1 : T + 1] = v  # the one copy that puts the frames in matmul order
    y = W @ vp  # (B,S,G,T,T+2) @ (B,S,G,T+2,D) -> (B,S,G,T,D)
    return y.permute(0, 3, 1, 2, 4).reshape(B, T, S, -1), (W, vp, i0, i1, frac, mod, offset)  # (B,T,S,C)


class MatrixSampling(torch.autograd.Function):
    """Sampling step through an interpolation matrix: proj (B,T,S,C+2GK) -> y (B,T,S,C), with its own backward;
    or proj (B,T,S,C) values and dyn (B,T,S,2GK) offsets and modulation in a dtype of their own (float32 under
    autocast), whose gradients are returned in their dtypes.

    Forward: W[b,s,g,t,f] = sum of the weights of the taps of (t, s, g) that read padded column f (scatter-add),
    y = W @ vp per (b, s, g), vp being v padded with one zero frame on either side.
    Backward, for dL/dy = gy (B,S,G,T,D): dW = gy @ vp^T and dvp = W^T @ gy (batched matmuls); the two
    columns a tap reads give dw0 = dW[i0], dw1 = dW[i1] (gathers); with w0 = m (1 - frac), w1 = m frac:
    dm = dw0 + frac (dw1 - dw0), doffset = m (dw1 - dw0) where the offset is inside the clamp, else 0.
    """

    @staticmethod
    def forward(
        ctx: FunctionCtx, proj: Tensor, groups: int, kernel_size: int, max_offset: float, dyn: Tensor | None = None
    ) -> Tensor:
        y, (W, vp, i0, i1, frac, mod, offset) = _matrix_forward(proj, groups, kernel_size, max_offset, dyn)
        ctx.save_for_backward(W, vp, i0, i1, frac, mod, offset.abs() <= max_offset)
        ctx.dtypes = (proj.dtype, None if dyn is None else dyn.dtype)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad_y: Tensor) -> tuple[Tensor | None, ...]:
        W, vp, i0, i1, frac, mod, inside = ctx.saved_tensors
        B, S, G, T = W.shape[:4]
        D = vp.shape[-1]
        # (B,S,G,T,D), copied once here rather than once by each matmul
        gy = grad_y.to(W.dtype).reshape(B, T, S, G, D).permute(0, 2, 3, 1, 4).contiguous()
        grad_W = gy @ vp.transpose(-1, -2)  # (B,S,G,T,T+2)
        grad_vp = W.transpose(-1, -2) @ gy  # (B,S,G,T+2,D)
        g0 = grad_W.gather(4, i0).to(mod.dtype)  # (B,S,G,T,K), in the modulation's dtype (float32 under autocast)
        diff = grad_W.gather(4, i1).to(mod.dtype) - g0  # (B,S,G,T,K)
        grad_offset = (mod * diff).mul_(inside)  # (B,S,G,T,K)
        grad_mod = g0.addcmul_(frac, diff)  # (B,S,G,T,K)
        parts = (grad_vp[:, :, :, 1 : T + 1], grad_offset, grad_mod)
        proj_dtype, dyn_dtype = ctx.dtypes
        # computed contiguous, then put in proj's layout by one cat (writing into permuted views of one buffer is
        # slower)
        flat = [p.permute(0, 3, 1, 2, 4).flatten(3) for p in parts]  # (B,T,S,C), (B,T,S,GK) x2
        if dyn_dtype is None:
            return torch.cat(flat, dim=-1), None, None, None, None  # (B,T,S,C+2GK)
        return flat[0].to(proj_dtype), None, None, None, torch.cat(flat[1:], dim=-1).to(dyn_dtype)


class DynamicTemporalConv(nn.Module):
    """Deformable, modulated 1-D convolution along time: x (B',T,C) -> (B',T,C), or (B,T,S,C) -> (B,T,S,C).

    Args:
        dim: channels C.
        groups: aggregation groups G (C must be divisible by G); each group has its own offsets and modulation.
        kernel_size: taps K on the regular grid k - (K-1)/2 (half-integers for an even K).
        max_offset: learned offsets are clamped to [-max_offset, +max_offset] frames (paper: 2).
        formulation: "matrix" (interpolation matrix + batched matmul) or "gather" (gather two frames per tap).

    The settings are checked by :class:`~handprior.models.nets.config.DTCConfig`; here only that G divides C.
    """

    def __init__(
        self,
        dim: int,
        groups: int,
        kernel_size: int,
        max_offset: float = 2.0,
        formulation: DTCFormulation = DEFAULT_FORMULATION,
    ) -> None:
        super().__init__()
        DTCConfig(groups, kernel_size, max_offset, formulation)
        if dim % groups != 0:
            raise ValueError(f"DTC: dim {dim} is not divisible by groups {groups}")
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
        dyn_weight = torch.cat([self.offset_proj.weight, self.mod_proj.weight])  # (2GK,C)
        dyn_bias = torch.cat([self.offset_proj.bias, self.mod_proj.bias])  # (2GK,)
        dyn = None
        if low_precision(series, self.value_proj.weight):
            # Offsets and modulation in float32 (2GK outputs, a small share of the work), the values in the
            # autocast dtype: an offset rounded to bf16 (steps of up to 1/128 frame) often lands on the other side
            # of a whole frame, where linear interpolation has a kink, which made its gradient 10-20 % wrong.
            proj = self.value_proj(series)  # (B,T,S,C) in the autocast dtype
            with torch.autocast(series.device.type, enabled=False):
                dyn = F.linear(series.float(), dyn_weight.float(), dyn_bias.float())  # (B,T,S,2GK) float32
        else:
            # value, offset and modulation projections as one GEMM (the three Linear modules stay separate)
            weight = torch.cat([self.value_proj.weight, dyn_weight])  # (C+2GK,C)
            proj = F.linear(series, weight, torch.cat([self.value_proj.bias, dyn_bias]))  # (B,T,S,C+2GK)
        tracked = proj.requires_grad or (dyn is not None and dyn.requires_grad)
        if self.formulation == "matrix" and torch.is_grad_enabled() and tracked:
            y = MatrixSampling.apply(proj, self.groups, self.kernel_size, self.max_offset, dyn)  # (B,T,S,C)
        elif self.formulation == "matrix":  # inference: no autograd bookkeeping
            y = sample_matrix(proj, self.groups, self.kernel_size, self.max_offset, dyn)  # (B,T,S,C)
        else:
            y = sample_gather(proj, self.groups, self.kernel_size, self.max_offset, dyn)  # (B,T,S,C)
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
        self, dim: int, config: DTCConfig = DEFAULT_DTC, level: DTCLevel = "joint", dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.level = level
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.dtc = DynamicTemporalConv(dim, config.groups, config.kernel_size, config.max_offset, config.formulation)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        if self.level == "hand":
            g = self.norm(x).mean(dim=2)  # (B,T,C)
            return x + self.drop(self.dtc(g)).unsqueeze(2)  # (B,T,1,C) broadcast over joints
        return x + self.drop(self.dtc(self.norm(x)))  # (B,T,J,C): J sequences per window
