"""Dynamic temporal convolution against a slow loop reference, and its invariants."""

from __future__ import annotations

import pytest
import torch

from handprior.models.nets.config import DTCConfig
from handprior.models.nets.dtc import FORMULATIONS, DTCSublayer, DynamicTemporalConv, MatrixSampling, sample_matrix


def reference_dtc(m: DynamicTemporalConv, x: torch.Tensor) -> torch.Tensor:
    """Paper eq. 2 with plain loops over sequence, time, group, tap and source frame.

    The interpolation is written as the tent kernel max(0, 1 - |p - s|) over all frames s (an independent
    formulation from the floor/ceil neighbours of the module), which is zero outside [0, T-1] by construction.
    """
    B, T, C = x.shape
    G, K = m.groups, m.kernel_size
    D = C // G
    v = m.value_proj(x)
    off = m.offset_proj(x)
    mod = m.mod_proj(x)
    rows = []
    for b in range(B):
        frames = []
        for t in range(T):
            groups = []
            for g in range(G):
                acc = x.new_zeros(D)
                for k in range(K):
                    delta = off[b, t, g * K + k].clamp(-m.max_offset, m.max_offset)
                    p = t + (k - (K - 1) / 2) + delta
                    for s in range(T):
                        tent = torch.clamp(1 - (p - s).abs(), min=0)
                        acc = acc + mod[b, t, g * K + k] * tent * v[b, s, g * D : (g + 1) * D]
                groups.append(acc)
            frames.append(torch.cat(groups))
        rows.append(torch.stack(frames))
    return m.output_proj(torch.stack(rows))


def randomised(dim: int, groups: int, kernel: int, formulation: str, seed: int = 0) -> DynamicTemporalConv:
    """A float64 DTC with non-zero offsets (some beyond the clamp) and modulation."""
    torch.manual_seed(seed)
    m = DynamicTemporalConv(dim, groups, kernel, max_offset=2.0, formulation=formulation).double()
    with torch.no_grad():
        m.offset_proj.weight.normal_(0, 1.0)
        m.offset_proj.bias.normal_(0, 1.5)
        m.mod_proj.weight.normal_(0, 0.5)
        m.mod_proj.bias.normal_(0, 0.5)
    return m


def grads(m: torch.nn.Module, out: torch.Tensor, x: torch.Tensor, r: torch.Tensor) -> list[torch.Tensor]:
    return list(torch.autograd.grad((out * r).sum(), [x, *m.parameters()]))


@pytest.mark.parametrize("formulation", FORMULATIONS)
@pytest.mark.parametrize(("groups", "kernel"), [(1, 3), (2, 4), (4, 3), (2, 8), (4, 1)])
def test_matches_loop_reference_values_and_gradients(formulation: str, groups: int, kernel: int) -> None:
    m = randomised(8, groups, kernel, formulation)
    x = torch.randn(2, 7, 8, dtype=torch.float64, requires_grad=True)
    r = torch.randn(2, 7, 8, dtype=torch.float64)
    out, ref = m(x), reference_dtc(m, x)
    assert out.abs().max() > 1e-3  # the test is not vacuous
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    for got, want in zip(grads(m, out, x, r), grads(m, ref, x, r)):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_gradcheck(formulation: str) -> None:
    m = randomised(4, 2, 4, formulation, seed=1)
    x = torch.randn(1, 6, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(m, (x,), eps=1e-6, atol=1e-6)


def test_formulations_agree_in_float32() -> None:
    x = torch.randn(3, 27, 3, 32)
    a, b = randomised(32, 4, 8, "matrix", seed=2).float(), randomised(32, 4, 8, "gather", seed=2).float()
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = a(xa), b(xb)
    torch.testing.assert_close(ya, yb, rtol=1e-4, atol=1e-5)
    ya.square().sum().backward()
    yb.square().sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-4, atol=1e-4)
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad, rtol=1e-4, atol=1e-3)


def test_matrix_sampling_in_bfloat16_follows_float32() -> None:
    """The custom backward keeps the input's dtype (bf16 under autocast on a GPU) and its numbers."""
    torch.manual_seed(4)
    proj = torch.randn(2, 27, 3, 8 + 2 * 2 * 4) * 0.7  # (B,T,S,C+2GK), C=8, G=2, K=4; offsets beyond the clamp too
    r = torch.randn(2, 27, 3, 8)
    grads = []
    for dtype in (torch.float32, torch.bfloat16):
        p = proj.to(dtype).detach().requires_grad_()
        y = MatrixSampling.apply(p, 2, 4, 2.0)
        assert y.dtype == dtype
        (y.float() * r).sum().backward()
        assert p.grad.dtype == dtype
        grads.append((y.float(), p.grad.float()))
    (y32, g32), (y16, g16) = grads
    torch.testing.assert_close(y16, y32, rtol=0.05, atol=0.05)
    # the value and modulation parts (offsets: a bf16 position can round across a frame boundary)
    torch.testing.assert_close(g16[..., :8], g32[..., :8], rtol=0.05, atol=0.05)
    torch.testing.assert_close(g16[..., -8:], g32[..., -8:], rtol=0.05, atol=0.1)


