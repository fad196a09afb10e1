"""Reductions over axes on CPU float32 arrays: sum, mean, max (values and indices) and their
backwards. ``axis``: None (all axes), an int or a tuple of ints (negative counts from the end);
``keepdims`` keeps reduced axes with size 1, as NumPy. Any input layout is read in place.

Accuracy: sums are pairwise within contiguous runs and blocked + compensated across rows, with
partial results combined in double, so long float32 reductions keep ~1e-7 relative accuracy.
"""
from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from .. import backend
from .._ext import _C
from ._cpu_args import cpu_f32

__all__ = ["sum", "sum_backward", "mean", "mean_backward", "max", "max_backward"]

Axis = Any  # None | int | tuple[int, ...]


def _axes(fn: str, ndim: int, axis: Axis) -> tuple[int, ...]:
    """Sorted, normalised reduced axes; errors name the function."""
    if axis is None:
        return tuple(range(ndim))
    items = (axis,) if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool) else axis
    try:
        items = tuple(items)
    except TypeError:
        raise TypeError(f"{fn}: axis must be None, an int or a tuple of ints, got {type(axis).__name__}") from None
    out = []
    for a in items:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"{fn}: axis must be None, an int or a tuple of ints, got {axis!r}")
        if not -ndim <= a < ndim:
            raise ValueError(f"{fn}: axis {a} is out of range for an array of rank {ndim}")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{fn}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def _mask(axes: tuple[int, ...]) -> int:
    return builtins.sum(1 << a for a in axes)


