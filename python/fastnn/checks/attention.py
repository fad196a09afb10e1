"""attention parity cases: forward (out, lse) and backward (dq, dk, dv) against the float64 oracle
on odd shapes, GQA/MQA, causal cross-attention, masks, fused-QKV views and the decode path."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from ..ops.attention import attention, attention_backward
from ..reference import attention as ra
from ..testing import rand, rng
from . import Case


def _inputs(shape, seed, fused=False):
    B, Hq, Hkv, Lq, Lk, D = shape
    g = rng(seed)
    if fused:  # q, k, v as (B, H, L, D) views of one (B, L, 3, H, D) projection
        proj = rand((B, Lq, 3, Hq, D), gen=g)
        return tuple(proj[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
    return rand((B, Hq, Lq, D), gen=g), rand((B, Hkv, Lk, D), gen=g), rand((B, Hkv, Lk, D), gen=g)


def _mask(kind, shape, seed):
    B, Hq, _, Lq, Lk, _ = shape
    g = rng(seed + 1)
    if kind == "pad":
        keep = g.random((B, 1, 1, Lk)) > 0.3
        keep[0] = False  # a fully masked batch: zeros, not NaN
        return keep
    if kind == "float":
        return rand((Lq, Lk), gen=g, low=-2, high=2)
    return None


def _tag(shape, causal, mask, fused):
    B, Hq, Hkv, Lq, Lk, D = shape
    t = f"B{B} H{Hq}/{Hkv} L{Lq}x{Lk} D{D}"
    return t + (" causal" if causal else "") + (f" mask={mask}" if mask else "") + (" fused-qkv" if fused else "")


def _forward_case(shape, causal=False, mask=None, fused=False, seed=0) -> Case:
    def run():
        q, k, v = _inputs(shape, seed, fused)
        m = _mask(mask, shape, seed)
        out = attention(q, k, v, causal=causal, mask=m)
        return out, ra.attention(q, k, v, causal=causal, mask=m), max(shape[4], shape[5])

    return Case("attention", _tag(shape, causal, mask, fused), run)


def _backward_case(shape, which, causal=False, mask=None, fused=False, seed=0) -> Case:
    def run():
        q, k, v = _inputs(shape, seed, fused)
        m = _mask(mask, shape, seed)
        out, lse = attention(q, k, v, causal=causal, mask=m, return_lse=True)
        g = rand(out.shape, gen=rng(seed + 2))
        got = attention_backward(g, q, k, v, out, lse, causal=causal, mask=m)
        want = ra.attention_backward(g, q, k, v, causal=causal, mask=m)
        i = "qkv".index(which)
        rep = shape[1] // shape[2]
        return got[i], want[i], max(shape[3] * rep, shape[4], shape[5])

    return Case("attention_backward", f"d{which} " + _tag(shape, causal, mask, fused), run)


def cases(device: str, quick: bool) -> Iterator[Case]:
    if device != "cpu":
        return  # no CUDA attention kernel yet
    shapes = [(1, 2, 2, 33, 31, 59), (2, 4, 1, 100, 129, 64)] if quick else [
        (1, 2, 2, 33, 31, 59), (2, 4, 1, 100, 129, 64), (1, 8, 2, 257, 300, 128), (1, 2, 2, 200, 120, 255),
        (1, 1, 1, 64, 64, 16)]
    for i, s in enumerate(shapes):
        for causal in (False, True):
            yield _forward_case(s, causal=causal, seed=i)
    yield _forward_case((2, 4, 2, 40, 90, 32), mask="pad", seed=7)
    yield _forward_case((2, 4, 2, 40, 90, 32), causal=True, mask="float", seed=8)
    yield _forward_case((2, 3, 3, 45, 45, 40), causal=True, fused=True, seed=9)
    # decode: one query against many keys (keys split across threads, merged by log-sum-exp)
    yield _forward_case((1, 8, 2, 1, 3000 if not quick else 1100, 64), seed=10)
    yield _forward_case((1, 4, 1, 3, 1100, 128), causal=True, seed=11)
    bshapes = [(1, 2, 1, 70, 90, 48)] if quick else [(1, 2, 1, 70, 90, 48), (1, 4, 2, 129, 100, 64),
                                                      (1, 2, 2, 60, 60, 128)]
    for i, s in enumerate(bshapes):
        for causal in (False, True):
            for which in "qkv":
                yield _backward_case(s, which, causal=causal, seed=20 + i)
    for which in "qkv":
        yield _backward_case((2, 4, 2, 40, 90, 32), which, mask="pad", seed=30)
