"""CUDA-only GEMM parity cases: every dtype path (float32 SIMT, tf32, float16, bfloat16) on odd
shapes, transposed operands, and the fused linear forward / backward. (checks/gemm.py covers
float32 matmul on every backend.)"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from ..ops import cuda_gemm
from ..reference import linear as rlinear
from ..testing import rand, rng
from . import Case


def _cast(x32, path):
    """(device array in the path's dtype, exact float64 values)."""
    import cupy

    if path == "bfloat16":
        bits = cuda_gemm.to_bf16_bits(x32)
        return cupy.asarray(bits), cuda_gemm.from_bf16_bits(bits).astype(np.float64)
    if path == "float16":
        h = x32.astype(np.float16)
        return cupy.asarray(h), h.astype(np.float64)
    return cupy.asarray(x32), x32.astype(np.float64)


def _host(x, path):
    h = x.get()
    return cuda_gemm.from_bf16_bits(h) if path == "bfloat16" else h


def _kw(path):
    return {"allow_tf32": path == "tf32", "dtype": "bfloat16" if path == "bfloat16" else None}


def _matmul_case(path, m, n, k, tb, seed) -> Case:
    def run():
        g = rng(seed)
        a, a64 = _cast(rand((m, k), gen=g), path)
        b, b64 = _cast(rand((n, k) if tb else (k, n), gen=g), path)
        b, b64 = (b.T, b64.T) if tb else (b, b64)
        out = cuda_gemm.matmul(a, b, **_kw(path))
        case.shape += f" [{cuda_gemm.last_kernel()}]"  # which kernel ran, shown in the table
        return _host(out, path), a64 @ b64, k

    case = Case("matmul", f"({m},{k})x({k},{n}) N{'T' if tb else 'N'}", run, dtype=path)
    return case


def _linear_case(path, rows, fin, fout, act, seed) -> Case:
    def run():
        g = rng(seed)
        x, x64 = _cast(rand((rows, fin), gen=g), path)
        w, w64 = _cast(rand((fout, fin), gen=g), path)
        bias, b64 = _cast(rand((fout,), gen=g), path)
        y = cuda_gemm.linear(x, w, bias, act, **_kw(path))
        return _host(y, path), rlinear.linear(x64, w64, b64, act), fin

    def run_backward():
        g = rng(seed + 1)
        x, x64 = _cast(rand((rows, fin), gen=g), path)
        w, w64 = _cast(rand((fout, fin), gen=g), path)
        bias, b64 = _cast(rand((fout,), gen=g), path)
        go, g64 = _cast(rand((rows, fout), gen=g), path)
        gx, gw, gb = cuda_gemm.linear_backward(go, x, w, bias, act, **_kw(path))
        wx, ww, wb = rlinear.linear_backward(g64, x64, w64, b64, act)
        got = np.concatenate([_host(gx, path).ravel(), _host(gw, path).ravel(), _host(gb, path).ravel()])
        return got, np.concatenate([wx.ravel(), ww.ravel(), wb.ravel()]), rows

    shape = f"x ({rows},{fin}) w ({fout},{fin}) {act}"
    yield Case("linear", shape, run, dtype=path)
    yield Case("linear_backward", shape, run_backward, dtype=path)


def cases(device: str, quick: bool) -> Iterator[Case]:
    if device != "cuda":
        return
    paths = ("float32", "tf32", "float16", "bfloat16")
    sizes = [(127, 129, 200)] if quick else [(1, 17, 127), (127, 1000, 17), (1000, 127, 4097), (4097, 17, 127),
                                            (512, 512, 512)]
    for path in paths:
        for i, (m, n, k) in enumerate(sizes):
            for tb in (False, True):
                yield _matmul_case(path, m, n, k, tb, seed=i)
        for act in ((None, "gelu") if quick else (None, "relu", "gelu", "silu")):
            yield from _linear_case(path, 300, 264, 136, act, seed=7)