def _shapes(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """-> (kept shape, keepdims shape)."""
    kept = tuple(n for d, n in enumerate(shape) if d not in axes)
    keep = tuple(1 if d in axes else n for d, n in enumerate(shape))
    return kept, keep


def _reduce(fn: str, x: Any, axis: Axis, keepdims: bool):
    x = cpu_f32(fn, "x", x)
    axes = _axes(fn, x.ndim, axis)
    kept, keep = _shapes(x.shape, axes)
    return x, axes, kept, keep


def _cuda_reduce(fn: str, x: Any, axis: Axis, keepdims: bool, mean: bool) -> Any:
    from . import cuda_glue

    return cuda_glue.reduce(fn, x, _axes(fn, x.ndim, axis), keepdims, mean=mean)


def _on_cuda(fn: str, **xs: Any) -> bool:
    # NumPy scalars and Python numbers are host values, not arrays to place on a device.
    arrays = {k: v for k, v in xs.items() if v is not None and not isinstance(v, (tuple, np.generic, int, float))}
    return bool(arrays) and backend.common_device(fn, **arrays) == "cuda"


def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> np.ndarray:
    """Sum of x over ``axis`` (float32 result, accurate accumulation; CUDA arrays: FP64 accumulation)."""
    if _on_cuda("sum", x=x):
        return _cuda_reduce("sum", x, axis, keepdims, False)
    x, axes, kept, keep = _reduce("sum", x, axis, keepdims)
    out = np.empty(kept, np.float32)
    _C.sum(x, _mask(axes), out)
    return out.reshape(keep) if keepdims else out


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> np.ndarray:
    """Mean of x over ``axis``; NaN over zero elements (as NumPy, without the warning)."""
    if _on_cuda("mean", x=x):
        return _cuda_reduce("mean", x, axis, keepdims, True)
    x, axes, kept, keep = _reduce("mean", x, axis, keepdims)
    out = np.empty(kept, np.float32)
    _C.mean(x, _mask(axes), out)
    return out.reshape(keep) if keepdims else out


def max(x: Any, axis: Axis = None, keepdims: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """-> (values, indices): the maximum over ``axis`` and the int64 index of its first
    occurrence, as a row-major flat index over the reduced axes (for one axis: the position
    along it, like ``torch.max(x, dim)``). A NaN is the maximum (its first position is returned).
    Reducing zero elements is a ValueError."""
    fn = "max"
    x, axes, kept, keep = _reduce(fn, x, axis, keepdims)
    if x.size == 0 and math.prod(kept) > 0:
        raise ValueError(f"{fn}: zero-size reduction has no maximum (x has shape {tuple(x.shape)}, axis {axis!r})")
    out = np.empty(kept, np.float32)
    idx = np.empty(kept, np.int64)
    _C.max(x, _mask(axes), out, idx)
    return (out.reshape(keep), idx.reshape(keep)) if keepdims else (out, idx)


# ---- backwards ------------------------------------------------------------------------------

def _x_shape(fn: str, x: Any) -> tuple[int, ...]:
    """The forward input's shape, from the array or from a shape tuple."""
    if isinstance(x, tuple) and all(isinstance(n, (int, np.integer)) for n in x):
        return tuple(int(n) for n in x)
    if hasattr(x, "shape"):
        return tuple(x.shape)
    raise TypeError(f"{fn}: x must be the forward input (an array) or its shape (a tuple), got {type(x).__name__}")


def _grad_in(fn: str, grad_out: Any, shape: tuple[int, ...], axis: Axis, keepdims: bool):
    g = cpu_f32(fn, "grad_out", grad_out)
    axes = _axes(fn, len(shape), axis)
    kept, keep = _shapes(shape, axes)
    want = keep if keepdims else kept
    if tuple(g.shape) != want:
        raise ValueError(f"{fn}: grad_out must have shape {want} (x {shape}, axis {axis!r}, keepdims={keepdims}), "
                         f"got {tuple(g.shape)}")
    return g, axes, kept, keep


def _expand(g: np.ndarray, keep: tuple[int, ...], shape: tuple[int, ...], scale: float) -> np.ndarray:
    out = np.empty(shape, np.float32)
    _C.broadcast_scale(np.broadcast_to(g.reshape(keep), shape), scale, out)
    return out


def sum_backward(grad_out: Any, x: Any, axis: Axis = None, keepdims: bool = False) -> np.ndarray:
    """grad_x: grad_out broadcast back to x's shape (x: the forward input or its shape)."""
    shape = _x_shape("sum_backward", x)
    if _on_cuda("sum_backward", grad_out=grad_out, x=x):
        from . import cuda_glue

        return cuda_glue.reduce_backward("sum_backward", grad_out, shape, _axes("sum_backward", len(shape), axis),
                                         keepdims, mean=False)
    g, axes, kept, keep = _grad_in("sum_backward", grad_out, shape, axis, keepdims)
    return _expand(g, keep, shape, 1.0)


def mean_backward(grad_out: Any, x: Any, axis: Axis = None, keepdims: bool = False) -> np.ndarray:
    """grad_x: grad_out / count broadcast back to x's shape."""
    shape = _x_shape("mean_backward", x)
    if _on_cuda("mean_backward", grad_out=grad_out, x=x):
        from . import cuda_glue

        return cuda_glue.reduce_backward("mean_backward", grad_out, shape, _axes("mean_backward", len(shape), axis),
                                         keepdims, mean=True)
    g, axes, kept, keep = _grad_in("mean_backward", grad_out, shape, axis, keepdims)
    count = math.prod(shape[a] for a in axes)
    return _expand(g, keep, shape, 1.0 / count if count else float("nan"))


def max_backward(grad_out: Any, x: Any, axis: Axis = None, keepdims: bool = False, *,
                 indices: Any = None) -> np.ndarray:
    """grad_x: zero except grad_out at each maximum's position (all of it to the first
    occurrence, as ``torch.max(x, dim)``). indices: from :func:`max` (skips finding the maxima
    again; then x may be given as its shape)."""
    fn = "max_backward"
    shape = _x_shape(fn, x)
    g, axes, kept, keep = _grad_in(fn, grad_out, shape, axis, keepdims)
    if indices is None:
        if not hasattr(x, "dtype"):
            raise ValueError(f"{fn}: pass x itself (not its shape) or the indices returned by max")
        _, indices = max(x, axis=axes)
    idx = np.asarray(indices)
    if idx.dtype != np.int64:
        raise TypeError(f"{fn}: indices must be int64, got {idx.dtype}")
    if tuple(idx.shape) not in (kept, keep):
        raise ValueError(f"{fn}: indices must have shape {keep if keepdims else kept}, got {tuple(idx.shape)}")
    out = np.empty(shape, np.float32)
    _C.max_backward(g.reshape(kept), idx.reshape(kept), _mask(axes), out)
    return out
