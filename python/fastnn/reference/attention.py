"""Scaled dot-product attention with GQA/MQA, causal and masks (float64 oracle).

Shapes: q (B, Hq, Lq, D), k (B, Hkv, Lk, D), v (B, Hkv, Lk, Dv), Hq % Hkv == 0.
Query head h uses kv head h // (Hq // Hkv).

causal with Lq != Lk is aligned to the BOTTOM-RIGHT (FlashAttention-2 convention):
query i may attend to key j iff j <= i + (Lk - Lq).  (PyTorch's SDPA is_causal uses
the top-left alignment j <= i instead; they agree only when Lq == Lk.)  When
Lq > Lk the first Lq - Lk query rows see no key at all.

A row whose every key is masked gives output 0 and lse = -inf (never NaN), and
no gradient flows through it.
"""
import math

import numpy as np

__all__ = ["attention", "attention_backward", "attention_keep_mask"]


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def attention_keep_mask(Lq, Lk, causal):
    """(Lq, Lk) bool, True = may attend (bottom-right aligned causal), or None."""
    if not causal:
        return None
    return np.arange(Lk)[None, :] <= np.arange(Lq)[:, None] + (Lk - Lq)


def _expand_kv(t, Hq):
    B, Hkv = t.shape[:2]
    if Hq % Hkv:
        raise ValueError(f"Hq={Hq} is not a multiple of Hkv={Hkv}")
    return np.repeat(t, Hq // Hkv, axis=1)  # head h -> kv head h // (Hq/Hkv)


def _probs(q, k, causal, mask, scale):
    """-> (P (B,Hq,Lq,Lk), lse (B,Hq,Lq), k expanded to Hq heads)."""
    B, Hq, Lq, D = q.shape
    Lk = k.shape[2]
    ke = _expand_kv(k, Hq)
    s = (q @ np.swapaxes(ke, -1, -2)) * scale
    keep = np.ones(s.shape, dtype=bool)
    if causal:
        keep &= attention_keep_mask(Lq, Lk, True)
    if mask is not None:
        m = np.asarray(mask)
        if m.dtype == np.bool_:
            keep &= np.broadcast_to(m, s.shape)
        else:  # additive float mask (may itself contain -inf)
            s = s + _f64(m)
    s = np.where(keep, s, -np.inf)
    mx = np.max(s, axis=-1, keepdims=True)
    dead = ~np.isfinite(mx)  # whole row masked (max = -inf)
    p = np.exp(s - np.where(dead, 0.0, mx))  # masked entries -> exp(-inf) = 0
    l = np.sum(p, axis=-1, keepdims=True)
    P = p / np.where(dead, 1.0, l)
    with np.errstate(divide="ignore"):
        lse = np.where(dead, -np.inf, mx + np.log(np.where(dead, 1.0, l)))[..., 0]
    return P, lse, ke


def attention(q, k, v, *, causal=False, mask=None, scale=None, return_lse=False):
    """softmax(q k^T * scale + mask) v  -> out (B, Hq, Lq, Dv) [, lse (B, Hq, Lq)].

    scale: default 1/sqrt(D).  mask: bool (True = keep, like PyTorch SDPA) or an
    additive float mask, broadcastable to (B, Hq, Lq, Lk); may be combined with
    causal.  lse = log(sum_j exp(scaled, masked score_ij)) (natural log).
    """
    q, k, v = _f64(q), _f64(k), _f64(v)
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    P, lse, _ = _probs(q, k, causal, mask, scale)
    out = P @ _expand_kv(v, q.shape[1])
    return (out, lse) if return_lse else out


def attention_backward(grad_out, q, k, v, *, causal=False, mask=None, scale=None):
    """-> (dq (B,Hq,Lq,D), dk (B,Hkv,Lk,D), dv (B,Hkv,Lk,Dv)); dk/dv are summed over
    the query heads sharing each kv head."""
    q, k, v, g = _f64(q), _f64(k), _f64(v), _f64(grad_out)
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    B, Hq, Lq, D = q.shape
    Hkv, Lk = k.shape[1], k.shape[2]
    P, _, ke = _probs(q, k, causal, mask, scale)
    ve = _expand_kv(v, Hq)
    dv_e = np.swapaxes(P, -1, -2) @ g  # (B,Hq,Lk,Dv)
    dP = g @ np.swapaxes(ve, -1, -2)  # (B,Hq,Lq,Lk)
    # softmax backward: dS = P * (dP - rowsum(P * dP)); fully masked rows have P = 0
    dS = P * (dP - np.sum(P * dP, axis=-1, keepdims=True))
    dq = (dS @ ke) * scale
    dk_e = (np.swapaxes(dS, -1, -2) @ q) * scale  # (B,Hq,Lk,D)
    rep = Hq // Hkv
    dk = dk_e.reshape(B, Hkv, rep, Lk, D).sum(axis=2)
    dv = dv_e.reshape(B, Hkv, rep, Lk, v.shape[-1]).sum(axis=2)
    return dq, dk, dv
