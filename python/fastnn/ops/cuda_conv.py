"""CUDA side of the convolution family: conv2d / conv1d / conv_transpose2d / conv_transpose1d and
their backwards, max / avg / adaptive-avg pooling and their backwards, on CUDA arrays.

The public functions in :mod:`fastnn.ops.conv` and :mod:`fastnn.ops.pool` parse and check the
arguments (shared with the CPU path) and send CUDA arrays here. dtypes: float32, float16,
bfloat16 (FP32 accumulation). Kernel families (``kernel=`` forces one, ValueError when it cannot
run the pass; :func:`last_kernel` says which ran):

* ``mma_sync`` — implicit GEMM on tensor cores (bf16 / f16, input channels per group a multiple of
  8, sm_80+) for the forward and data-gradient passes; activations are repacked NHWC (a
  channels-last x is read in place), weights (out, R, S, in);
* ``depthwise`` — groups == C with one input channel per group: direct kernels;
* ``simt`` — implicit GEMM on CUDA cores, FP32 math: everything else, every weight gradient but
  depthwise, and float32.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import _cuda as C

KERNELS = ("auto", "mma_sync", "simt", "depthwise")
ACT_CODES = {"none": 0, "relu": 1, "gelu": 2, "gelu_tanh": 3, "sigmoid": 4, "tanh": 5, "silu": 6}


def last_kernel() -> str:
    """'<family>:<dtype>:<pass>' of the convolution kernel this thread launched last (e.g. 'mma_sync:bf16:fwd')."""
    return C.kernels().last_conv_kernel()


def _check_kernel(fn: str, kernel: str) -> None:
    if kernel not in KERNELS:
        raise ValueError(f"{fn}: kernel must be one of {KERNELS}, got {kernel!r}")


def _ops(fn: str, dtype: str | None, **arrays: Any) -> dict[str, C.Arr | None]:
    C.check_dtype_arg(fn, dtype)
    ops = {k: C.optional(v, fn, k if k != "x" else "x", dtype=dtype) for k, v in arrays.items()}
    C.same_dtype(fn, **ops)
    return ops


def conv2d(x: Any, weight: Any, bias: Any, stride: tuple[int, int], pads: tuple[int, ...], dilation: tuple[int, int],
           groups: int, act: str, shape: tuple[int, ...], out: Any, *, dtype: str | None = None,
           kernel: str = "auto") -> Any:
    """Arguments already checked by fastnn.ops.conv.conv2d; pads = (top, bottom, left, right)."""
    fn = "conv2d"
    _check_kernel(fn, kernel)
    a = _ops(fn, dtype, x=x, weight=weight, bias=bias)
    X, W, B = a["x"], a["weight"].contiguous(), a["bias"]
    target, copy_to = C.out_arg(fn, out, shape, X.dtype, [X, W, B])
    if target.size:
        if X.size == 0 or W.size == 0:  # no products: out = act(bias)
            _fill_bias_act(fn, target, B, act)
        else:
            C.kernels().conv2d(X.desc(), W.desc(), None if B is None else B.contiguous().desc(), stride,
                               (pads[0], pads[2]), dilation, groups, ACT_CODES[act], target.desc(), kernel, C.stream())
    return C.finish(target, copy_to, out, x)


def _fill_bias_act(fn: str, target: C.Arr, B: C.Arr | None, act: str) -> None:
    """out = act(bias) broadcast over (N, ·, H, W): the convolution of an empty input."""
    if B is None:
        target.arr[...] = 0
    else:
        target.arr[...] = B.arr.reshape(1, -1, 1, 1)
    if act != "none":
        from . import cuda_glue

        cuda_glue.activation(fn, act, target.arr, target.arr, dtype=target.dtype)


def conv2d_backward(grad_out: Any, x: Any, weight: Any, bias: Any, stride, pads, dilation, groups: int, act: str,
                    *, dtype: str | None = None, kernel: str = "auto") -> tuple[Any, Any, Any]:
    fn = "conv2d_backward"
    _check_kernel(fn, kernel)
    a = _ops(fn, dtype, grad_out=grad_out, x=x, weight=weight, bias=bias)
    G, X, W, B = a["grad_out"].contiguous(), a["x"], a["weight"].contiguous(), a["bias"]
    like = [X, W]
    gx, gw = C.empty(X.shape, X.dtype, like), C.empty(W.shape, X.dtype, like)
    gb = None if B is None else C.empty(B.shape, X.dtype, like)
    if X.size == 0 or W.size == 0:
        gx.arr[...] = 0
        gw.arr[...] = 0
        if gb is not None:
            gb.arr[...] = G.arr.astype(np.float32).sum(axis=(0, 2, 3)).astype(gb.arr.dtype) if G.size else 0
    else:
        C.kernels().conv2d_backward(G.desc(), X.desc(), W.desc(), None if B is None else B.contiguous().desc(), stride,
                                    (pads[0], pads[2]), dilation, groups, ACT_CODES[act], gx.desc(), gw.desc(),
                                    None if gb is None else gb.desc(), kernel, C.stream())
    return C.result(gx, x), C.result(gw, x), C.result(gb, x)


def conv_transpose2d(x: Any, weight: Any, bias: Any, stride, pad, dilation, groups: int, shape: tuple[int, ...],
                     out: Any, *, dtype: str | None = None, kernel: str = "auto") -> Any:
    fn = "conv_transpose2d"
    _check_kernel(fn, kernel)
    a = _ops(fn, dtype, x=x, weight=weight, bias=bias)
    X, W, B = a["x"].contiguous(), a["weight"].contiguous(), a["bias"]
    target, copy_to = C.out_arg(fn, out, shape, X.dtype, [X, W, B])
    if target.size:
        if X.size == 0 or W.size == 0:
            _fill_bias_act(fn, target, B, "none")
        else:
            C.kernels().conv_transpose2d(X.desc(), W.desc(), None if B is None else B.contiguous().desc(), stride, pad,
                                         dilation, groups, target.desc(), kernel, C.stream())
    return C.finish(target, copy_to, out, x)


def conv_transpose2d_backward(grad_out: Any, x: Any, weight: Any, bias: Any, stride, pad, dilation, groups: int, *,
                              dtype: str | None = None, kernel: str = "auto") -> tuple[Any, Any, Any]:
    fn = "conv_transpose2d_backward"
    _check_kernel(fn, kernel)
    a = _ops(fn, dtype, grad_out=grad_out, x=x, weight=weight, bias=bias)
    G, X, W, B = a["grad_out"].contiguous(), a["x"].contiguous(), a["weight"].contiguous(), a["bias"]
    like = [X, W]
    gx, gw = C.empty(X.shape, X.dtype, like), C.empty(W.shape, X.dtype, like)
    gb = None if B is None else C.empty(B.shape, X.dtype, like)
    if X.size == 0 or W.size == 0:
        gx.arr[...] = 0
        gw.arr[...] = 0
        if gb is not None:
            gb.arr[...] = G.arr.astype(np.float32).sum(axis=(0, 2, 3)).astype(gb.arr.dtype) if G.size else 0
    else:
        C.kernels().conv_transpose2d_backward(G.desc(), X.desc(), W.desc(), stride, pad, dilation, groups, gx.desc(),
                                              gw.desc(), None if gb is None else gb.desc(), kernel, C.stream())
    return C.result(gx, x), C.result(gw, x), C.result(gb, x)


# ---- pooling ------------------------------------------------------------------------------------

def _x4(fn: str, x: Any, dtype: str | None) -> tuple[C.Arr, bool]:
    C.check_dtype_arg(fn, dtype)
    X = C.operand(x, fn, "x", dtype=dtype)
    if X.ndim not in (3, 4):
        raise ValueError(f"{fn}: x must have 3 or 4 dimensions, got {X.ndim} (shape {X.shape})")
    unbatched = X.ndim == 3
    X = X.contiguous()
    return (X.reshape(1, *X.shape) if unbatched else X), unbatched


def _grad4(fn: str, grad_out: Any, shape: tuple[int, ...], unbatched: bool, dt: str, dtype: str | None) -> C.Arr:
    G = C.operand(grad_out, fn, "grad_out", dtype=dtype)
    if G.dtype != dt:
        raise TypeError(f"{fn}: grad_out must be {dt}, got {G.dtype}")
    want = shape[1:] if unbatched else shape
    if G.shape != tuple(want):
        raise ValueError(f"{fn}: grad_out must have the output's shape {tuple(want)}, got {G.shape}")
    G = G.contiguous()
    return G.reshape(1, *G.shape) if unbatched else G


def _squeeze(a: C.Arr, unbatched: bool) -> C.Arr:
    return a.reshape(*a.shape[1:]) if unbatched else a


def max_pool2d(x: Any, k, s, p, d, ceil_mode: bool, shape: tuple[int, ...], return_indices: bool, *,
               dtype: str | None = None) -> Any:
    fn = "max_pool2d"
    X, unbatched = _x4(fn, x, dtype)
    y = C.empty(shape, X.dtype, [X])
    ind = C.Arr(C.xp().empty(shape, dtype=np.int64), "int64") if return_indices else None
    if y.size:
        C.kernels().max_pool2d(X.desc(), k, s, p, d, ceil_mode, y.desc(), None if ind is None else ind.desc(),
                               C.stream())
    res = C.result(_squeeze(y, unbatched), x)
    return (res, _squeeze(ind, unbatched).arr) if return_indices else res


def max_pool2d_backward(grad_out: Any, x: Any, indices: Any, k, s, p, d, ceil_mode: bool, shape: tuple[int, ...], *,
                        dtype: str | None = None) -> Any:
    fn = "max_pool2d_backward"
    X, unbatched = _x4(fn, x, dtype)
    G = _grad4(fn, grad_out, shape, unbatched, X.dtype, dtype)
    if indices is None:
        ind = C.Arr(C.xp().empty(shape, dtype=np.int64), "int64")
        if ind.size:
            C.kernels().max_pool2d(X.desc(), k, s, p, d, ceil_mode, C.empty(shape, X.dtype).desc(), ind.desc(),
                                   C.stream())
    else:
        ind = C.operand(indices, fn, "indices", ("int64",))
        want = shape[1:] if unbatched else shape
        if ind.shape != tuple(want):
            raise ValueError(f"{fn}: indices must have the output's shape {tuple(want)}, got {ind.shape}")
        ind = ind.contiguous()
        if unbatched:
            ind = ind.reshape(1, *ind.shape)
    gx = C.empty(X.shape, X.dtype, [X])
    if gx.size:
        C.kernels().max_pool2d_backward(G.desc(), ind.desc(), gx.desc(), C.stream())
    return C.result(_squeeze(gx, unbatched), x)


def avg_pool2d(x: Any, k, s, p, ceil_mode: bool, count_include_pad: bool, divisor: int, shape: tuple[int, ...], *,
               dtype: str | None = None) -> Any:
    fn = "avg_pool2d"
    X, unbatched = _x4(fn, x, dtype)
    y = C.empty(shape, X.dtype, [X])
    if y.size:
        C.kernels().avg_pool2d(X.desc(), k, s, p, ceil_mode, count_include_pad, divisor, y.desc(), C.stream())
    return C.result(_squeeze(y, unbatched), x)


def avg_pool2d_backward(grad_out: Any, x: Any, k, s, p, ceil_mode: bool, count_include_pad: bool, divisor: int,
                        shape: tuple[int, ...], *, dtype: str | None = None) -> Any:
    fn = "avg_pool2d_backward"
    X, unbatched = _x4(fn, x, dtype)
    G = _grad4(fn, grad_out, shape, unbatched, X.dtype, dtype)
    gx = C.empty(X.shape, X.dtype, [X])
    if gx.size:
        C.kernels().avg_pool2d_backward(G.desc(), k, s, p, ceil_mode, count_include_pad, divisor, gx.desc(),
                                        C.stream())
    return C.result(_squeeze(gx, unbatched), x)


def adaptive_avg_pool2d(x: Any, shape: tuple[int, ...], *, dtype: str | None = None) -> Any:
    fn = "adaptive_avg_pool2d"
    X, unbatched = _x4(fn, x, dtype)
    y = C.empty(shape, X.dtype, [X])
    if y.size:
        C.kernels().adaptive_avg_pool2d(X.desc(), y.desc(), C.stream())
    return C.result(_squeeze(y, unbatched), x)


def adaptive_avg_pool2d_backward(grad_out: Any, x: Any, shape: tuple[int, ...], *, dtype: str | None = None) -> Any:
    fn = "adaptive_avg_pool2d_backward"
    X, unbatched = _x4(fn, x, dtype)
    G = _grad4(fn, grad_out, shape, unbatched, X.dtype, dtype)
    gx = C.empty(X.shape, X.dtype, [X])
    if gx.size:
        C.kernels().adaptive_avg_pool2d_backward(G.desc(), gx.desc(), C.stream())
    return C.result(_squeeze(gx, unbatched), x)
