"""attention oracle vs PyTorch scaled_dot_product_attention (float64)."""
import math

import numpy as np
import pytest

from fastnn.reference import attention as rattn

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL, ATOL = 1e-10, 1e-12


def T(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def close(ours, theirs):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


def torch_attention(q, k, v, mask, scale, g):
    """SDPA with GQA expanded by hand and an explicit mask -> (out, dq, dk, dv, lse)."""
    qt, kt, vt = T(q, True), T(k, True), T(v, True)
    rep = q.shape[1] // k.shape[1]
    ke, ve = kt.repeat_interleave(rep, dim=1), vt.repeat_interleave(rep, dim=1)
    m = None if mask is None else (torch.tensor(mask) if mask.dtype == bool else T(mask))
    out = F.scaled_dot_product_attention(qt, ke, ve, attn_mask=m, scale=scale)
    out.backward(T(g))
    s = (qt @ ke.transpose(-1, -2)) * (scale if scale is not None else 1 / math.sqrt(q.shape[-1]))
    if m is not None:
        s = s.masked_fill(~m, -math.inf) if m.dtype == torch.bool else s + m
    lse = torch.logsumexp(s, dim=-1)
    return out, qt.grad, kt.grad, vt.grad, lse


CASES = [
    # B, Hq, Hkv, Lq, Lk, D, Dv, causal
    (2, 3, 3, 7, 7, 8, 8, False),
    (1, 1, 1, 1, 1, 1, 1, False),
    (2, 4, 2, 5, 13, 7, 5, False),   # GQA, Dv != D
    (1, 6, 1, 9, 9, 4, 4, True),     # MQA causal square
    (2, 4, 2, 5, 13, 8, 8, True),    # causal Lq < Lk: bottom-right aligned
    (1, 2, 1, 3, 1, 5, 5, True),     # Lq < Lk edge: single key
]


@pytest.mark.parametrize("B,Hq,Hkv,Lq,Lk,D,Dv,causal", CASES)
@pytest.mark.parametrize("scale", [None, 0.3])
def test_attention_vs_sdpa(B, Hq, Hkv, Lq, Lk, D, Dv, causal, scale):
    rng = np.random.default_rng(B * 100 + Hq * 10 + Lq + Lk)
    q = rng.standard_normal((B, Hq, Lq, D))
    k = rng.standard_normal((B, Hkv, Lk, D))
    v = rng.standard_normal((B, Hkv, Lk, Dv))
    g = rng.standard_normal((B, Hq, Lq, Dv))
    mask = rattn.attention_keep_mask(Lq, Lk, causal)
    out_t, dq_t, dk_t, dv_t, lse_t = torch_attention(q, k, v, mask, scale, g)
    out, lse = rattn.attention(q, k, v, causal=causal, scale=scale, return_lse=True)
    close(out, out_t)
    close(lse, lse_t)
    dq, dk, dv = rattn.attention_backward(g, q, k, v, causal=causal, scale=scale)
    assert dk.shape == k.shape and dv.shape == v.shape
    close(dq, dq_t)
    close(dk, dk_t)
    close(dv, dv_t)


def test_causal_alignment_is_bottom_right():
    m = rattn.attention_keep_mask(2, 4, True)
    np.testing.assert_array_equal(m, [[1, 1, 1, 0], [1, 1, 1, 1]])
    m = rattn.attention_keep_mask(4, 2, True)
    np.testing.assert_array_equal(m, [[0, 0], [0, 0], [1, 0], [1, 1]])


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_attention_masks(kind):
    rng = np.random.default_rng(5)
    B, Hq, Hkv, Lq, Lk, D = 2, 4, 2, 6, 11, 5
    q, k, v = (rng.standard_normal((B, Hq, Lq, D)), rng.standard_normal((B, Hkv, Lk, D)),
               rng.standard_normal((B, Hkv, Lk, D)))
    g = rng.standard_normal((B, Hq, Lq, D))
    if kind == "bool":  # key-padding style mask broadcast over heads and queries
        mask = rng.random((B, 1, 1, Lk)) < 0.7
        mask[..., 0] = True
        full = np.broadcast_to(mask, (B, Hq, Lq, Lk))
    else:
        mask = rng.standard_normal((1, Hq, Lq, Lk))
        full = mask
    out_t, dq_t, dk_t, dv_t, lse_t = torch_attention(q, k, v, np.ascontiguousarray(full), None, g)
    out, lse = rattn.attention(q, k, v, mask=mask, return_lse=True)
    close(out, out_t)
    close(lse, lse_t)
    for ours, theirs in zip(rattn.attention_backward(g, q, k, v, mask=mask), (dq_t, dk_t, dv_t)):
        close(ours, theirs)


def test_fully_masked_rows():
    """Rows with no visible key: out 0, lse -inf, no gradient; the other rows are
    unaffected (compared with SDPA on a mask where those rows are unmasked)."""
    rng = np.random.default_rng(9)
    B, Hq, Hkv, Lq, Lk, D = 1, 2, 1, 7, 4, 3  # causal Lq > Lk: rows 0..2 see nothing
    q, k, v = (rng.standard_normal((B, Hq, Lq, D)), rng.standard_normal((B, Hkv, Lk, D)),
               rng.standard_normal((B, Hkv, Lk, D)))
    g = rng.standard_normal((B, Hq, Lq, D))
    bmask = np.ones((B, Hq, Lq, Lk), dtype=bool)
    bmask[0, 1, 5, :] = False  # plus one explicitly dead row
    out, lse = rattn.attention(q, k, v, causal=True, mask=bmask, return_lse=True)
    dq, dk, dv = rattn.attention_backward(g, q, k, v, causal=True, mask=bmask)
    keep = rattn.attention_keep_mask(Lq, Lk, True) & bmask
    dead = ~keep.any(-1)
    assert dead.sum() == 2 * 3 + 1
    assert np.all(out[dead] == 0) and np.all(np.isneginf(lse[dead])) and np.all(dq[dead] == 0)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dk)) and np.all(np.isfinite(dv))
    g_live = np.where(dead[..., None], 0.0, g)  # dead rows contribute nothing to dk/dv
    out_t, dq_t, dk_t, dv_t, lse_t = torch_attention(q, k, v, keep | dead[..., None], None, g_live)
    close(out[~dead], out_t.detach().numpy()[~dead])
    close(lse[~dead], lse_t.detach().numpy()[~dead])
    close(dq[~dead], dq_t.numpy()[~dead])
    close(dk, rattn.attention_backward(g_live, q, k, v, causal=True, mask=bmask)[1])
    close(dk, dk_t)
    close(dv, dv_t)


def test_additive_neg_inf_row():
    rng = np.random.default_rng(10)
    q, k, v = (rng.standard_normal((1, 1, 3, 2)) for _ in range(3))
    m = np.zeros((3, 3))
    m[1] = -np.inf
    out, lse = rattn.attention(q, k, v, mask=m, return_lse=True)
    assert np.all(out[0, 0, 1] == 0) and np.isneginf(lse[0, 0, 1]) and np.isfinite(out).all()
    assert all(np.isfinite(a).all() for a in rattn.attention_backward(np.ones((1, 1, 3, 2)), q, k, v, mask=m))


def test_long_sequence_runs():
    rng = np.random.default_rng(2)
    q = rng.standard_normal((1, 4, 1024, 64))
    k = rng.standard_normal((1, 2, 1024, 64))
    out = rattn.attention(q, k, k, causal=True)
    assert out.shape == (1, 4, 1024, 64) and np.isfinite(out).all()
    close(out[0, 0, 0], k[0, 0, 0])  # first causal row only sees key 0