def test_inference_path_equals_the_autograd_function() -> None:
    """Without gradients the module skips MatrixSampling's autograd bookkeeping (sample_matrix): same numbers."""
    m = randomised(16, 2, 8, "matrix", seed=5).float()
    x = torch.randn(2, 27, 5, 16)
    with torch.no_grad():
        fast = m(x)
    slow = m(x.requires_grad_())
    assert slow.grad_fn is not None
    torch.testing.assert_close(fast, slow.detach(), rtol=0, atol=0)
    proj = torch.randn(2, 27, 5, 16 + 2 * 2 * 8)
    torch.testing.assert_close(sample_matrix(proj, 2, 8, 2.0), MatrixSampling.apply(proj, 2, 8, 2.0), rtol=0, atol=0)


def test_series_layout_equals_flattened_sequences() -> None:
    m = randomised(8, 2, 4, "matrix", seed=3)
    x = torch.randn(2, 9, 5, 8, dtype=torch.float64)  # (B,T,S,C)
    flat = x.permute(0, 2, 1, 3).reshape(10, 9, 8)  # (B*S,T,C)
    expected = m(flat).view(2, 5, 9, 8).permute(0, 2, 1, 3)
    torch.testing.assert_close(m(x), expected)


def identity_dtc(kernel: int, formulation: str, shift: float = 0.0, tap: int | None = None) -> DynamicTemporalConv:
    """Identity value/output projections, constant offsets ``shift`` and a one-hot modulation on ``tap``."""
    dim = 4
    m = DynamicTemporalConv(dim, 2, kernel, formulation=formulation).double()
    tap = (kernel - 1) // 2 if tap is None else tap
    with torch.no_grad():
        for layer in (m.value_proj, m.output_proj):
            layer.weight.copy_(torch.eye(dim))
            layer.bias.zero_()
        m.offset_proj.bias.fill_(shift)
        m.mod_proj.bias.copy_(torch.nn.functional.one_hot(torch.tensor(tap), kernel).double().repeat(2))
    return m


@pytest.mark.parametrize("formulation", FORMULATIONS)
@pytest.mark.parametrize("kernel", [1, 3, 5])
def test_zero_offset_centre_tap_is_identity(formulation: str, kernel: int) -> None:
    x = torch.randn(2, 11, 4, dtype=torch.float64)
    torch.testing.assert_close(identity_dtc(kernel, formulation)(x), x)


@pytest.mark.parametrize("formulation", FORMULATIONS)
@pytest.mark.parametrize("shift", [1, -2])
def test_integer_offsets_shift_the_sequence(formulation: str, shift: int) -> None:
    x = torch.randn(2, 11, 4, dtype=torch.float64)
    y = identity_dtc(3, formulation, shift=float(shift))(x)
    expected = torch.zeros_like(x)
    if shift > 0:
        expected[:, :-shift] = x[:, shift:]
    else:
        expected[:, -shift:] = x[:, :shift]
    torch.testing.assert_close(y, expected)


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_even_kernel_samples_half_integer_grid(formulation: str) -> None:
    x = torch.randn(1, 8, 4, dtype=torch.float64)
    y = identity_dtc(2, formulation, tap=0)(x)  # tap 0 of K=2 sits at t - 0.5
    expected = 0.5 * x
    expected[:, 1:] += 0.5 * x[:, :-1]  # frame -1 is outside the sequence and contributes 0
    torch.testing.assert_close(y, expected)


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_offsets_beyond_the_clamp_have_no_effect(formulation: str) -> None:
    x = torch.randn(2, 11, 4, dtype=torch.float64)
    at_clamp = identity_dtc(3, formulation, shift=2.0)
    beyond = identity_dtc(3, formulation, shift=5.0)
    torch.testing.assert_close(at_clamp(x), beyond(x))
    assert not torch.allclose(identity_dtc(3, formulation, shift=1.5)(x), at_clamp(x))
    beyond(x).square().sum().backward()
    assert beyond.offset_proj.bias.grad.abs().max() == 0


