"""Broadcasting elementwise ops on CPU float32 arrays: add, mul, bias_add and their backwards (CUDA
arrays, float32 / float16 / bfloat16: :mod:`fastnn.ops.cuda_glue`).

Broadcasting follows NumPy. Operands of any layout (views, transposes, broadcasts, negative
strides) are read in place; the result is C-contiguous unless ``out=`` is given. The backwards
sum the gradient down to each input's shape (the inverse of broadcasting).

Aliasing: where a gradient is the identity (add's for an input of the output's shape,
bias_add's grad_x), the backward returns ``grad_out`` itself rather than a copy, as PyTorch's
autograd does; copy it before modifying it in place.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from .._ext import _C
from .._validate import FLOAT32, check_out, may_overlap
from ._cpu_args import cpu_f32
from .reduce import _axes

__all__ = ["add", "add_backward", "mul", "mul_backward", "bias_add", "bias_add_backward"]


def _operand(fn: str, arg: str, x: Any) -> np.ndarray:
    """Arrays as float32 (validated); Python int/float scalars become 0-d float32 arrays."""
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return np.asarray(x, np.float32)
    return cpu_f32(fn, arg, x)


def _on_cuda(fn: str, **xs: Any) -> bool:
    """Whether the array arguments (Python numbers and shape tuples aside) live on the GPU."""
    arrays = {k: v for k, v in xs.items() if v is not None and not isinstance(v, (int, float, tuple, np.generic))}
    return bool(arrays) and backend.common_device(fn, **arrays) == "cuda"


def _binary(fn: str, a: Any, b: Any, out: Any) -> np.ndarray:
    if _on_cuda(fn, a=a, b=b, out=out):
        from . import cuda_glue

        return cuda_glue.binary(fn, a, b, out)
    a = _operand(fn, "a", a)
    b = _operand(fn, "b", b)
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{fn}: shapes {tuple(a.shape)} and {tuple(b.shape)} do not broadcast") from None
    if out is not None:
        out = cpu_f32(fn, "out", out)
        check_out(fn, out, shape, FLOAT32, "cpu")
    # The kernel reads each element before writing the same position, so out may be exactly
    # a or b; any other overlap goes through a temporary.
    target = out
    if out is None or (may_overlap(out, a, b) and not _same_view(out, a, b)):
        target = np.empty(shape, np.float32)
    getattr(_C, fn)(np.broadcast_to(a, shape), np.broadcast_to(b, shape), target)
    if out is not None and target is not out:
        out[...] = target
        return out
    return target


def _same_view(out: np.ndarray, *inputs: np.ndarray) -> bool:
    """out overlaps only inputs that are exactly the same view (same data, shape, strides)."""
    for x in inputs:
        if not np.may_share_memory(out, x):
            continue
        same = (x.shape == out.shape and x.strides == out.strides
                and x.__array_interface__["data"][0] == out.__array_interface__["data"][0])
        if not same:
            return False
    return True


def add(a: Any, b: Any, out: Any = None) -> np.ndarray:
    """a + b with NumPy broadcasting (float32). ``out`` may be a or b (in place)."""
    return _binary("add", a, b, out)


def mul(a: Any, b: Any, out: Any = None) -> np.ndarray:
    """a * b with NumPy broadcasting (float32). ``out`` may be a or b (in place)."""
    return _binary("mul", a, b, out)


# ---- backwards ------------------------------------------------------------------------------

def _shape_of(fn: str, arg: str, x: Any) -> tuple[int, ...]:
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return ()
    if isinstance(x, tuple) and all(isinstance(n, (int, np.integer)) for n in x):
        return tuple(int(n) for n in x)
    if hasattr(x, "shape"):
        return tuple(x.shape)
    raise TypeError(f"{fn}: {arg} must be the forward input (an array or scalar) or its shape, got {type(x).__name__}")


def _unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sums g (the broadcast shape) down to `shape`; g itself when nothing is summed."""
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    if not axes:
        return g if g.shape == shape else g.reshape(shape)
    out = np.empty(tuple(n for d, n in enumerate(g.shape) if d not in axes), np.float32)
    mask = sum(1 << a for a in axes)
    _C.sum(g, mask, out)
    return out.reshape(shape)


def _grad(fn: str, grad_out: Any, a: Any, b: Any):
    sa, sb = _shape_of(fn, "a", a), _shape_of(fn, "b", b)
    g = cpu_f32(fn, "grad_out", grad_out)
    try:
        shape = np.broadcast_shapes(sa, sb)
    except ValueError:
        raise ValueError(f"{fn}: shapes {sa} and {sb} do not broadcast") from None
    if tuple(g.shape) != shape:
        raise ValueError(f"{fn}: grad_out must have the broadcast shape {shape}, got {tuple(g.shape)}")
    return g, sa, sb, shape


