"""softmax / log_softmax along any dimension, float32 on CPU (CUDA arrays: float32 / float16 /
bfloat16 through :mod:`fastnn.ops.cuda_glue`), and their backwards.

The backwards take the forward **output** ``y`` (what an autograd tape keeps; recomputing the
max and sum from x would cost another pass):
    softmax_backward(grad_out, y, dim)      grad_x = y * (grad_out - sum(grad_out * y, dim))
    log_softmax_backward(grad_out, y, dim)  grad_x = grad_out - exp(y) * sum(grad_out, dim)
where y = softmax(x, dim) (resp. log_softmax(x, dim)). Each returns grad_x.

A slice containing NaN or +inf, or made only of -inf, gives NaN for the whole slice, as PyTorch.
Any strides are accepted; results are C-contiguous unless ``out=`` is given (``out`` may be the
input itself).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from .._ext import _C
from ._pointwise import cpu_float32, finish, output, same_shape


def _dim(fn: str, dim: Any, ndim: int) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{fn}: dim must be an int, got {type(dim).__name__}")
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    if not lo <= dim <= hi:
        raise ValueError(f"{fn}: dim {dim} is out of range for an array with {ndim} dimensions")
    return int(dim)


def _forward(fn: str, x: Any, dim: Any, out: Any, log: bool) -> np.ndarray:
    if backend.common_device(fn, x=x, out=out) == "cuda":
        from . import cuda_glue

        return cuda_glue.softmax(fn, x, _dim(fn, dim, len(x.shape)), out, log=log)
    x = cpu_float32(fn, x=x)["x"]
    dim = _dim(fn, dim, x.ndim)
    target, copy_to = output(fn, out, x.shape, x)
    if x.size:
        _C.softmax(x, target, dim, log)
    return finish(target, copy_to)


def _backward(fn: str, grad_out: Any, y: Any, dim: Any, out: Any, log: bool) -> np.ndarray:
    if backend.common_device(fn, grad_out=grad_out, y=y, out=out) == "cuda":
        from . import cuda_glue

        return cuda_glue.softmax_backward(fn, grad_out, y, _dim(fn, dim, len(y.shape)), out, log=log)
    arrs = cpu_float32(fn, grad_out=grad_out, y=y)
    g, y = arrs["grad_out"], arrs["y"]
    same_shape(fn, "y", y, grad_out=g)
    dim = _dim(fn, dim, y.ndim)
    target, copy_to = output(fn, out, y.shape, g, y)
    if y.size:
        _C.softmax_backward(g, y, target, dim, log)
    return finish(target, copy_to)


def softmax(x: Any, dim: int = -1, *, out: Any = None) -> np.ndarray:
    """exp(x - max) / sum(exp(x - max)) along dim."""
    return _forward("softmax", x, dim, out, False)


def log_softmax(x: Any, dim: int = -1, *, out: Any = None) -> np.ndarray:
    """x - max - log(sum(exp(x - max))) along dim."""
    return _forward("log_softmax", x, dim, out, True)


def softmax_backward(grad_out: Any, y: Any, dim: int = -1, *, out: Any = None) -> np.ndarray:
    """grad_x from grad_out and y = softmax(x, dim) (the forward output)."""
    return _backward("softmax_backward", grad_out, y, dim, out, False)


def log_softmax_backward(grad_out: Any, y: Any, dim: int = -1, *, out: Any = None) -> np.ndarray:
    """grad_x from grad_out and y = log_softmax(x, dim) (the forward output)."""
    return _backward("log_softmax_backward", grad_out, y, dim, out, True)
