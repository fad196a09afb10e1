"""CUDA side of attention: ``fastnn.attention`` / ``attention_backward`` on CUDA arrays.

Same API and semantics as the CPU functions (bottom-right causal, bool / additive masks
broadcastable to (B, Hq, Lq, Lk), GQA / MQA, Lq != Lk, rows without keys give 0 and lse = -inf).
dtypes: bfloat16 and float16 run on tensor cores (mma.sync, sm_80+) when D = Dv is 64 or 128 and
every array has unit stride along D with 16-byte aligned rows; everything else (float32, other
head dims up to 256, other strides) runs on the general SIMT kernels with FP32 math. lse is float32.
``kernel=`` forces 'mma_sync' or 'simt' (ValueError saying why when it cannot run the problem) and
:func:`last_kernel` says which ran. ``dtype='bfloat16'`` marks uint16 arrays of bfloat16 bits.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _cuda as C

KERNELS = ("auto", "mma_sync", "simt")


def last_kernel() -> str:
    """'<family>:<dtype>:d<D>' of the attention kernel this thread launched last (e.g. 'mma_sync:bf16:d128')."""
    return C.kernels().last_attention_kernel()


def _inputs(fn: str, q: Any, k: Any, v: Any, mask: Any, causal: Any, scale: Any, dtype: str | None, kernel: str):
    C.check_dtype_arg(fn, dtype)
    if kernel not in KERNELS:
        raise ValueError(f"{fn}: kernel must be one of {KERNELS}, got {kernel!r}")
    Q, K, V = (C.operand(x, fn, name, dtype=dtype) for x, name in ((q, "q"), (k, "k"), (v, "v")))
    C.same_dtype(fn, q=Q, k=K, v=V)
    for name, x in (("q", Q), ("k", K), ("v", V)):
        if x.ndim != 4:
            raise ValueError(f"{fn}: {name} must have 4 dimensions, got {x.ndim} (shape {x.shape})")
    B, Hq, Lq, D = Q.shape
    _, Hkv, Lk, Dk = K.shape
    if K.shape[0] != B or V.shape[0] != B:
        raise ValueError(f"{fn}: batch sizes differ: q {Q.shape}, k {K.shape}, v {V.shape}")
    if K.shape[:3] != V.shape[:3]:
        raise ValueError(f"{fn}: k and v must agree in (B, H, L), got k {K.shape} and v {V.shape}")
    if Dk != D:
        raise ValueError(f"{fn}: q and k must have the same head dim, got q {Q.shape} and k {K.shape}")
    if D < 1 or V.shape[3] < 1:
        raise ValueError(f"{fn}: head dims must be >= 1, got q {Q.shape}, v {V.shape}")
    if D > 256 or V.shape[3] > 256:
        raise ValueError(f"{fn}: head dims must be <= 256 on CUDA, got q {Q.shape}, v {V.shape}")
    if Hkv < 1 or Hq % Hkv:
        raise ValueError(f"{fn}: q heads ({Hq}) must be a multiple of k/v heads ({Hkv})")
    if not isinstance(causal, (bool, np.bool_)):
        raise TypeError(f"{fn}: causal must be a bool, got {type(causal).__name__}")
    if scale is None:
        scale = 1.0 / math.sqrt(D)
    else:
        from .._validate import check_finite_scalar

        scale = check_finite_scalar(fn, "scale", scale)
    M = None
    if mask is not None:
        M = C.operand(mask, fn, "mask", ("bool", "float32"))
        full = (B, Hq, Lq, Lk)
        if M.ndim > 4:
            raise ValueError(f"{fn}: mask must broadcast to {full}, got shape {M.shape}")
        try:
            M = M.view(C.xp().broadcast_to(M.arr, full))  # broadcast dims get stride 0: no copy
        except ValueError:
            raise ValueError(f"{fn}: mask of shape {M.shape} does not broadcast to {full}") from None
    return Q, K, V, M, bool(causal), float(scale)


def attention(q: Any, k: Any, v: Any, *, causal: bool = False, mask: Any = None, scale: float | None = None,
              return_lse: bool = False, dtype: str | None = None, kernel: str = "auto") -> Any:
    """out (B, Hq, Lq, Dv) [, lse (B, Hq, Lq) float32]."""
    fn = "attention"
    Q, K, V, M, causal, scale = _inputs(fn, q, k, v, mask, causal, scale, dtype, kernel)
    if not isinstance(return_lse, (bool, np.bool_)):
        raise TypeError(f"{fn}: return_lse must be a bool, got {type(return_lse).__name__}")
    B, Hq, Lq, _ = Q.shape
    out = C.empty((B, Hq, Lq, V.shape[3]), Q.dtype, [Q, K, V])
    lse = C.empty((B, Hq, Lq), "float32", [Q])  # a torch tensor when the inputs are
    if out.size:
        C.kernels().attention_forward(Q.desc(), K.desc(), V.desc(), None if M is None else M.desc(), causal, scale,
                                      out.desc(), lse.desc(), kernel, C.stream())
    res = C.result(out, q, k, v)
    return (res, C.result(lse)) if return_lse else res


def attention_backward(grad_out: Any, q: Any, k: Any, v: Any, out: Any, lse: Any, *, causal: bool = False,
                       mask: Any = None, scale: float | None = None, dtype: str | None = None,
                       kernel: str = "auto") -> tuple[Any, Any, Any]:
    """(dq, dk, dv) in q's dtype; dk / dv summed over the query heads sharing each kv head."""
    fn = "attention_backward"
    Q, K, V, M, causal, scale = _inputs(fn, q, k, v, mask, causal, scale, dtype, kernel)
    B, Hq, Lq, _ = Q.shape
    o_shape = (B, Hq, Lq, V.shape[3])
    G = C.operand(grad_out, fn, "grad_out", dtype=dtype)
    O = C.operand(out, fn, "out", dtype=dtype)
    L = C.operand(lse, fn, "lse", ("float32",))
    C.same_dtype(fn, q=Q, grad_out=G, out=O)
    for name, x, shape in (("grad_out", G, o_shape), ("out", O, o_shape), ("lse", L, o_shape[:3])):
        if x.shape != shape:
            raise ValueError(f"{fn}: {name} must have shape {shape}, got {x.shape}")
    if G.size and G.desc()[2][-1] != 1:  # e.g. a transposed gradient: unit stride along D for the fast path
        G = G.contiguous()
    like = [Q, K, V]
    dq, dk, dv = (C.empty(x.shape, Q.dtype, like) for x in (Q, K, V))
    if dq.size or dk.size or dv.size:
        C.kernels().attention_backward(G.desc(), Q.desc(), K.desc(), V.desc(), O.desc(), L.desc(),
                                       None if M is None else M.desc(), causal, scale, dq.desc(), dk.desc(),
                                       dv.desc(), kernel, C.stream())
    return C.result(dq, q, k, v), C.result(dk, q, k, v), C.result(dv, q, k, v)