def add_backward(grad_out: Any, a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    """-> (grad_a, grad_b): grad_out summed to a's and b's shapes (a, b: the forward inputs or
    their shapes). An input of the output's shape gets grad_out itself (no copy)."""
    fn = "add_backward"
    if _on_cuda(fn, grad_out=grad_out, a=a, b=b):
        from . import cuda_glue

        return cuda_glue.add_backward(grad_out, _shape_of(fn, "a", a), _shape_of(fn, "b", b))
    g, sa, sb, _ = _grad(fn, grad_out, a, b)
    return _unbroadcast(g, sa), _unbroadcast(g, sb)


def mul_backward(grad_out: Any, a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    """-> (grad_a, grad_b) = (sum-to-a(grad_out * b), sum-to-b(grad_out * a))."""
    fn = "mul_backward"
    if _on_cuda(fn, grad_out=grad_out, a=a, b=b):
        from . import cuda_glue

        return cuda_glue.mul_backward(grad_out, a, b)
    a = _operand(fn, "a", a)
    b = _operand(fn, "b", b)
    g, sa, sb, shape = _grad(fn, grad_out, a, b)
    if sa == shape and sb == shape and all(x.flags.c_contiguous for x in (g, a, b)):
        ga, gb = np.empty(shape, np.float32), np.empty(shape, np.float32)
        _C.mul_backward(g, a, b, ga, gb)  # one pass for both
        return ga, gb
    return _unbroadcast(mul(g, b), sa), _unbroadcast(mul(g, a), sb)


# ---- bias_add -------------------------------------------------------------------------------

def _bias_axis(fn: str, x: np.ndarray, axis: int) -> int:
    return _axes(fn, x.ndim, axis)[0] if x.ndim else _axes(fn, 0, axis)[0]


def bias_add(x: Any, bias: Any, axis: int = -1, out: Any = None) -> np.ndarray:
    """x + bias along ``axis``: bias has shape (x.shape[axis],). axis=-1 is the last-dim bias
    of a linear layer, axis=1 the channel bias of NCHW activations. ``out`` may be x."""
    fn = "bias_add"
    if _on_cuda(fn, x=x, bias=bias, out=out):
        if x.ndim == 0:
            raise ValueError(f"{fn}: x must have at least 1 dimension")
        ax = _bias_axis(fn, x, axis)
        if tuple(bias.shape) != (x.shape[ax],):
            raise ValueError(f"{fn}: bias must have shape ({x.shape[ax]},) (x.shape[{axis}]), got {tuple(bias.shape)}")
        return _binary("add", x, bias.reshape((x.shape[ax],) + (1,) * (x.ndim - ax - 1)), out)
    x = cpu_f32(fn, "x", x)
    bias = cpu_f32(fn, "bias", bias)
    if x.ndim == 0:
        raise ValueError(f"{fn}: x must have at least 1 dimension")
    ax = _bias_axis(fn, x, axis)
    if bias.shape != (x.shape[ax],):
        raise ValueError(f"{fn}: bias must have shape ({x.shape[ax]},) (x.shape[{axis}]), got {tuple(bias.shape)}")
    b = bias.reshape((x.shape[ax],) + (1,) * (x.ndim - ax - 1))
    return _binary("add", x, b, out)


def bias_add_backward(grad_out: Any, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """-> (grad_x, grad_bias): grad_x is grad_out itself (no copy), grad_bias its sum over every
    axis but ``axis``."""
    fn = "bias_add_backward"
    if _on_cuda(fn, grad_out=grad_out):
        from . import cuda_glue

        if grad_out.ndim == 0:
            raise ValueError(f"{fn}: grad_out must have at least 1 dimension")
        ax = _bias_axis(fn, grad_out, axis)
        return grad_out, cuda_glue.reduce("sum", grad_out, tuple(d for d in range(grad_out.ndim) if d != ax), False,
                                          mean=False)
    g = cpu_f32(fn, "grad_out", grad_out)
    if g.ndim == 0:
        raise ValueError(f"{fn}: grad_out must have at least 1 dimension")
    ax = _bias_axis(fn, g, axis)
    out = np.empty(g.shape[ax], np.float32)
    _C.sum(g, sum(1 << d for d in range(g.ndim) if d != ax), out)
    return g, out
