"""GEMM benchmarks: square, skinny, transposed and batched matmul; linear with a fused epilogue
against the same product followed by separate bias and activation passes. Anchors: NumPy
(OpenBLAS) and PyTorch, measured in the same run with the implementations interleaved (one call
of each in turn), so load changes on a shared machine hit all of them alike."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..ops.gemm import matmul
from ..ops.linear import linear
from ..testing import rand, rng
from .harness import Row, Timing, time_interleaved

SQUARE = [64, 128, 256, 512, 1024, 2048, 4096]
QUICK_SQUARE = [128, 512]
# (label, M, N, K, a transposed, b transposed)
SKINNY = [
    ("M=1 x·B", 1, 4096, 4096, False, False),
    ("M=8 x·B", 8, 4096, 4096, False, False),
    ("M=32 x·B", 32, 4096, 1024, False, False),
    ("M=1 x·Wᵀ", 1, 4096, 4096, False, True),
    ("M=8 x·Wᵀ", 8, 4096, 4096, False, True),
    ("M=32 x·Wᵀ", 32, 4096, 4096, False, True),
    ("K-large N-small 256x16x8192", 256, 16, 8192, False, False),
    ("K-large M-small 16x256x8192", 16, 256, 8192, False, False),
    ("x·Wᵀ 8192x768·(3072x768)ᵀ", 8192, 3072, 768, False, True),
    ("aᵀ·b 1024", 1024, 1024, 1024, True, False),
    ("a·bᵀ 1024", 1024, 1024, 1024, False, True),
    ("aᵀ·bᵀ 1024", 1024, 1024, 1024, True, True),
]
QUICK_SKINNY = [SKINNY[1], SKINNY[9]]
BATCHED = [("batched 32x(128x64·64x128)", (32, 128, 64), (32, 64, 128)),
           ("batched 8x(512x512·512x512)", (8, 512, 512), (8, 512, 512))]
# (label, M, in, out): a transformer MLP up-projection and an inference step.
LINEAR = [("linear+bias+gelu 2048x768→3072", 2048, 768, 3072), ("linear+bias+gelu 32x1024→4096", 32, 1024, 4096)]


def _torch():
    try:
        import torch

        return torch
    except ImportError:
        return None


def _operands(m, n, k, ta, tb, seed=0):
    g = rng(seed)
    a = rand((k, m) if ta else (m, k), gen=g)
    b = rand((n, k) if tb else (k, n), gen=g)
    return (a.T if ta else a), (b.T if tb else b)


def _matmul_impls(a, b) -> dict[str, Callable[[], object]]:
    out = np.empty(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1]), np.float32)
    impls = {"fastnn": lambda: matmul(a, b, out=out), "numpy": lambda: np.matmul(a, b, out=out)}
    torch = _torch()
    if torch is not None:
        ta, tb, to = torch.from_numpy(np.asarray(a)), torch.from_numpy(np.asarray(b)), torch.from_numpy(out)
        impls["torch"] = lambda: torch.matmul(ta, tb, out=to)
    return impls


def _linear_impls(x, w, b) -> dict[str, Callable[[], object]]:
    """fastnn fused vs the same GEMM followed by separate passes (bias, then GELU)."""
    out = np.empty((x.shape[0], w.shape[0]), np.float32)
    wt = w.T
    impls: dict[str, Callable[[], object]] = {"fastnn": lambda: linear(x, w, b, "gelu", out=out)}
    torch = _torch()
    if torch is not None:
        import torch.nn.functional as F

        tx, tw, tb, to = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), torch.from_numpy(out)

        def fastnn_unfused():
            matmul(x, wt, out=out)
            to.add_(tb)
            torch.nn.functional.gelu(to)  # a separate pass, as frameworks run it after the GEMM

        impls["fastnn matmul+bias+gelu"] = fastnn_unfused
        impls["torch"] = lambda: F.gelu(F.linear(tx, tw, tb))
    return impls


def _rows(op: str, label: str, timings: dict[str, Timing], flops: float) -> list[Row]:
    return [Row("gemm", op, label, impl, t, flops=flops) for impl, t in timings.items()]


def run(quick: bool = False) -> list[Row]:
    rows: list[Row] = []
    mt = 0.2 if quick else 0.5
    for n in QUICK_SQUARE if quick else SQUARE:
        a, b = _operands(n, n, n, False, False)
        rows += _rows("matmul", f"{n}", time_interleaved(_matmul_impls(a, b), min_time=mt), 2.0 * n**3)
    for label, m, n, k, ta, tb in QUICK_SKINNY if quick else SKINNY:
        a, b = _operands(m, n, k, ta, tb)
        rows += _rows("matmul", label, time_interleaved(_matmul_impls(a, b), min_time=mt), 2.0 * m * n * k)
    for label, sa, sb in BATCHED[:1] if quick else BATCHED:
        g = rng(1)
        a, b = rand(sa, gen=g), rand(sb, gen=g)
        flops = 2.0 * sa[0] * sa[1] * sa[2] * sb[2]
        rows += _rows("matmul", label, time_interleaved(_matmul_impls(a, b), min_time=mt), flops)
    for label, m, k, n in LINEAR[1:] if quick else LINEAR:
        g = rng(2)
        x, w, b = rand((m, k), gen=g), rand((n, k), gen=g), rand((n,), gen=g)
        rows += _rows("linear", label, time_interleaved(_linear_impls(x, w, b), min_time=mt), 2.0 * m * n * k)
    return rows
