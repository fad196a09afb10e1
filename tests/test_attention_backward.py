"""attention_backward: (dq, dk, dv) against the float64 oracle (itself checked by finite
differences in tests/reference) on every ISA path, with the same features as the forward."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn.reference import attention as ra
from fastnn.testing import assert_close, rand


def qkv(gen, B, Hq, Hkv, Lq, Lk, D, Dv=None):
    Dv = D if Dv is None else Dv
    return rand((B, Hq, Lq, D), gen=gen), rand((B, Hkv, Lk, D), gen=gen), rand((B, Hkv, Lk, Dv), gen=gen)


def check_backward(gen, q, k, v, grad_out=None, **kw):
    out, lse = fastnn.attention(q, k, v, return_lse=True, **kw)
    g = rand(out.shape, gen=gen) if grad_out is None else grad_out
    dq, dk, dv = fastnn.attention_backward(g, q, k, v, out, lse, **kw)
    want = ra.attention_backward(g, q, k, v, **kw)
    rep = q.shape[1] // k.shape[1]
    kred = max(q.shape[-1], k.shape[2], q.shape[2] * rep)
    for name, got, exp in zip(("dq", "dk", "dv"), (dq, dk, dv), want):
        assert got.shape == exp.shape and got.dtype == np.float32
        assert_close(got, exp, k=kred, name=name)
    return dq, dk, dv


SHAPES = [  # (one key alone would make dq exactly 0 in float64: a relative check is meaningless)
    (1, 1, 1, 1, 2, 16, 16),
    (1, 2, 2, 7, 13, 16, 16),
    (2, 3, 1, 33, 31, 59, 59),
    (1, 4, 2, 127, 129, 64, 64),
    (1, 2, 1, 129, 200, 100, 37),
    (1, 1, 1, 97, 65, 128, 128),
    (1, 1, 1, 40, 50, 256, 255),
]


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_backward_odd_shapes(isa, gen, shape, causal):
    B, Hq, Hkv, Lq, Lk, D, Dv = shape
    check_backward(gen, *qkv(gen, B, Hq, Hkv, Lq, Lk, D, Dv), causal=causal)


@pytest.mark.parametrize("causal", [False, True])
def test_backward_several_query_blocks_and_chunks(isa, gen, causal):
    # Lq spans several query blocks (the L2-sized block of each head dim) and one kv head is split
    # into query chunks whose dK/dV partials are summed; Dv % 4 == 2, a per-row mask.
    q, k, v = qkv(gen, 1, 1, 1, 333, 301, 70, 30)
    check_backward(gen, q, k, v, causal=causal)
    keep = gen.random((1, 1, 333, 301)) > 0.2
    check_backward(gen, q, k, v, mask=keep, causal=causal)


@pytest.mark.parametrize("causal", [False, True])
def test_backward_long_sequence_prefetch_and_wide_tiles(isa, gen, causal):
    # L = 1025: 17 key blocks (the last one a single key) whose K, V and dK/dV accumulator rows are
    # prefetched one block ahead; D = 64 and Dv = 128 take the 32-lane (AVX2) / 64-lane (AVX-512)
    # dK/dV tiles, m = 64 keys per block and 1 in the last (row tails of 1 and of 3x + 1).
    q, k, v = qkv(gen, 1, 2, 1, 1025, 1025, 64, 128)
    check_backward(gen, q, k, v, causal=causal)


@pytest.mark.parametrize("Hkv", [8, 2, 1], ids=lambda h: f"Hkv{h}")
def test_backward_gqa_mqa_sums_over_group(isa, gen, Hkv):
    check_backward(gen, *qkv(gen, 1, 8, Hkv, 40, 50, 32))
    check_backward(gen, *qkv(gen, 2, 8, Hkv, 50, 50, 32), causal=True)


@pytest.mark.parametrize("Lq,Lk", [(1, 64), (20, 100), (100, 20)])
def test_backward_causal_cross_attention(isa, gen, Lq, Lk):
    dq, dk, dv = check_backward(gen, *qkv(gen, 1, 2, 1, Lq, Lk, 24), causal=True)
    if Lq > Lk:  # rows without keys get no gradient
        assert (dq[:, :, : Lq - Lk] == 0).all()


def test_backward_chunked_query_blocks_one_kv_head(isa, gen):
    # One kv head and several threads: query blocks are dealt to chunks whose dK/dV are summed.
    prev = fastnn.get_num_threads()
    try:
        for threads in (1, 2, 3):
            fastnn.set_num_threads(threads)
            check_backward(gen, *qkv(gen, 1, 2, 1, 300, 170, 32), causal=True)
    finally:
        fastnn.set_num_threads(prev)


def test_backward_masks(isa, gen):
    q, k, v = qkv(gen, 2, 4, 2, 30, 70, 32)
    keep = gen.random((2, 1, 1, 70)) > 0.4
    keep[1] = False
    dq, dk, dv = check_backward(gen, q, k, v, mask=keep)
    assert (dq[1] == 0).all() and (dk[1] == 0).all() and (dv[1] == 0).all()  # no NaN from empty rows
    keep4 = gen.random((2, 4, 30, 70)) > 0.5
    keep4[0, 2, 3] = False
    check_backward(gen, q, k, v, mask=keep4, causal=True)
    bias = rand((30, 70), gen=gen, low=-2, high=2)
    bias[4] = -np.inf
    check_backward(gen, q, k, v, mask=bias)


def test_backward_scale(isa, gen):
    for scale in (0.0, 0.3, -2.0):
        check_backward(gen, *qkv(gen, 1, 2, 2, 19, 23, 12), scale=scale)


def test_backward_views(isa, gen):
    B, L, H, D = 2, 37, 2, 24
    proj = rand((B, L, 3, H, D), gen=gen)
    q, k, v = (proj[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
    g = np.asfortranarray(rand((B, H, L, D), gen=gen))
    check_backward(gen, q, k, v, grad_out=g, causal=True)
    q2, k2, v2 = (x[:, :, ::-1, ::-1] for x in qkv(gen, 1, 2, 1, 20, 30, 16))  # negative strides
    check_backward(gen, q2, k2, v2)


def test_backward_empty(isa, gen):
    q, k, v = qkv(gen, 1, 2, 1, 6, 0, 8)
    out, lse = fastnn.attention(q, k, v, return_lse=True)
    dq, dk, dv = fastnn.attention_backward(np.ones_like(out), q, k, v, out, lse)
    assert (dq == 0).all() and dk.shape == (1, 1, 0, 8) and dv.shape == (1, 1, 0, 8)
    q, k, v = qkv(gen, 1, 2, 1, 0, 9, 8)
    out, lse = fastnn.attention(q, k, v, return_lse=True)
    dq, dk, dv = fastnn.attention_backward(out, q, k, v, out, lse)
    assert dq.shape == (1, 2, 0, 8) and (dk == 0).all() and (dv == 0).all()


def test_backward_matches_torch(isa, gen):
    torch = pytest.importorskip("torch")
    q, k, v = qkv(gen, 2, 2, 2, 45, 45, 32)
    g = rand((2, 2, 45, 32), gen=gen)
    out, lse = fastnn.attention(q, k, v, causal=True, return_lse=True)
    tq, tk, tv = (torch.from_numpy(x).requires_grad_() for x in (q, k, v))
    to = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
    want = torch.autograd.grad(to, (tq, tk, tv), torch.from_numpy(g))
    for got, exp in zip(fastnn.attention_backward(g, q, k, v, out, lse, causal=True), want):
        np.testing.assert_allclose(got, exp.numpy(), rtol=1e-4, atol=1e-5)
