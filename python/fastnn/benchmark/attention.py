"""Attention benchmarks: forward and backward over sequence lengths and head dims (causal and
not), decode (one query, long KV cache) and GQA; anchors PyTorch SDPA (CPU) and naive NumPy.

FLOP counts (FlashAttention convention): forward 4·B·H·Lq·Lk·D (two GEMMs), halved for a causal
square problem; backward 2.5× the forward (five GEMMs, P recomputed). Decode is memory bound:
its figure of merit is bytes of K and V read, 2·B·Hkv·Lk·D·4.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..backend import get_num_threads
from ..ops.attention import attention, attention_backward
from ..testing import rand, rng
from .harness import Row, time_fn

LENGTHS = [128, 512, 1024, 2048, 4096]
QUICK_LENGTHS = [128, 512]
HEAD_DIMS = [64, 128]
B, H = 2, 4  # B·H = 8
NUMPY_MAX_L = 2048  # the naive anchor materialises B·H·L² floats (several times): skipped above


def _torch():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(get_num_threads())
    return torch


# ---- naive NumPy anchor (float32, materialises the L×L scores) ------------------------------

def _numpy_forward(q, k, v, causal, scale):
    s = (q @ np.swapaxes(k, -1, -2)) * np.float32(scale)
    if causal:
        Lq, Lk = s.shape[-2:]
        s = np.where(np.arange(Lk)[None, :] <= np.arange(Lq)[:, None] + (Lk - Lq), s, np.float32(-np.inf))
    s = s - s.max(axis=-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(axis=-1, keepdims=True)
    return p @ v, p


def _numpy_backward(g, q, k, v, causal, scale):
    out, p = _numpy_forward(q, k, v, causal, scale)
    dv = np.swapaxes(p, -1, -2) @ g
    dp = g @ np.swapaxes(v, -1, -2)
    ds = p * (dp - np.sum(g * out, axis=-1, keepdims=True))
    return (ds @ k) * np.float32(scale), (np.swapaxes(ds, -1, -2) @ q) * np.float32(scale), dv


# ---- cases ----------------------------------------------------------------------------------

def _timing_args(work_flops: float, quick: bool) -> dict:
    if quick:
        return {"warmup": 1, "min_runs": 3, "min_time": 0.1}
    if work_flops > 2e10:  # L = 4096: each call takes ~0.5-2 s here; keep the run short
        return {"warmup": 1, "min_runs": 3, "min_time": 0.0}
    return {"warmup": 2, "min_runs": 5, "min_time": 0.3}


def _square(L: int, D: int, causal: bool, quick: bool, torch) -> list[Row]:
    g = rng(L + D)
    q, k, v = (rand((B, H, L, D), gen=g) for _ in range(3))
    scale = 1.0 / math.sqrt(D)
    label = f"B{B} H{H} L{L} D{D}" + (" causal" if causal else "")
    fwd_flops = 4.0 * B * H * L * L * D / (2 if causal else 1)
    targs = _timing_args(fwd_flops * 3.5, quick)
    rows = []

    fwd: dict[str, Callable[[], object]] = {"fastnn": lambda: attention(q, k, v, causal=causal)}
    out, lse = attention(q, k, v, causal=causal, return_lse=True)
    go = rand(out.shape, gen=g)
    bwd: dict[str, Callable[[], object]] = {
        "fastnn": lambda: attention_backward(go, q, k, v, out, lse, causal=causal)}
    if torch is not None:
        tq, tk, tv = (torch.from_numpy(x) for x in (q, k, v))
        sdpa = torch.nn.functional.scaled_dot_product_attention
        fwd["torch"] = lambda: sdpa(tq, tk, tv, is_causal=causal)
        rq, rk, rv = (x.clone().requires_grad_() for x in (tq, tk, tv))
        tout = sdpa(rq, rk, rv, is_causal=causal)
        tgo = torch.from_numpy(go)
        bwd["torch"] = lambda: torch.autograd.grad(tout, (rq, rk, rv), tgo, retain_graph=True)
    if L <= NUMPY_MAX_L:
        fwd["numpy"] = lambda: _numpy_forward(q, k, v, causal, scale)[0]
        bwd["numpy"] = lambda: _numpy_backward(go, q, k, v, causal, scale)
    for impl, fn in fwd.items():
        rows.append(Row("attention", "forward", label, impl, time_fn(fn, **targs), flops=fwd_flops))
    for impl, fn in bwd.items():
        rows.append(Row("attention", "backward", label, impl, time_fn(fn, **targs), flops=2.5 * fwd_flops))
    return rows


def _decode(quick: bool, torch) -> list[Row]:
    Hq, Lk, D = 32, 4096, 128
    g = rng(7)
    q = rand((1, Hq, 1, D), gen=g)
    k, v = (rand((1, Hq, Lk, D), gen=g) for _ in range(2))
    label = f"decode B1 H{Hq} Lq1 Lk{Lk} D{D}"
    nbytes = 2.0 * Hq * Lk * D * 4
    impls: dict[str, Callable[[], object]] = {"fastnn": lambda: attention(q, k, v)}
    if torch is not None:
        tq, tk, tv = (torch.from_numpy(x) for x in (q, k, v))
        impls["torch"] = lambda: torch.nn.functional.scaled_dot_product_attention(tq, tk, tv)
    impls["numpy"] = lambda: _numpy_forward(q, k, v, False, 1.0 / math.sqrt(D))[0]
    targs = {"warmup": 1, "min_runs": 3, "min_time": 0.1} if quick else {"warmup": 3, "min_runs": 10, "min_time": 0.5}
    return [Row("attention", "forward", label, impl, time_fn(fn, **targs), bytes=nbytes) for impl, fn in impls.items()]


def _gqa(quick: bool, torch) -> list[Row]:
    Hq, Hkv, L, D = 32, 8, (256 if quick else 1024), 128
    g = rng(8)
    q = rand((1, Hq, L, D), gen=g)
    k, v = (rand((1, Hkv, L, D), gen=g) for _ in range(2))
    label = f"GQA B1 H{Hq}/{Hkv} L{L} D{D} causal"
    flops = 4.0 * Hq * L * L * D / 2
    out, lse = attention(q, k, v, causal=True, return_lse=True)
    go = rand(out.shape, gen=g)
    fwd: dict[str, Callable[[], object]] = {"fastnn": lambda: attention(q, k, v, causal=True)}
    bwd: dict[str, Callable[[], object]] = {
        "fastnn": lambda: attention_backward(go, q, k, v, out, lse, causal=True)}
    if torch is not None:
        tq, tk, tv = (torch.from_numpy(x) for x in (q, k, v))
        sdpa = torch.nn.functional.scaled_dot_product_attention
        fwd["torch"] = lambda: sdpa(tq, tk, tv, is_causal=True, enable_gqa=True)
        rq, rk, rv = (x.clone().requires_grad_() for x in (tq, tk, tv))
        tout = sdpa(rq, rk, rv, is_causal=True, enable_gqa=True)
        tgo = torch.from_numpy(go)
        bwd["torch"] = lambda: torch.autograd.grad(tout, (rq, rk, rv), tgo, retain_graph=True)
    targs = _timing_args(flops * 3.5, quick)
    rows = [Row("attention", "forward", label, i, time_fn(f, **targs), flops=flops) for i, f in fwd.items()]
    rows += [Row("attention", "backward", label, i, time_fn(f, **targs), flops=2.5 * flops) for i, f in bwd.items()]
    return rows


def run(quick: bool = False, lengths: list[int] | None = None, head_dims: list[int] | None = None) -> list[Row]:
    torch = _torch()
    rows: list[Row] = []
    for L in lengths or (QUICK_LENGTHS if quick else LENGTHS):
        for D in head_dims or ([64] if quick else HEAD_DIMS):
            for causal in (False, True):
                rows += _square(L, D, causal, quick, torch)
    rows += _decode(quick, torch)
    rows += _gqa(quick, torch)
    return rows


# ---- memory: peak resident set during one call, in a fresh process ----------------------------

_MEMORY_CHILD = r"""
import json, sys
import numpy as np
from fastnn import attention, attention_backward
from fastnn.testing import rand, rng

