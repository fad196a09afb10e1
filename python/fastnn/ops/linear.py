"""Fully connected layer, PyTorch layout, with bias and activation fused into the GEMM epilogue."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from .._ext import _C
from . import cuda_gemm
from .._validate import FLOAT32, check_dtype, check_min_ndim, check_ndim, check_out, may_overlap

ACTIVATIONS = ("relu", "gelu", "gelu_tanh", "sigmoid", "tanh", "silu")
_NAMES = {None: "none", "identity": "none", **{a: a for a in ACTIVATIONS}}
_F32 = np.dtype(np.float32)


def _activation_name(fn: str, activation: Any) -> str:
    if activation is None or activation == "identity":
        return "none"
    if isinstance(activation, str) and activation in ACTIVATIONS:
        return activation
    choices = ", ".join(repr(a) for a in ACTIVATIONS)
    raise ValueError(f"{fn}: activation must be None or one of {choices}, got {activation!r}")


def _rows_view(x: np.ndarray, n: int) -> np.ndarray | None:
    """x (..., n) as an (M, n) view without copying, or None if its leading dimensions cannot merge."""
    if x.ndim == 2:
        return x
    if x.ndim == 1:
        return x[None, :]
    try:
        return np.reshape(x, (-1, n), copy=False)
    except TypeError:  # NumPy < 2.1 has no copy=; setting .shape on a view never copies
        v = x.view()
        try:
            v.shape = (-1, n)
        except AttributeError:
            return None
        return v
    except ValueError:
        return None


def _rows(x: np.ndarray, n: int) -> np.ndarray:
    """x (..., n) as (M, n): a view when the layout allows, else a copy (inputs only)."""
    v = _rows_view(x, n)
    return v if v is not None else np.reshape(x, (-1, n))


def _check_inputs(fn: str, x: Any, weight: Any, bias: Any):
    """CPU arrays: validated x, weight, bias and (out_features, in_features)."""
    x = backend.as_array(x, fn, "x")
    weight = backend.as_array(weight, fn, "weight")
    check_dtype(fn, "x", x)
    check_dtype(fn, "weight", weight)
    check_min_ndim(fn, "x", x, 1)
    check_ndim(fn, "weight", weight, 2)
    out_f, in_f = weight.shape
    if x.shape[-1] != in_f:
        raise ValueError(f"{fn}: x has {x.shape[-1]} features in its last dimension (shape {tuple(x.shape)}) but "
                         f"weight (out_features, in_features) is {tuple(weight.shape)}")
    if bias is not None:
        bias = backend.as_array(bias, fn, "bias")
        check_dtype(fn, "bias", bias)
        check_ndim(fn, "bias", bias, 1)
        if bias.shape[0] != out_f:
            raise ValueError(f"{fn}: bias must have shape ({out_f},) (out_features), got {tuple(bias.shape)}")
    return x, weight, bias, out_f, in_f


def linear(x: Any, weight: Any, bias: Any = None, activation: str | None = None, out: Any = None, *,
           allow_tf32: bool = False, dtype: str | None = None, kernel: str = "auto") -> Any:
    """``act(x @ weight.T + bias)``, float32, as ``torch.nn.functional.linear`` plus a fused activation.

    x: (..., in_features)   weight: (out_features, in_features)   bias: (out_features,) or None
    activation: None, 'relu', 'gelu', 'gelu_tanh', 'sigmoid', 'tanh' or 'silu'
    → (..., out_features)

    Bias and activation are applied inside the GEMM while each output tile is in registers (no
    extra pass over the output). Any strides are read in place (weight is never transposed in
    memory); x's leading dimensions are flattened as a view when they can be. ``out`` is written
    in place (through a temporary only if it overlaps an input or its leading dimensions cannot
    be flattened without a copy).

    CUDA arrays go to :func:`fastnn.ops.cuda_gemm.linear` (float16 / bfloat16 too; ``allow_tf32``,
    ``dtype`` and ``kernel`` are described there and ignored on CPU).
    """
    # Fast path (call overhead matters for small layers): 2-D float32 NumPy x and weight, bias
    # None or 1-D float32, no out. C++ validates again either way.
    if (out is None and type(x) is np.ndarray and type(weight) is np.ndarray and x.ndim == 2 and weight.ndim == 2
            and x.dtype == _F32 and weight.dtype == _F32 and x.shape[1] == weight.shape[1]
            and (bias is None or (type(bias) is np.ndarray and bias.ndim == 1 and bias.dtype == _F32
                                  and bias.shape[0] == weight.shape[0]))
            and isinstance(activation, (str, type(None))) and activation in _NAMES):
        y = np.empty((x.shape[0], weight.shape[0]), _F32)
        _C.linear(x, weight, bias, _NAMES[activation], y)
        return y
    fn = "linear"
    if backend.common_device(fn, x=x, weight=weight, bias=bias, out=out) == "cuda":
        return cuda_gemm.linear(x, weight, bias, activation, out, allow_tf32=allow_tf32, dtype=dtype, kernel=kernel)
    x, weight, bias, out_f, in_f = _check_inputs(fn, x, weight, bias)
    act = _activation_name(fn, activation)
    shape = (*x.shape[:-1], out_f)
    target = None
    if out is not None:
        out = backend.as_array(out, fn, "out")
        check_out(fn, out, shape, FLOAT32, "cpu")
        if not may_overlap(out, x, weight, bias):
            target = _rows_view(out, out_f)
    result = np.empty(shape, np.float32) if target is None else out
    t2 = target if target is not None else _rows_view(result, out_f)
    _C.linear(_rows(x, in_f), weight, bias, act, t2)
    if out is not None and target is None:
        out[...] = result
        return out
    return result


def linear_backward(grad_out: Any, x: Any, weight: Any, bias: Any = None, activation: str | None = None, *,
                    allow_tf32: bool = False, dtype: str | None = None, kernel: str = "auto") -> tuple[Any, Any, Any]:
    """Gradients of :func:`linear` → ``(grad_x, grad_weight, grad_bias)``.

    grad_out: (..., out_features); the other arguments are those given to the forward call.
    grad_x: (..., in_features), grad_weight: (out_features, in_features), grad_bias:
    (out_features,) or None when bias is None.

    The pre-activation ``x @ weight.T + bias`` is recomputed rather than saved: the forward pass
    fuses the activation and never materialises it, and the recompute runs as one GEMM whose
    epilogue turns each tile directly into ``grad_out * act'(pre)``, so the pre-activation is
    never stored here either (one extra GEMM of the forward's size; none without activation).
    ``grad_weight = g.T @ x`` and ``grad_x = g @ weight`` read their operands through strides;
    nothing is transposed in memory.

    CUDA arrays go to :func:`fastnn.ops.cuda_gemm.linear_backward`.
    """
    fn = "linear_backward"
    if backend.common_device(fn, grad_out=grad_out, x=x, weight=weight, bias=bias) == "cuda":
        return cuda_gemm.linear_backward(grad_out, x, weight, bias, activation, allow_tf32=allow_tf32, dtype=dtype,
                                         kernel=kernel)
    x, weight, bias, out_f, in_f = _check_inputs(fn, x, weight, bias)
    act = _activation_name(fn, activation)
    grad_out = backend.as_array(grad_out, fn, "grad_out")
    check_dtype(fn, "grad_out", grad_out)
    want = (*x.shape[:-1], out_f)
    if tuple(grad_out.shape) != want:
        raise ValueError(f"{fn}: grad_out must have shape {want} (x's leading dimensions, out_features), "
                         f"got {tuple(grad_out.shape)}")
    grad_x = np.empty(x.shape, np.float32)
    grad_w = np.empty(weight.shape, np.float32)
    grad_b = np.empty((out_f,), np.float32) if bias is not None else None
    _C.linear_backward(_rows(grad_out, out_f), _rows(x, in_f), weight, bias, act, _rows_view(grad_x, in_f),
                       grad_w, grad_b)
    return grad_x, grad_w, grad_b