@pytest.mark.parametrize("level", ["joint", "hand"])
def test_fresh_sublayer_adds_exactly_zero(level: str) -> None:
    torch.manual_seed(0)
    sub = DTCSublayer(16, DTCConfig(groups=4, kernel_size=8), level=level)
    x = torch.randn(2, 9, 21, 16)
    assert torch.equal(sub(x), x)
    assert torch.equal(sub.dtc(x), torch.zeros_like(x))
    sub(x).square().sum().backward()
    assert sub.dtc.mod_proj.weight.grad.abs().max() > 0  # it starts at zero output, not frozen


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="divisible"):
        DynamicTemporalConv(10, 3, 4)
    with pytest.raises(ValueError, match="formulation"):
        DynamicTemporalConv(8, 2, 4, formulation="fft")
    with pytest.raises(ValueError, match="kernel_size"):
        DynamicTemporalConv(8, 2, 0)
    with pytest.raises(ValueError, match=r"\(B,T,C\)"):
        DynamicTemporalConv(8, 2, 4)(torch.zeros(8))


def relative_errors_bf16(m: DynamicTemporalConv, x: torch.Tensor, seed: int = 0) -> dict[str, float]:
    """Relative norm error of the output and of every gradient, bf16 autocast on the CPU against float32."""
    r = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
    results = []
    for bf16 in (False, True):
        xx = x.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            y = m(xx)
        assert y.dtype == (torch.bfloat16 if bf16 else torch.float32)
        names, params = zip(*m.named_parameters())
        got = torch.autograd.grad((y.float() * r).sum(), [xx, *params])
        assert all(g.dtype == torch.float32 for g in got)
        results.append({"out": y.float().detach(), "x": got[0], **dict(zip(names, got[1:]))})
    ref, low = results
    return {k: float((low[k] - ref[k]).norm() / ref[k].norm()) for k in ref}


# Offset (and input) gradients under bf16 autocast in the test below: measured 0.43-0.46 % (relative norm, both
# formulations); 8.6-10.2 % when the offsets were projected and rounded in bf16 with the values (before issue
# #20). Bounded at 2 %: about 4x the bf16 arithmetic's own error, a fifth of the rounded offsets' error.
BF16_OFFSET_GRAD_BOUND = 0.02


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_bf16_autocast_offset_gradients_follow_float32(formulation: str) -> None:
    """C=32, G=8, K=8, T=27: the offsets and modulation are projected in float32 under autocast, so a rounded
    offset no longer crosses the kink of linear interpolation at whole frames; only bf16 arithmetic remains."""
    m = randomised(32, 8, 8, formulation, seed=6).float()
    with torch.no_grad():  # offsets of about a frame, a few beyond the clamp
        m.offset_proj.weight.mul_(0.3)
        m.mod_proj.weight.mul_(0.5)
    x = torch.randn(2, 27, 4, 32, generator=torch.Generator().manual_seed(7))  # (B,T,S,C)
    errors = relative_errors_bf16(m, x)
    for name in ("offset_proj.weight", "offset_proj.bias", "x"):
        assert errors[name] < BF16_OFFSET_GRAD_BOUND, (name, errors)
    for name in ("out", "value_proj.weight", "mod_proj.weight", "output_proj.weight"):
        assert errors[name] < BF16_OFFSET_GRAD_BOUND, (name, errors)


def test_formulations_agree_under_bf16_autocast() -> None:
    """The two formulations read the same float32 offsets and bf16 values under autocast."""
    x = torch.randn(2, 27, 3, 16)
    outs = []
    for formulation in FORMULATIONS:
        m = randomised(16, 2, 8, formulation, seed=8).float()
        xx = x.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = m(xx)
        y.float().square().sum().backward()
        outs.append((y.float().detach(), xx.grad, m.offset_proj.weight.grad))
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b, rtol=0.02, atol=0.02 * float(b.abs().max()))


def test_inference_path_equals_the_autograd_function_with_float32_offsets() -> None:
    proj = torch.randn(2, 27, 5, 16).bfloat16()  # (B,T,S,C) values
    dyn = torch.randn(2, 27, 5, 2 * 2 * 8)  # (B,T,S,2GK) float32 offsets and modulation
    fast = sample_matrix(proj, 2, 8, 2.0, dyn)
    p, d = proj.clone().requires_grad_(), dyn.clone().requires_grad_()
    slow = MatrixSampling.apply(p, 2, 8, 2.0, d)
    torch.testing.assert_close(fast, slow.detach(), rtol=0, atol=0)
    slow.float().sum().backward()
    assert p.grad.dtype == torch.bfloat16 and d.grad.dtype == torch.float32
