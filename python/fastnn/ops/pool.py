"""2-D pooling on CPU (NumPy float32), PyTorch semantics: x (N, C, H, W) or (C, H, W); CUDA arrays
(float32, float16, bfloat16) are checked here and run by :mod:`fastnn.ops.cuda_conv`.

max_pool2d: padding acts as -inf and never wins; ties keep the first maximum in row-major window
order; a NaN in the window wins (the last NaN). indices are int64 flat ih*W + iw in the plane.
avg_pool2d: divisor_override, else the window clipped to the padded input (count_include_pad)
or the number of real input elements. adaptive_avg_pool2d: output i averages
[floor(i*L/out), ceil((i+1)*L/out)).
ceil_mode: the last window may overhang, but one starting inside the right padding is dropped.
Backward functions return grad_x (the only differentiable input).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from .._ext import _C
from .._validate import FLOAT32, check_dtype, check_ndim, check_out, may_overlap
from .conv import _int, _tuple


def _input(fn: str, x: Any, **others: Any) -> tuple[np.ndarray, bool, dict[str, Any]]:
    """x as a 4-D NumPy float32 array (a 3-D one gets a batch of 1), whether it was 3-D, others."""
    arrays = {"x": x, **others}
    backend.common_device(fn, **arrays)  # CUDA arrays were dispatched by the callers
    out = {}
    for name, a in arrays.items():
        out[name] = None if a is None else backend.as_array(a, fn, name)
    x = out.pop("x")
    check_dtype(fn, "x", x)
    check_ndim(fn, "x", x, (3, 4))
    unbatched = x.ndim == 3
    return (x[None] if unbatched else x), unbatched, out


class _Shape4:
    """The (N, C, H, W) shape of a CUDA x (a 3-D x gets a batch of 1), for the shared argument checks."""

    def __init__(self, fn: str, x: Any):
        check_ndim(fn, "x", x, (3, 4))
        self.unbatched = x.ndim == 3
        self.shape = ((1,) if self.unbatched else ()) + tuple(x.shape)


def _cuda(fn: str, **arrays: Any) -> bool:
    return backend.common_device(fn, **arrays) == "cuda"


def _cuda_out(fn: str, result: Any, out: Any) -> Any:
    """out= on CUDA: the result copied into out (checked for shape and dtype)."""
    if out is None:
        return result
    if tuple(out.shape) != tuple(result.shape):
        raise ValueError(f"{fn}: out must have shape {tuple(result.shape)}, got {tuple(out.shape)}")
    if str(out.dtype) != str(result.dtype):
        raise TypeError(f"{fn}: out must be {result.dtype}, got {out.dtype}")
    out[...] = result
    return out


def _window(fn: str, kernel_size: Any, stride: Any, padding: Any, dilation: Any = 1):
    k = _tuple(fn, "kernel_size", kernel_size, 2, 1)
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        s = k
    else:
        s = _tuple(fn, "stride", stride, 2, 1)
    p = _tuple(fn, "padding", padding, 2, 0)
    d = _tuple(fn, "dilation", dilation, 2, 1)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{fn}: padding must be at most half of kernel_size, got padding={p}, kernel_size={k}")
    return k, s, p, d


def _out_size(fn: str, L: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    num = L + 2 * p - d * (k - 1) - 1
    if num < 0:
        raise ValueError(f"{fn}: the pooling window ({d * (k - 1) + 1}) is larger than the padded input "
                         f"({L + 2 * p})")
    out = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (out - 1) * s >= L + p:
        out -= 1
    return out


def _bool(fn: str, arg: str, v: Any) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{fn}: {arg} must be a bool, got {type(v).__name__}")
    return bool(v)


def _target(fn: str, shape: tuple[int, ...], out: Any, x: np.ndarray, unbatched: bool):
    """(4-D array the kernel writes, out or None, whether that array is out itself)."""
    if out is None:
        return np.empty(shape, np.float32), None, False
    out = backend.as_array(out, fn, "out")
    check_out(fn, out, shape[1:] if unbatched else shape, FLOAT32, "cpu")
    if out.flags.c_contiguous and not may_overlap(out, x):
        return (out[None] if unbatched else out), out, True
    return np.empty(shape, np.float32), out, False


def _finish(target: np.ndarray, out: Any, direct: bool, unbatched: bool) -> np.ndarray:
    res = target[0] if unbatched else target
    if out is None:
        return res
    if not direct:
        out[...] = res
    return out


def _grad_out(fn: str, grad_out: Any, shape: tuple[int, ...], unbatched: bool) -> np.ndarray:
    check_dtype(fn, "grad_out", grad_out)
    want = shape[1:] if unbatched else shape
    if tuple(grad_out.shape) != tuple(want):
        raise ValueError(f"{fn}: grad_out must have the output's shape {tuple(want)}, got {tuple(grad_out.shape)}")
    return np.ascontiguousarray(grad_out[None] if unbatched else grad_out)


# ---- max_pool2d -----------------------------------------------------------------------------

def _max_args(fn, x, kernel_size, stride, padding, dilation, ceil_mode):
    k, s, p, d = _window(fn, kernel_size, stride, padding, dilation)
    ceil_mode = _bool(fn, "ceil_mode", ceil_mode)
    N, C, H, W = x.shape
    shape = (N, C, _out_size(fn, H, k[0], s[0], p[0], d[0], ceil_mode),
             _out_size(fn, W, k[1], s[1], p[1], d[1], ceil_mode))
    return k, s, p, d, ceil_mode, shape


def max_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False, out: Any = None):
    """``torch.nn.functional.max_pool2d``: y, or (y, indices) with return_indices."""
    fn = "max_pool2d"
    if _cuda(fn, x=x, out=out):
        from . import cuda_conv

        xs = _Shape4(fn, x)
        k, s, p, d, ceil_mode, shape = _max_args(fn, xs, kernel_size, stride, padding, dilation, ceil_mode)
        r = cuda_conv.max_pool2d(x, k, s, p, d, ceil_mode, shape, _bool(fn, "return_indices", return_indices))
        return (_cuda_out(fn, r[0], out), r[1]) if return_indices else _cuda_out(fn, r, out)
    x, unbatched, _ = _input(fn, x)
    k, s, p, d, ceil_mode, shape = _max_args(fn, x, kernel_size, stride, padding, dilation, ceil_mode)
    target, out, direct = _target(fn, shape, out, x, unbatched)
    indices = np.empty(shape, np.int64) if _bool(fn, "return_indices", return_indices) else None
    if target.size:
        _C.max_pool2d(np.ascontiguousarray(x), k, s, p, d, ceil_mode, target, indices)
    y = _finish(target, out, direct, unbatched)
    if indices is None:
        return y
    return y, (indices[0] if unbatched else indices)


def max_pool2d_backward(grad_out: Any, x: Any, indices: Any = None, kernel_size: Any = None, stride: Any = None,
                        padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False) -> np.ndarray:
    """grad_x of :func:`max_pool2d`: grad_out scatter-added to the argmax of each window.

    kernel_size (and the other window arguments) are needed to check shapes; indices from the
    forward (return_indices=True) are used when given, else recomputed from x.
    """
    fn = "max_pool2d_backward"
    if kernel_size is None:
        raise ValueError(f"{fn}: kernel_size is required")
    if _cuda(fn, x=x, grad_out=grad_out, indices=indices):
        from . import cuda_conv

        xs = _Shape4(fn, x)
        k, s, p, d, ceil_mode, shape = _max_args(fn, xs, kernel_size, stride, padding, dilation, ceil_mode)
        return cuda_conv.max_pool2d_backward(grad_out, x, indices, k, s, p, d, ceil_mode, shape)
    x, unbatched, a = _input(fn, x, grad_out=grad_out, indices=indices)
    k, s, p, d, ceil_mode, shape = _max_args(fn, x, kernel_size, stride, padding, dilation, ceil_mode)
    g = _grad_out(fn, a["grad_out"], shape, unbatched)
    ind = a["indices"]
    if ind is None:
        ind = np.empty(shape, np.int64)
        if ind.size:
            _C.max_pool2d(np.ascontiguousarray(x), k, s, p, d, ceil_mode, np.empty(shape, np.float32), ind)
    else:
        if np.dtype(ind.dtype) != np.int64:
            raise TypeError(f"{fn}: indices must be int64, got {ind.dtype}")
        want = shape[1:] if unbatched else shape
        if tuple(ind.shape) != tuple(want):
            raise ValueError(f"{fn}: indices must have the output's shape {tuple(want)}, got {tuple(ind.shape)}")
        ind = np.ascontiguousarray(ind[None] if unbatched else ind)
    gx = np.empty(x.shape, np.float32)
    if gx.size:
        _C.max_pool2d_backward(g, ind, k, s, p, d, ceil_mode, gx)
    return gx[0] if unbatched else gx


# ---- avg_pool2d -----------------------------------------------------------------------------

def _avg_args(fn, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    k, s, p, _ = _window(fn, kernel_size, stride, padding)
    ceil_mode = _bool(fn, "ceil_mode", ceil_mode)
    count_include_pad = _bool(fn, "count_include_pad", count_include_pad)
    if divisor_override is None:
        div = 0
    else:
        div = _int(fn, "divisor_override", divisor_override)
        if div <= 0:
            raise ValueError(f"{fn}: divisor_override must be positive, got {div}")
    N, C, H, W = x.shape
    shape = (N, C, _out_size(fn, H, k[0], s[0], p[0], 1, ceil_mode), _out_size(fn, W, k[1], s[1], p[1], 1, ceil_mode))
    return k, s, p, ceil_mode, count_include_pad, div, shape


def avg_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None, out: Any = None) -> np.ndarray:
    """``torch.nn.functional.avg_pool2d``."""
    fn = "avg_pool2d"
    if _cuda(fn, x=x, out=out):
        from . import cuda_conv

        xs = _Shape4(fn, x)
        k, s, p, ceil_mode, cip, div, shape = _avg_args(fn, xs, kernel_size, stride, padding, ceil_mode,
                                                        count_include_pad, divisor_override)
        return _cuda_out(fn, cuda_conv.avg_pool2d(x, k, s, p, ceil_mode, cip, div, shape), out)
    x, unbatched, _ = _input(fn, x)
    k, s, p, ceil_mode, cip, div, shape = _avg_args(fn, x, kernel_size, stride, padding, ceil_mode,
                                                    count_include_pad, divisor_override)
    target, out, direct = _target(fn, shape, out, x, unbatched)
    if target.size:
        _C.avg_pool2d(np.ascontiguousarray(x), k, s, p, ceil_mode, cip, div, target)
    return _finish(target, out, direct, unbatched)


def avg_pool2d_backward(grad_out: Any, x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                        ceil_mode: bool = False, count_include_pad: bool = True,
                        divisor_override: int | None = None) -> np.ndarray:
    """grad_x of :func:`avg_pool2d` (x gives the input shape)."""
    fn = "avg_pool2d_backward"
    if _cuda(fn, x=x, grad_out=grad_out):
        from . import cuda_conv

        xs = _Shape4(fn, x)
        k, s, p, ceil_mode, cip, div, shape = _avg_args(fn, xs, kernel_size, stride, padding, ceil_mode,
                                                        count_include_pad, divisor_override)
        return cuda_conv.avg_pool2d_backward(grad_out, x, k, s, p, ceil_mode, cip, div, shape)
    x, unbatched, a = _input(fn, x, grad_out=grad_out)
    k, s, p, ceil_mode, cip, div, shape = _avg_args(fn, x, kernel_size, stride, padding, ceil_mode,
                                                    count_include_pad, divisor_override)
    g = _grad_out(fn, a["grad_out"], shape, unbatched)
    gx = np.empty(x.shape, np.float32)
    if gx.size:
        _C.avg_pool2d_backward(g, k, s, p, ceil_mode, cip, div, gx)
    return gx[0] if unbatched else gx


# ---- adaptive_avg_pool2d --------------------------------------------------------------------

def _adaptive_size(fn: str, x: np.ndarray, output_size: Any) -> tuple[int, int, int, int]:
    if isinstance(output_size, (int, np.integer)) and not isinstance(output_size, (bool, np.bool_)):
        sizes = (int(output_size), int(output_size))
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        sizes = tuple(x.shape[2 + i] if v is None else _int(fn, "output_size", v) for i, v in enumerate(output_size))
    else:
        raise TypeError(f"{fn}: output_size must be an int or a pair of ints (or None), got {output_size!r}")
    if sizes[0] < 0 or sizes[1] < 0:
        raise ValueError(f"{fn}: output_size must be >= 0, got {sizes}")
    if (x.shape[2] == 0 or x.shape[3] == 0) and sizes[0] * sizes[1] > 0:
        raise ValueError(f"{fn}: x has an empty spatial dimension {tuple(x.shape[2:])}")
    return (x.shape[0], x.shape[1], sizes[0], sizes[1])


def adaptive_avg_pool2d(x: Any, output_size: Any, out: Any = None) -> np.ndarray:
    """``torch.nn.functional.adaptive_avg_pool2d``: output_size int or (oh, ow), None keeps that size."""
    fn = "adaptive_avg_pool2d"
    if _cuda(fn, x=x, out=out):
        from . import cuda_conv

        xs = _Shape4(fn, x)
        return _cuda_out(fn, cuda_conv.adaptive_avg_pool2d(x, _adaptive_size(fn, xs, output_size)), out)
    x, unbatched, _ = _input(fn, x)
    shape = _adaptive_size(fn, x, output_size)
    target, out, direct = _target(fn, shape, out, x, unbatched)
    if target.size:
        _C.adaptive_avg_pool2d(np.ascontiguousarray(x), target)
    return _finish(target, out, direct, unbatched)


def adaptive_avg_pool2d_backward(grad_out: Any, x: Any, output_size: Any) -> np.ndarray:
    """grad_x of :func:`adaptive_avg_pool2d` (x gives the input shape)."""
    fn = "adaptive_avg_pool2d_backward"
    if _cuda(fn, x=x, grad_out=grad_out):
        from . import cuda_conv

        xs = _Shape4(fn, x)
        return cuda_conv.adaptive_avg_pool2d_backward(grad_out, x, _adaptive_size(fn, xs, output_size))
    x, unbatched, a = _input(fn, x, grad_out=grad_out)
    shape = _adaptive_size(fn, x, output_size)
    g = _grad_out(fn, a["grad_out"], shape, unbatched)
    gx = np.empty(x.shape, np.float32)
    if gx.size:
        _C.adaptive_avg_pool2d_backward(g, gx)
    return gx[0] if unbatched else gx
