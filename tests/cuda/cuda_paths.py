"""Helpers of the CUDA parity tests: the three dtype paths (float32, float16, bfloat16 as uint16
bits), host ↔ device conversions, and tolerances (output rounding of the path + FP32 accumulation)."""
from __future__ import annotations

import numpy as np

from fastnn.ops import cuda_gemm
from fastnn.testing import tolerance

PATHS = ("float32", "float16", "bfloat16")
# Unit roundoff of the stored result: float32 outputs are judged by FP32 accumulation alone.
OUT_EPS = {"float32": 0.0, "float16": 2.0**-11, "bfloat16": 2.0**-8}


def rtol(path: str, k: int = 1, slack: float = 1.0) -> float:
    """Tolerance of a result of `path` whose elements each reduce `k` terms: a few output ulps
    (inputs are exact in the path's dtype) plus FP32 accumulation."""
    return slack * (4 * OUT_EPS[path] + tolerance(np.float32, k))


def exact(x32: np.ndarray, path: str) -> tuple[np.ndarray, np.ndarray]:
    """(host array in the path's storage dtype, its exact float64 values)."""
    x32 = np.asarray(x32, np.float32)
    if path == "float16":
        h = x32.astype(np.float16)
        return h, h.astype(np.float64)
    if path == "bfloat16":
        h = cuda_gemm.to_bf16_bits(x32)
        return h, cuda_gemm.from_bf16_bits(h).astype(np.float64)
    return x32, x32.astype(np.float64)


def dev(cp, host: np.ndarray):
    return cp.asarray(host)


def host64(x, path: str) -> np.ndarray:
    """A device result of `path` as float64 host values."""
    h = x.get() if hasattr(x, "get") else np.asarray(x)
    if path == "bfloat16":
        return cuda_gemm.from_bf16_bits(h).astype(np.float64)
    return h.astype(np.float64)


def kw(path: str) -> dict:
    """Keyword arguments of the CUDA module functions for the path (bfloat16 bits need dtype=)."""
    return {"dtype": "bfloat16"} if path == "bfloat16" else {}
