"""GEMM benchmarks: square, skinny, transposed and batched shapes; anchors NumPy and PyTorch."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..ops.gemm import matmul
from ..testing import rand, rng
from .harness import Row, time_fn

SQUARE = [64, 128, 256, 512, 1024, 2048, 4096]
QUICK_SQUARE = [128, 512]
# (label, M, N, K, a transposed, b transposed): inference rows, K-heavy, a training shape.
SKINNY = [
    ("M=1", 1, 4096, 4096, False, False),
    ("M=8", 8, 4096, 4096, False, False),
    ("M=32", 32, 4096, 1024, False, False),
    ("K-large N-small", 256, 16, 8192, False, False),
    ("x·Wᵀ 8192x768·(3072x768)ᵀ", 8192, 3072, 768, False, True),
    ("aᵀ·b 1024", 1024, 1024, 1024, True, False),
]


def _operands(m, n, k, ta, tb, seed=0):
    g = rng(seed)
    a = rand((k, m) if ta else (m, k), gen=g)
    b = rand((n, k) if tb else (k, n), gen=g)
    return (a.T if ta else a), (b.T if tb else b)


def _impls(a, b) -> dict[str, Callable[[], object]]:
    out = np.empty(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1]), np.float32)
    impls = {"fastnn": lambda: matmul(a, b, out=out), "numpy": lambda: np.matmul(a, b, out=out)}
    try:
        import torch

        ta, tb = torch.from_numpy(np.asarray(a)), torch.from_numpy(np.asarray(b))
        to = torch.from_numpy(out)
        impls["torch"] = lambda: torch.matmul(ta, tb, out=to)
    except ImportError:
        pass
    return impls


def run(quick: bool = False) -> list[Row]:
    rows: list[Row] = []
    cases = [(f"{n}", n, n, n, False, False) for n in (QUICK_SQUARE if quick else SQUARE)]
    if not quick:
        cases += SKINNY
    for label, m, n, k, ta, tb in cases:
        a, b = _operands(m, n, k, ta, tb)
        flops = 2.0 * m * n * k
        for impl, fn in _impls(a, b).items():
            rows.append(Row("gemm", "matmul", label, impl, time_fn(fn, min_time=0.2 if quick else 0.5), flops=flops))
    if not quick:
        g = rng(1)
        a, b = rand((32, 128, 64), gen=g), rand((32, 64, 128), gen=g)
        for impl, fn in _impls(a, b).items():
            rows.append(Row("gemm", "matmul", "batched 32x(128x64·64x128)", impl, time_fn(fn), flops=2.0 * 32 * 128 * 128 * 64))
    return rows