def rss(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field)

def reset_peak():  # Linux >= 4.0: writing 5 resets VmHWM (the peak) to the current RSS
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")

B, H, L, D, causal = (int(x) for x in sys.argv[1:6])
g = rng(3)
q, k, v = (rand((B, H, L, D), gen=g) for _ in range(3))
res = {}
reset_peak(); before = rss("VmRSS")
out, lse = attention(q, k, v, causal=bool(causal), return_lse=True)
res["forward_extra"] = rss("VmHWM") - before  # out + lse + scratch
go = rand(out.shape, gen=g)
reset_peak(); before = rss("VmRSS")
grads = attention_backward(go, q, k, v, out, lse, causal=bool(causal))
res["backward_extra"] = rss("VmHWM") - before  # dq, dk, dv + scratch and accumulators
res["qkvo"] = 4 * q.nbytes
res["finite"] = bool(np.isfinite(out).all() and all(np.isfinite(x).all() for x in grads))
print(json.dumps(res))
"""


def memory(B: int = 1, H: int = 8, L: int = 16384, D: int = 64, causal: bool = True) -> dict | None:
    """Peak memory of one forward and one backward call beyond their inputs, measured in a fresh
    process from the peak resident set (VmHWM, reset before each call). The issue's bar: the call's
    footprint, inputs included, under 2x the bytes of q, k, v and out. None where /proc is missing.
    The figures include the call's own outputs (out and lse; dq, dk and dv) and the threads' scratch."""
    import json
    import os
    import subprocess
    import sys

    if not os.path.exists("/proc/self/clear_refs"):
        return None
    # glibc's dynamic mmap threshold would serve `out` from heap pages that earlier temporaries left
    # resident (no growth to see): a fixed threshold maps every large block afresh and unmaps it on free.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}
    r = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, str(B), str(H), str(L), str(D), str(int(causal))],
                       capture_output=True, text=True, timeout=600, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"memory child failed: {r.stderr[-2000:]}")
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res.update(B=B, H=H, L=L, D=D, causal=causal)
    return res


def memory_lines(res: dict | None) -> list[str]:
    """Forward: footprint = q, k, v + the call's peak growth (out, lse, scratch), against the bar of 2x the
    bytes of q, k, v, out. Backward (its inputs grad_out, q, k, v, out, lse and outputs dq, dk, dv are
    already 2x those bytes): the scratch beyond its outputs, against the same allowance (1x)."""
    if res is None:
        return ["- memory: not measured (no /proc/self/clear_refs)"]
    MiB = float(1 << 20)
    qkvo = res["qkvo"]
    one = qkvo / 4  # bytes of one (B, H, L, D) tensor
    lse = one / res["D"]
    label = f"B{res['B']} H{res['H']} L{res['L']} D{res['D']}{' causal' if res['causal'] else ''}"
    fwd_total = 3 * one + res["forward_extra"]
    fwd_scratch = res["forward_extra"] - one - lse
    bwd_scratch = res["backward_extra"] - 3 * one
    return [
        f"- memory forward {label}: q, k, v {3 * one / MiB:.0f} MiB + peak growth during the call "
        f"{res['forward_extra'] / MiB:.1f} MiB (out, lse, scratch {fwd_scratch / MiB:.1f} MiB) = "
        f"{fwd_total / qkvo:.2f}x the bytes of q, k, v, out (bar < 2x) {'MET' if fwd_total < 2 * qkvo else 'not met'}",
        f"- memory backward {label}: peak growth {res['backward_extra'] / MiB:.1f} MiB = dq, dk, dv "
        f"{3 * one / MiB:.0f} MiB + scratch {bwd_scratch / MiB:.1f} MiB = {bwd_scratch / qkvo:.2f}x the bytes of "
        f"q, k, v, out (allowance < 1x) {'MET' if bwd_scratch < qkvo else 'not met'}",
    ]
