"""Backbone pieces: attention axes and memory injection against an explicit reference, fusion, global block,
memory update."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from handprior.models.nets.config import DTCConfig
from handprior.models.nets.dstformer import Attention, AttentionSublayer, Embedding, Fusion, explicit_attention
from handprior.models.nets.global_block import GlobalTemporalBlock
from handprior.models.nets.memory import HandPriorMemory, MemoryUpdate
from handprior.models.nets.memory_hook import MemoryHook


def attention_with_memory(
    attn: Attention, x: torch.Tensor, axis: str, memory: torch.Tensor | None, memory_query: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The attention's update of x and, with ``memory_query``, of the memory, through a :class:`MemoryHook` (the
    sublayer's LayerNorm made the identity, so x and the memory reach the attention as they are)."""
    sub = AttentionSublayer(x.shape[-1], attn.num_heads, axis).to(x.dtype)
    sub.attn, sub.norm = attn, torch.nn.Identity()
    if memory is None:
        return sub(x) - x, None
    hook = MemoryHook(memory, as_queries=memory_query)
    out = sub(x, hook) - x
    return out, (hook.tokens - memory if memory_query else None)


def reference_attention(
    attn: Attention, x: torch.Tensor, axis: str, memory: torch.Tensor | None, memory_query: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-group multi-head attention with explicit loops over batch items and groups."""
    B, T, J, C = x.shape
    H = attn.num_heads
    D = C // H
    Wq, Wk, Wv = attn.qkv.weight.split(C)
    bq, bk, bv = attn.qkv.bias.split(C)
    out = torch.zeros_like(x)
    mem_updates = []
    for b in range(B):
        groups = range(T) if axis == "spatial" else range(J)
        mem_sum = 0
        for g in groups:
            tokens = x[b, g] if axis == "spatial" else x[b, :, g]  # (N,C)
            n = tokens.shape[0]
            kv_tokens = tokens if memory is None else torch.cat([tokens, memory[b]])
            q_tokens = kv_tokens if memory_query else tokens
            q = (q_tokens @ Wq.T + bq).view(-1, H, D).transpose(0, 1)
            k = (kv_tokens @ Wk.T + bk).view(-1, H, D).transpose(0, 1)
            v = (kv_tokens @ Wv.T + bv).view(-1, H, D).transpose(0, 1)
            a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(D), dim=-1)
            o = attn.proj((a @ v).transpose(0, 1).reshape(-1, C))
            if axis == "spatial":
                out[b, g] = o[:n]
            else:
                out[b, :, g] = o[:n]
            mem_sum = mem_sum + o[n:]
        mem_updates.append(mem_sum / len(groups))
    return out, (torch.stack(mem_updates) if memory is not None and memory_query else None)


@pytest.mark.parametrize("axis", ["spatial", "temporal"])
@pytest.mark.parametrize(("num_memory", "memory_query"), [(0, False), (3, False), (1, True), (2, True)])
def test_attention_matches_reference(axis: str, num_memory: int, memory_query: bool) -> None:
    torch.manual_seed(0)
    attn = Attention(8, 2).double()
    x = torch.randn(2, 5, 4, 8, dtype=torch.float64)
    memory = torch.randn(2, num_memory, 8, dtype=torch.float64) if num_memory else None
    out, mem = attention_with_memory(attn, x, axis, memory, memory_query)
    ref, ref_mem = reference_attention(attn, x, axis, memory, memory_query)
    assert out.shape == x.shape  # queries stay J (spatial) / T (temporal)
    torch.testing.assert_close(out, ref)
    if memory_query:
        torch.testing.assert_close(mem, ref_mem)
    else:
        assert mem is None


@pytest.mark.parametrize("keys", [5, 9])
def test_explicit_attention_equals_fused_kernel(keys: int) -> None:
    """The CPU path (explicit product) and the GPU path (scaled_dot_product_attention) compute the same thing."""
    torch.manual_seed(0)
    q = torch.randn(6, 2, 5, 4, dtype=torch.float64, requires_grad=True)
    k, v = (torch.randn(6, 2, keys, 4, dtype=torch.float64, requires_grad=True) for _ in range(2))
    ours = explicit_attention(q, k, v)
    fused = F.scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(ours, fused)
    grads = torch.autograd.grad(ours.square().sum(), (q, k, v))
    fused_grads = torch.autograd.grad(fused.square().sum(), (q, k, v))
    for a, b in zip(grads, fused_grads):
        torch.testing.assert_close(a, b)


def test_memory_injection_changes_output_but_not_token_count() -> None:
    torch.manual_seed(0)
    sub = AttentionSublayer(8, 2, "temporal")
    x = torch.randn(2, 6, 5, 8)
    memory = torch.randn(2, 4, 8)
    hook = MemoryHook(memory)
    plain, injected = sub(x), sub(x, hook)
    assert injected.shape == plain.shape == x.shape
    assert hook.tokens is memory  # prior style: the memory is read, not written, inside the block
    assert not torch.allclose(plain, injected)


def test_memory_gradients_through_injection() -> None:
    torch.manual_seed(0)
    attn = Attention(8, 2).double()
    x = torch.randn(1, 3, 4, 8, dtype=torch.float64)
    memory = torch.randn(1, 2, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda m: attention_with_memory(attn, x, "spatial", m, False)[0], (memory,))


def test_fusion_starts_equal_weights() -> None:
    a, b, c = torch.randn(3, 4, 5, 16).unbind(0)
    two, three = Fusion(16, 2), Fusion(16, 3)
    assert torch.equal(two.weight.weight, torch.zeros(2, 32))
    assert torch.equal(two.weight.bias, torch.full((2,), 0.5))
    torch.testing.assert_close(two([a, b]), 0.5 * a + 0.5 * b)
    torch.testing.assert_close(three([a, b, c]), (a + b + c) / 3)
    with pytest.raises(ValueError, match="branches"):
        two([a])


def test_fusion_learns_per_token_weights() -> None:
    fusion = Fusion(4, 2)
    with torch.no_grad():
        fusion.weight.weight[0, 0] = 10.0  # branch 0 wins where its first channel is large
    a = torch.zeros(2, 4)
    a[0, 0] = 1.0
    b = torch.ones(2, 4)
    out = fusion([a, b])
    alpha = torch.softmax(torch.tensor([10.0 + 0.5, 0.5]), 0)
    torch.testing.assert_close(out[0], alpha[0] * a[0] + alpha[1] * b[0])
    torch.testing.assert_close(out[1], 0.5 * a[1] + 0.5 * b[1])


def test_embedding_slices_temporal_embedding() -> None:
    emb = Embedding(21, 27, 8)
    x = torch.randn(2, 9, 21, 3)
    expected = emb.proj(x) + emb.spatial + emb.temporal[:, :9]
    torch.testing.assert_close(emb(x), expected)
    with pytest.raises(ValueError, match="seq_len"):
        emb(torch.randn(1, 28, 21, 3))
    with pytest.raises(ValueError, match="joints"):
        emb(torch.randn(1, 9, 16, 3))


@pytest.mark.parametrize(("attention", "dtc"), [(True, True), (True, False), (False, True)])
def test_global_block_is_the_same_for_every_joint(attention: bool, dtc: bool) -> None:
    torch.manual_seed(0)
    block = GlobalTemporalBlock(8, 2, attention=attention, dtc=DTCConfig(groups=2, kernel_size=4) if dtc else None)
    x = torch.randn(2, 7, 5, 8)
    update, g_fused = block(x)
    assert update.shape == g_fused.shape == (2, 7, 8)
    torch.testing.assert_close(g_fused - x.mean(dim=2), update)
    # only the joint mean matters: permuting joints or shifting them around their mean changes nothing
    perturbed = x[:, :, torch.randperm(5)]
    torch.testing.assert_close(block(perturbed)[0], update, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="needs attention or a DTC"):
        GlobalTemporalBlock(8, 2, attention=False, dtc=None)


def test_memory_update_reads_the_context() -> None:
    torch.manual_seed(0)
    update = MemoryUpdate(8, 2)
    memory = torch.randn(2, 4, 8)
    g = torch.randn(2, 9, 8)
    out = update(memory, g)
    assert out.shape == memory.shape
    assert not torch.allclose(out, update(memory, g.flip(0)))
    assert torch.allclose(out[0], update(memory[:1], g[:1])[0], atol=1e-6)  # windows do not mix


def test_memory_arguments() -> None:
    with pytest.raises(ValueError, match="at least one token"):
        HandPriorMemory(8, 0, 2, 2)
    vit = HandPriorMemory(8, 1, 2, 2, style="vit")
    assert vit.is_query and vit.updates is None
    memory = vit.initial(3)
    assert memory.shape == (3, 1, 8)
    assert vit.update(0, memory, torch.randn(3, 5, 8)) is memory
