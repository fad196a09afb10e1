"""attention forward: parity with the float64 oracle on every ISA path — odd sizes, head dims
that are not multiples of the vector width, MHA/GQA/MQA, cross-attention with bottom-right
causal alignment, boolean/additive/broadcast masks, fully masked rows, views of any layout,
the decode path with key splits, empty and non-finite inputs."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn.reference import attention as ra
from fastnn.testing import assert_close, rand


def qkv(gen, B, Hq, Hkv, Lq, Lk, D, Dv=None, scale=1.0):
    Dv = D if Dv is None else Dv
    return (rand((B, Hq, Lq, D), gen=gen, low=-scale, high=scale), rand((B, Hkv, Lk, D), gen=gen),
            rand((B, Hkv, Lk, Dv), gen=gen))


def check_forward(q, k, v, **kw):
    out, lse = fastnn.attention(q, k, v, return_lse=True, **kw)
    want, want_lse = ra.attention(q, k, v, return_lse=True, **kw)
    kred = max(q.shape[-1], k.shape[2])
    assert_close(out, want, k=kred, name="out")
    assert_close(lse, want_lse, k=kred, name="lse")  # -inf positions must match exactly
    assert not np.isnan(out).any() or np.isnan(want).any()
    return out, lse


# (B, Hq, Hkv, Lq, Lk, D, Dv): tails in every blocked dimension, D not a multiple of 8 or 16.
SHAPES = [
    (1, 1, 1, 1, 1, 16, 16),
    (1, 2, 2, 7, 13, 16, 16),
    (2, 3, 1, 33, 31, 59, 59),
    (1, 4, 2, 127, 129, 64, 64),
    (1, 2, 1, 129, 200, 100, 37),
    (1, 1, 1, 97, 65, 128, 128),
    (1, 2, 2, 50, 70, 255, 255),
    (1, 1, 1, 40, 33, 256, 200),
]


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_forward_odd_shapes(isa, gen, shape, causal):
    B, Hq, Hkv, Lq, Lk, D, Dv = shape
    check_forward(*qkv(gen, B, Hq, Hkv, Lq, Lk, D, Dv), causal=causal)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("Lq,D", [(1025, 64), (97, 59)])
def test_forward_long_keys_prefetch(isa, gen, Lq, D, causal):
    # Lk = 1025: 17 key blocks, the last one a single key; every block but the last prefetches the
    # next one's K and V rows. D = 128 for V (a 512-byte row stride: V blocks are copied); Lq = 97
    # with causal puts the diagonal far from the first query (bottom-right alignment).
    check_forward(*qkv(gen, 1, 2, 1, Lq, 1025, D, 128), causal=causal)


@pytest.mark.parametrize("Hkv", [8, 4, 2, 1], ids=lambda h: f"Hkv{h}")
def test_forward_gqa_mqa(isa, gen, Hkv):
    check_forward(*qkv(gen, 2, 8, Hkv, 37, 45, 32))
    check_forward(*qkv(gen, 1, 8, Hkv, 45, 45, 32), causal=True)


@pytest.mark.parametrize("Lq,Lk", [(1, 64), (20, 100), (64, 300), (100, 20), (77, 77)])
def test_forward_causal_cross_attention_bottom_right(isa, gen, Lq, Lk):
    q, k, v = qkv(gen, 1, 2, 1, Lq, Lk, 24)
    out, lse = check_forward(q, k, v, causal=True)
    if Lq > Lk:  # the first Lq - Lk queries see no key: zeros, lse = -inf
        assert (out[:, :, : Lq - Lk] == 0).all()
        assert np.isneginf(lse[:, :, : Lq - Lk]).all()
        assert np.isfinite(lse[:, :, Lq - Lk:]).all()
    # The last query row always sees every key: it equals the unmasked result.
    full = fastnn.attention(q[:, :, -1:], k, v)
    np.testing.assert_allclose(out[:, :, -1:], full, rtol=1e-5, atol=1e-6)


def test_forward_causal_matches_torch_convention_when_square(isa, gen):
    torch = pytest.importorskip("torch")
    q, k, v = qkv(gen, 2, 3, 3, 70, 70, 40)
    want = torch.nn.functional.scaled_dot_product_attention(*map(torch.from_numpy, (q, k, v)), is_causal=True)
    np.testing.assert_allclose(fastnn.attention(q, k, v, causal=True), want.numpy(), rtol=2e-5, atol=2e-6)


def test_forward_key_padding_mask_with_fully_masked_batch(isa, gen):
    q, k, v = qkv(gen, 3, 4, 2, 29, 70, 32)
    keep = gen.random((3, 1, 1, 70)) > 0.4
    keep[1] = False  # batch 1 sees nothing: zeros, not NaN
    out, lse = check_forward(q, k, v, mask=keep)
    assert (out[1] == 0).all() and np.isneginf(lse[1]).all()
    out_c, _ = check_forward(q, k, v, mask=keep, causal=True)
    assert (out_c[1] == 0).all()


@pytest.mark.parametrize("mask_shape", [(1, 1, 29, 70), (3, 4, 29, 70), (29, 70), (70,), (3, 1, 29, 1), (4, 1, 1)])
def test_forward_bool_mask_broadcasts(isa, gen, mask_shape):
    q, k, v = qkv(gen, 3, 4, 4, 29, 70, 16)
    keep = gen.random(mask_shape) > 0.3
    check_forward(q, k, v, mask=keep)
    check_forward(q, k, v, mask=keep, causal=True)


def test_forward_bool_mask_rows_fully_masked_give_zeros(isa, gen):
    q, k, v = qkv(gen, 1, 2, 1, 40, 90, 48)
    keep = gen.random((1, 2, 40, 90)) > 0.5
    keep[0, 1, [0, 7, 39]] = False
    out, lse = check_forward(q, k, v, mask=keep)
    assert (out[0, 1, [0, 7, 39]] == 0).all()
    assert np.isneginf(lse[0, 1, [0, 7, 39]]).all()


def test_forward_additive_float_mask(isa, gen):
    q, k, v = qkv(gen, 2, 2, 2, 33, 51, 20)
    bias = rand((2, 1, 33, 51), gen=gen, low=-3, high=3)
    bias[0, 0, 5, :] = -np.inf  # a float mask may fully mask a row too
    bias[1, 0, :, 10:20] = -np.inf
    out, lse = check_forward(q, k, v, mask=bias)
    assert (out[0, :, 5] == 0).all() and np.isneginf(lse[0, :, 5]).all()
    check_forward(q, k, v, mask=bias, causal=True)
    check_forward(q, k, v, mask=rand((51,), gen=gen))  # per-key bias, broadcast over rows


@pytest.mark.parametrize("scale", [None, 0.0, 0.05, 2.5, -1.0])
def test_forward_scale(isa, gen, scale):
    check_forward(*qkv(gen, 1, 2, 2, 21, 30, 24), scale=scale)


def test_forward_large_scores_are_stable(isa, gen):
    # Scores of several hundred: the online max keeps exp() in range.
    check_forward(*qkv(gen, 1, 2, 2, 40, 150, 64, scale=30.0))


def test_forward_score_range_beyond_exp2_clamp(isa, gen):
    # Scores differing by far more than 127 (base 2): the losers' 2^(s - max) flushes to exactly 0
    # (exp2_softmax clamps at -127) while the row stays exact; a later key that beats the running max
    # by as much rescales the earlier blocks to 0.
    q, k, v = qkv(gen, 1, 2, 1, 30, 200, 16)
    k[0, 0, 5] = 40.0 * np.sign(q[0, :, 0].mean(axis=0))  # a key of huge score for most rows, block 0
    k[0, 0, 150] = -k[0, 0, 5]  # and its opposite in block 2: wins the rows key 5 lost
    check_forward(q, k, v)
    check_forward(q, k, v, scale=4.0)


@pytest.mark.parametrize("causal", [False, True])
def test_forward_full_query_blocks_masked_panels(isa, gen, causal):
    # Lq spans several full query blocks (every lane panel, the 8/16-lane panel tails), Dv % 4 == 2,
    # Lk % 4 == 3, a per-row boolean mask (bias tile) and an additive per-key bias (bias row).
    q, k, v = qkv(gen, 1, 2, 1, 450, 463, 34, 30)
    check_forward(q, k, v, causal=causal)
    keep = gen.random((1, 2, 450, 463)) > 0.3
    keep[0, 1, 200:210] = False  # fully masked rows inside a block
    check_forward(q, k, v, mask=keep, causal=causal)
    check_forward(q, k, v, mask=rand((1, 1, 1, 463), gen=gen, low=-3, high=3), causal=causal)


# ---- layouts: any strides are read in place -------------------------------------------------

def test_forward_fused_qkv_projection_views(isa, gen):
    B, L, H, D = 2, 45, 3, 40
    qkv_proj = rand((B, L, 3, H, D), gen=gen)
    q, k, v = (qkv_proj[:, :, i].transpose(0, 2, 1, 3) for i in range(3))  # (B, H, L, D) views
    assert not q.flags.c_contiguous and np.shares_memory(q, qkv_proj)
    for causal in (False, True):
        check_forward(q, k, v, causal=causal)


def test_forward_transposed_and_negative_strides(isa, gen):
    q0, k0, v0 = qkv(gen, 2, 2, 1, 30, 41, 24)
    q = np.asfortranarray(q0)
    k = np.ascontiguousarray(k0[:, :, ::-1, ::-1])[:, :, ::-1, ::-1]  # negative strides, same values
    big = np.full((4, 2, 82, 48), np.nan, np.float32)
    v = big[::2, ::2, ::2, ::2]
    v[...] = v0
    out = fastnn.attention(q, k, v, causal=True)
    assert_close(out, ra.attention(q0, k0, v0, causal=True), k=41)


def test_forward_broadcast_kv_zero_strides(isa, gen):
    q = rand((4, 2, 19, 16), gen=gen)
    k = np.broadcast_to(rand((1, 1, 23, 16), gen=gen), (4, 2, 23, 16))
    v = np.broadcast_to(rand((1, 2, 23, 8), gen=gen), (4, 2, 23, 8))
    check_forward(q, k, v)


def test_forward_d_not_contiguous_decode_path(isa, gen):
    # q/k/v with a non-unit stride along D: the decode path packs key blocks, the flash path reads in place.
    base = rand((1, 4, 600, 64), gen=gen)
    q, k, v = base[:, :, :2, ::2], base[:, :2, :, 1::2], base[:, 2:, :, ::2]
    check_forward(q, k, v)
    check_forward(base[:, :, :40, ::2], k, v, causal=True)


# ---- decode path: few queries, long keys, key splits merged by log-sum-exp ------------------

@pytest.mark.parametrize("Lq", [1, 2, 4])
@pytest.mark.parametrize("Hq,Hkv", [(1, 1), (4, 1), (32, 8), (16, 1)])
def test_forward_decode(isa, gen, Lq, Hq, Hkv):
    # B·Hkv small enough that keys are split across threads (when more than one thread runs).
    check_forward(*qkv(gen, 1, Hq, Hkv, Lq, 1500, 64))
    check_forward(*qkv(gen, 1, Hq, Hkv, Lq, 700, 33), causal=True)


def test_forward_decode_masks(isa, gen):
    q, k, v = qkv(gen, 2, 4, 2, 1, 1300, 48)
    keep = gen.random((2, 1, 1, 1300)) > 0.5
    keep[1, ..., :1000] = False  # whole splits of batch 1 masked
    check_forward(q, k, v, mask=keep)
    keep[1] = False
    out, lse = check_forward(q, k, v, mask=keep)
    assert (out[1] == 0).all() and np.isneginf(lse[1]).all()
    check_forward(q, k, v, mask=rand((2, 4, 1, 1300), gen=gen, low=-2, high=2))


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_forward_thread_counts(isa, gen, threads):
    q, k, v = qkv(gen, 1, 3, 1, 150, 2100, 32)
    prev = fastnn.get_num_threads()
    fastnn.set_num_threads(threads)
    try:
        check_forward(q, k, v, causal=True)
        check_forward(q[:, :, :1], k, v)  # decode: the split count depends on the thread count
    finally:
        fastnn.set_num_threads(prev)


# ---- edges ------------------------------------------------------------------------------------

@pytest.mark.parametrize("B,Hq,Lq,Lk", [(0, 2, 5, 5), (1, 2, 0, 5), (1, 2, 5, 0), (1, 2, 1, 0)])
def test_forward_empty(isa, gen, B, Hq, Lq, Lk):
    q, k, v = qkv(gen, B, Hq, 1, Lq, Lk, 8)
    out, lse = fastnn.attention(q, k, v, return_lse=True)
    assert out.shape == (B, Hq, Lq, 8) and lse.shape == (B, Hq, Lq)
    assert (out == 0).all() and np.isneginf(lse).all()  # no key: zeros and -inf


def test_forward_nan_stays_in_its_row(isa, gen):
    q, k, v = qkv(gen, 1, 2, 2, 20, 30, 16)
    q[0, 1, 4, 3] = np.nan
    out = fastnn.attention(q, k, v)
    assert np.isnan(out[0, 1, 4]).all()
    rows = np.ones(out.shape[:3], bool)
    rows[0, 1, 4] = False
    assert np.isfinite(out[rows]).all()
    v2 = v.copy()
    v2[0, 0, 7, 2] = np.inf  # a non-finite value reaches every output that weights it
    assert not np.isfinite(fastnn.attention(q, k, v2)[0, 0, :, 2]).any()


def test_forward_deterministic(isa, gen):
    q, k, v = qkv(gen, 2, 4, 2, 100, 130, 64)
    np.testing.assert_array_equal(fastnn.attention(q, k, v, causal=True), fastnn.attention(q, k, v, causal=True))


def test_return_lse_false_returns_only_out(isa, gen):
    q, k, v = qkv(gen, 1, 1, 1, 5, 6, 8)
    out = fastnn.attention(q, k, v)
    assert isinstance(out, np.ndarray) and out.shape == (1, 1, 5, 8) and out.dtype == np.float32
