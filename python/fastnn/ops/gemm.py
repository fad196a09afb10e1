"""Matrix multiply with NumPy's matmul semantics, on CPU (NumPy) or CUDA (CuPy) arrays."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from .._ext import _C
from . import cuda_gemm
from .._validate import FLOAT32, check_dtype, check_min_ndim, check_out, may_overlap


_F32 = np.dtype(np.float32)


def matmul(a: Any, b: Any, out: Any = None, *, allow_tf32: bool = False, dtype: str | None = None,
           kernel: str = "auto") -> Any:
    """``a @ b`` for float32 arrays, exactly NumPy's rules.

    1-D operands are promoted (a → (1, K), b → (K, 1)) and the added dimension removed from the
    result; batch dimensions broadcast. Any strides (transposed, sliced, negative) are read in
    place. ``out`` (float32, the result's shape) is written in place; if it overlaps an input
    the product goes through a temporary, as in NumPy.

    a: (..., M, K) or (K,)    b: (..., K, N) or (K,)    →  (..., M, N)

    On CUDA (see ops/cuda_gemm.py) float16 and bfloat16 run on tensor cores; float32 runs as
    exact FP32 unless ``allow_tf32=True``; ``dtype='bfloat16'`` marks uint16 arrays of bf16 bits;
    ``kernel`` forces a kernel family (tests). These three are ignored on CPU.
    """
    # Fast path for the common case, 2-D float32 NumPy operands: small products are dominated by
    # call overhead, so the general checks below (each a few microseconds) are skipped when the
    # answer is known. C++ validates again either way.
    if (type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim == 2 and a.dtype == _F32
            and b.dtype == _F32 and a.shape[1] == b.shape[0] and a.size and b.size):
        shape = (a.shape[0], b.shape[1])
        if out is None:
            out = np.empty(shape, _F32)
            _C.matmul(a, b, out)
            return out
        if (type(out) is np.ndarray and out.shape == shape and out.dtype == _F32 and out.flags.writeable
                and not np.may_share_memory(out, a) and not np.may_share_memory(out, b)):
            _C.matmul(a, b, out)
            return out
    fn = "matmul"
    device = backend.common_device(fn, a=a, b=b, out=out)
    if device == "cuda":
        return cuda_gemm.matmul(a, b, out, allow_tf32=allow_tf32, dtype=dtype, kernel=kernel)
    a = backend.as_array(a, fn, "a")
    b = backend.as_array(b, fn, "b")
    check_dtype(fn, "a", a)
    check_dtype(fn, "b", b)
    check_min_ndim(fn, "a", a, 1)
    check_min_ndim(fn, "b", b, 1)

    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    M, K = a2.shape[-2:]
    K2, N = b2.shape[-2:]
    if K != K2:
        raise ValueError(f"{fn}: inner dimensions differ: a is {tuple(a.shape)} (K={K}), b is {tuple(b.shape)} (K={K2})")
    try:
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    except ValueError:
        raise ValueError(
            f"{fn}: batch dimensions {a2.shape[:-2]} and {b2.shape[:-2]} do not broadcast"
        ) from None
    full_shape = (*batch, M, N)
    shape = list(full_shape)
    if b.ndim == 1:
        shape.pop(-1)
    if a.ndim == 1:
        shape.pop(-2 if b.ndim != 1 else -1)
    shape = tuple(shape)

    xp = backend.xp_for(device)
    if out is not None:
        out = backend.as_array(out, fn, "out")
        check_out(fn, out, shape, FLOAT32, device)
    target = out
    if out is None or may_overlap(out, a, b):
        target = xp.empty(shape, dtype=np.float32)
    # Re-insert the promoted unit dimensions as views (never a copy, whatever target's strides).
    target_full = target
    if a.ndim == 1:
        target_full = xp.expand_dims(target_full, -1 if b.ndim == 1 else -2)
    if b.ndim == 1:
        target_full = xp.expand_dims(target_full, -1)
    if target_full.size and K == 0:
        target_full[...] = 0
    elif target_full.size:
        _C.matmul(a2, b2, target_full)
    if out is not None and target is not out:
        out[...] = target
        return out
    return target
