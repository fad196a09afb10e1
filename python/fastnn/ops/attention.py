"""Scaled dot-product attention (flash algorithm), forward and backward: CPU NumPy arrays here,
CUDA arrays through :mod:`fastnn.ops.cuda_attention`."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import backend
from .._ext import _C
from .._validate import FLOAT32, check_dtype, check_finite_scalar, check_ndim

_BOOL = np.dtype(np.bool_)


def _inputs(fn: str, q: Any, k: Any, v: Any, mask: Any, causal: Any, scale: Any, **extra: Any):
    """Validated (q, k, v, 4-d mask view or None, causal, scale, extra arrays) on CPU."""
    backend.common_device(fn, q=q, k=k, v=v, mask=mask, **extra)  # CUDA arrays were dispatched by the callers
    q = backend.as_array(q, fn, "q")
    k = backend.as_array(k, fn, "k")
    v = backend.as_array(v, fn, "v")
    for name, x in (("q", q), ("k", k), ("v", v)):
        check_dtype(fn, name, x)
        check_ndim(fn, name, x, 4)
    B, Hq, Lq, D = q.shape
    if k.shape[0] != B or v.shape[0] != B:
        raise ValueError(f"{fn}: batch sizes differ: q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}")
    _, Hkv, Lk, Dk = k.shape
    if k.shape[:3] != v.shape[:3]:
        raise ValueError(f"{fn}: k and v must agree in (B, H, L), got k {tuple(k.shape)} and v {tuple(v.shape)}")
    if Dk != D:
        raise ValueError(f"{fn}: q and k must have the same head dim, got q {tuple(q.shape)} and k {tuple(k.shape)}")
    if D < 1 or v.shape[3] < 1:
        raise ValueError(f"{fn}: head dims must be >= 1, got q {tuple(q.shape)}, v {tuple(v.shape)}")
    if Hkv < 1 or Hq % Hkv:
        raise ValueError(f"{fn}: q heads ({Hq}) must be a multiple of k/v heads ({Hkv})")
    if not isinstance(causal, (bool, np.bool_)):
        raise TypeError(f"{fn}: causal must be a bool, got {type(causal).__name__}")
    scale = 1.0 / math.sqrt(D) if scale is None else check_finite_scalar(fn, "scale", scale)
    if mask is not None:
        mask = backend.as_array(mask, fn, "mask")
        if np.dtype(mask.dtype) not in (_BOOL, FLOAT32):
            raise TypeError(f"{fn}: mask must be bool (True = keep) or float32 (additive), got {mask.dtype}")
        full = (B, Hq, Lq, Lk)
        if mask.ndim > 4:
            raise ValueError(f"{fn}: mask must broadcast to {full}, got shape {tuple(mask.shape)}")
        try:
            mask = np.broadcast_to(mask, full)  # a view: broadcast dims get stride 0, nothing is copied
        except ValueError:
            raise ValueError(f"{fn}: mask of shape {tuple(mask.shape)} does not broadcast to {full}") from None
    return q, k, v, mask, bool(causal), float(scale)


def attention(q: Any, k: Any, v: Any, *, causal: bool = False, mask: Any = None, scale: float | None = None,
              return_lse: bool = False, dtype: str | None = None, kernel: str = "auto") -> Any:
    """``softmax(scale · q kᵀ + mask) v`` with the flash algorithm (the L×L matrix is never stored).

    q: (B, Hq, Lq, D)   k: (B, Hkv, Lk, D)   v: (B, Hkv, Lk, Dv)   →  out (B, Hq, Lq, Dv)
    [, lse (B, Hq, Lq) = log Σ_j exp(scaled, masked score) if ``return_lse``].

    * Hq must be a multiple of Hkv: MHA, GQA and MQA; query head h uses kv head h // (Hq // Hkv).
    * ``causal`` is aligned to the bottom-right (FlashAttention-2 convention): query i sees key j iff
      j <= i + Lk - Lq. With Lq == Lk this is the usual lower triangle (PyTorch's ``is_causal``);
      with Lq != Lk PyTorch aligns top-left instead. When Lq > Lk the first Lq - Lk rows see no key.
    * ``mask``: bool (True = keep, as PyTorch SDPA) or additive float32, broadcastable to
      (B, Hq, Lq, Lk), e.g. a key-padding mask (B, 1, 1, Lk); combines with ``causal``.
    * A row with every key masked gives zeros (and lse = -inf), never NaN.
    * ``scale`` defaults to 1/sqrt(D). Any strides are read in place (e.g. q, k, v as views of one
      fused (B, L, 3, H, D) projection), without a copy.
    * CUDA arrays (float32, float16, bfloat16; ``dtype`` and ``kernel`` are described in
      :mod:`fastnn.ops.cuda_attention` and ignored on CPU) run the CUDA flash kernels.
    """
    fn = "attention"
    if backend.common_device(fn, q=q, k=k, v=v, mask=mask) == "cuda":
        from . import cuda_attention

        return cuda_attention.attention(q, k, v, causal=causal, mask=mask, scale=scale, return_lse=return_lse,
                                        dtype=dtype, kernel=kernel)
    q, k, v, mask, causal, scale = _inputs(fn, q, k, v, mask, causal, scale)
    if not isinstance(return_lse, (bool, np.bool_)):
        raise TypeError(f"{fn}: return_lse must be a bool, got {type(return_lse).__name__}")
    B, Hq, Lq, _ = q.shape
    out = np.empty((B, Hq, Lq, v.shape[3]), dtype=np.float32)
    lse = np.empty((B, Hq, Lq), dtype=np.float32) if return_lse else None
    _C.attention_forward(q, k, v, mask, causal, scale, out, lse)
    return (out, lse) if return_lse else out


def attention_backward(grad_out: Any, q: Any, k: Any, v: Any, out: Any, lse: Any, *, causal: bool = False,
                       mask: Any = None, scale: float | None = None, dtype: str | None = None,
                       kernel: str = "auto") -> tuple[Any, Any, Any]:
    """Gradients of :func:`attention` → ``(dq, dk, dv)``, FlashAttention-2 style: the probabilities
    are recomputed block by block from ``lse`` (as returned by ``attention(..., return_lse=True)``),
    never stored. ``out`` is the forward output. ``causal``, ``mask`` and ``scale`` must be the ones
    the forward used. dk and dv sum over the query heads that share each kv head.

    grad_out, out: (B, Hq, Lq, Dv)   lse: (B, Hq, Lq)   →  dq (B, Hq, Lq, D), dk (B, Hkv, Lk, D),
    dv (B, Hkv, Lk, Dv).
    """
    fn = "attention_backward"
    if backend.common_device(fn, grad_out=grad_out, q=q, k=k, v=v, out=out, lse=lse, mask=mask) == "cuda":
        from . import cuda_attention

        return cuda_attention.attention_backward(grad_out, q, k, v, out, lse, causal=causal, mask=mask, scale=scale,
                                                 dtype=dtype, kernel=kernel)
    q, k, v, mask, causal, scale = _inputs(fn, q, k, v, mask, causal, scale, grad_out=grad_out, out=out, lse=lse)
    B, Hq, Lq, _ = q.shape
    o_shape = (B, Hq, Lq, v.shape[3])
    arrays = {}
    for name, x, shape in (("grad_out", grad_out, o_shape), ("out", out, o_shape), ("lse", lse, o_shape[:3])):
        x = backend.as_array(x, fn, name)
        check_dtype(fn, name, x)
        if tuple(x.shape) != shape:
            raise ValueError(f"{fn}: {name} must have shape {shape}, got {tuple(x.shape)}")
        arrays[name] = x
    dq = np.empty(q.shape, dtype=np.float32)
    dk = np.empty(k.shape, dtype=np.float32)
    dv = np.empty(v.shape, dtype=np.float32)
    _C.attention_backward(arrays["grad_out"], q, k, v, arrays["out"], arrays["lse"], mask, causal, scale, dq, dk, dv)
    return dq, dk, dv
