"""Normalization layers on CPU float32 arrays (CUDA arrays, float32 / float16 / bfloat16 with
float32 statistics: :mod:`fastnn.ops.cuda_glue`): layer_norm, rms_norm, batch_norm and their
backwards (``torch.nn.functional`` names, arguments and semantics).

Saved statistics: the forwards take ``return_stats=True`` and then also return the per-row
(layer/rms) or per-channel (batch) statistics they normalised with; passing them back to the
backward (``mean=``, ``rstd=``) skips recomputing them from ``x``. Without them the backward
recomputes exactly the same values, so both ways give the same gradients.

Inputs of any layout are accepted; non-contiguous ones are copied to contiguous first.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .. import backend
from .._ext import _C
from .._validate import check_finite_scalar, check_min_ndim
from ._cpu_args import as_rows, cpu_f32, finish_out, nonneg_eps, optional_f32, out_target, same_shape

__all__ = [
    "layer_norm", "layer_norm_backward", "rms_norm", "rms_norm_backward", "batch_norm", "batch_norm_backward",
]


def _normalized(fn: str, x: np.ndarray, normalized_shape: Any) -> tuple[tuple[int, ...], int, int]:
    """-> (normalized_shape tuple, rows, n) for x (..., *normalized_shape)."""
    if isinstance(normalized_shape, (int, np.integer)) and not isinstance(normalized_shape, bool):
        shape = (int(normalized_shape),)
    else:
        try:
            shape = tuple(int(s) for s in normalized_shape)
        except TypeError:
            raise TypeError(f"{fn}: normalized_shape must be an int or a sequence of ints, "
                            f"got {type(normalized_shape).__name__}") from None
    k = len(shape)
    if k == 0 or k > x.ndim or tuple(x.shape[x.ndim - k:]) != shape:
        raise ValueError(f"{fn}: normalized_shape {shape} must equal the trailing dimensions of x, "
                         f"got x of shape {tuple(x.shape)}")
    n = math.prod(shape)
    return shape, math.prod(x.shape[:x.ndim - k]), n


def _stats(fn: str, arg: str, v: Any, lead: tuple[int, ...]) -> np.ndarray | None:
    if v is None:
        return None
    v = optional_f32(fn, arg, v, lead)
    return v.reshape(-1)


# ---- layer_norm -----------------------------------------------------------------------------

def layer_norm(x: Any, normalized_shape: int | Sequence[int], weight: Any = None, bias: Any = None,
               eps: float = 1e-5, *, return_stats: bool = False, out: Any = None) -> Any:
    """(x - mean) / sqrt(var + eps) * weight + bias over the trailing ``normalized_shape`` dims
    (biased variance, computed in two passes over each row).

    x: (..., *normalized_shape); weight, bias: normalized_shape or None.
    -> y (x.shape), or with return_stats (y, mean, rstd), mean and rstd of shape x.shape[:-k]
    (rstd = 1 / sqrt(var + eps)) for :func:`layer_norm_backward`.
    out: optional float32 array of x's shape to write y into (may be x itself: in place).
    """
    fn = "layer_norm"
    if backend.common_device(fn, x=x, weight=weight, bias=bias, out=out) == "cuda":
        from . import cuda_glue

        return cuda_glue.row_norm(fn, False, x, normalized_shape, weight, bias, eps, return_stats=return_stats,
                                  out=out, dtype=None)
    x = cpu_f32(fn, "x", x)
    shape, rows, n = _normalized(fn, x, normalized_shape)
    w = optional_f32(fn, "weight", weight, shape)
    b = optional_f32(fn, "bias", bias, shape)
    eps = nonneg_eps(fn, eps)
    lead = x.shape[:x.ndim - len(shape)]
    xr = as_rows(x, rows, n)
    y = out_target(fn, out, x.shape, (xr, w, b))
    mean = np.empty(lead, np.float32) if return_stats else None
    rstd = np.empty(lead, np.float32) if return_stats else None
    _C.layer_norm(xr, None if w is None else w.reshape(-1), None if b is None else b.reshape(-1),
                  eps, y.reshape(rows, n), None if mean is None else mean.reshape(-1),
                  None if rstd is None else rstd.reshape(-1))
    y = finish_out(out, y)
    return (y, mean, rstd) if return_stats else y


def layer_norm_backward(grad_out: Any, x: Any, normalized_shape: int | Sequence[int], weight: Any = None,
                        bias: Any = None, eps: float = 1e-5, *, mean: Any = None, rstd: Any = None) -> tuple:
    """-> (grad_x, grad_weight or None, grad_bias or None); grad_weight only when weight is
    given, grad_bias only when bias is. mean, rstd: the statistics from
    ``layer_norm(..., return_stats=True)`` (both or neither; recomputed from x when absent)."""
    fn = "layer_norm_backward"
    if backend.common_device(fn, grad_out=grad_out, x=x, weight=weight, bias=bias, mean=mean, rstd=rstd) == "cuda":
        from . import cuda_glue

        return cuda_glue.row_norm_backward(fn, False, grad_out, x, normalized_shape, weight, bias, eps, mean=mean,
                                           rstd=rstd, dtype=None)
    x = cpu_f32(fn, "x", x)
    g = cpu_f32(fn, "grad_out", grad_out)
    same_shape(fn, "grad_out", g, x.shape)
    shape, rows, n = _normalized(fn, x, normalized_shape)
    w = optional_f32(fn, "weight", weight, shape)
    if bias is not None:
        optional_f32(fn, "bias", bias, shape)
    eps = nonneg_eps(fn, eps)
    if (mean is None) != (rstd is None):
        raise ValueError(f"{fn}: pass both mean and rstd (from layer_norm(..., return_stats=True)) or neither")
    lead = x.shape[:x.ndim - len(shape)]
    m = _stats(fn, "mean", mean, lead)
    r = _stats(fn, "rstd", rstd, lead)
    dx = np.empty(x.shape, np.float32)
    dw = np.empty(shape, np.float32) if weight is not None else None
    db = np.empty(shape, np.float32) if bias is not None else None
    _C.layer_norm_backward(as_rows(g, rows, n), as_rows(x, rows, n), None if w is None else w.reshape(-1), m, r, eps,
                           dx.reshape(rows, n), None if dw is None else dw.reshape(-1),
                           None if db is None else db.reshape(-1))
    return dx, dw, db


# ---- rms_norm -------------------------------------------------------------------------------

def _rms_eps(fn: str, eps: Any) -> float:
    # PyTorch: eps=None means the machine epsilon of the input dtype (float32 here).
    return float(np.finfo(np.float32).eps) if eps is None else nonneg_eps(fn, eps)


def rms_norm(x: Any, normalized_shape: int | Sequence[int], weight: Any = None, eps: float | None = None, *,
             return_stats: bool = False, out: Any = None) -> Any:
    """x / sqrt(mean(x^2) + eps) * weight over the trailing ``normalized_shape`` dims.
    eps=None is float32's machine epsilon (1.19e-7), as ``torch.nn.functional.rms_norm``.
    -> y, or with return_stats (y, rstd), rstd = 1 / sqrt(mean(x^2) + eps) of shape x.shape[:-k].
    out: optional float32 array of x's shape to write y into (may be x itself)."""
    fn = "rms_norm"
    if backend.common_device(fn, x=x, weight=weight, out=out) == "cuda":
        from . import cuda_glue

        return cuda_glue.row_norm(fn, True, x, normalized_shape, weight, None, eps, return_stats=return_stats,
                                  out=out, dtype=None)
    x = cpu_f32(fn, "x", x)
    shape, rows, n = _normalized(fn, x, normalized_shape)
    w = optional_f32(fn, "weight", weight, shape)
    eps = _rms_eps(fn, eps)
    lead = x.shape[:x.ndim - len(shape)]
    xr = as_rows(x, rows, n)
    y = out_target(fn, out, x.shape, (xr, w))
    rstd = np.empty(lead, np.float32) if return_stats else None
    _C.rms_norm(xr, None if w is None else w.reshape(-1), eps, y.reshape(rows, n),
                None if rstd is None else rstd.reshape(-1))
    y = finish_out(out, y)
    return (y, rstd) if return_stats else y


def rms_norm_backward(grad_out: Any, x: Any, normalized_shape: int | Sequence[int], weight: Any = None,
                      eps: float | None = None, *, rstd: Any = None) -> tuple:
    """-> (grad_x, grad_weight or None). rstd: from ``rms_norm(..., return_stats=True)``
    (recomputed from x when absent)."""
    fn = "rms_norm_backward"
    if backend.common_device(fn, grad_out=grad_out, x=x, weight=weight, rstd=rstd) == "cuda":
        from . import cuda_glue

        return cuda_glue.row_norm_backward(fn, True, grad_out, x, normalized_shape, weight, None, eps, mean=None,
                                           rstd=rstd, dtype=None)
    x = cpu_f32(fn, "x", x)
    g = cpu_f32(fn, "grad_out", grad_out)
    same_shape(fn, "grad_out", g, x.shape)
    shape, rows, n = _normalized(fn, x, normalized_shape)
    w = optional_f32(fn, "weight", weight, shape)
    eps = _rms_eps(fn, eps)
    r = _stats(fn, "rstd", rstd, x.shape[:x.ndim - len(shape)])
    dx = np.empty(x.shape, np.float32)
    dw = np.empty(shape, np.float32) if weight is not None else None
    _C.rms_norm_backward(as_rows(g, rows, n), as_rows(x, rows, n), None if w is None else w.reshape(-1), r, eps,
                         dx.reshape(rows, n), None if dw is None else dw.reshape(-1))
    return dx, dw


# ---- batch_norm -----------------------------------------------------------------------------

def _as_ncs(x: np.ndarray) -> np.ndarray:
    n, c = x.shape[0], x.shape[1]
    return np.ascontiguousarray(x).reshape(n, c, math.prod(x.shape[2:]))


def _running(fn: str, arg: str, v: Any, c: int, training: bool) -> np.ndarray | None:
    if v is None:
        return None
    v = cpu_f32(fn, arg, v)
    same_shape(fn, arg, v, (c,))
    if not v.flags.c_contiguous:
        raise ValueError(f"{fn}: {arg} must be contiguous (it is updated in place)")
    if training and not v.flags.writeable:
        raise ValueError(f"{fn}: {arg} is read-only but training=True updates it in place")
    return v


def batch_norm(x: Any, running_mean: Any, running_var: Any, weight: Any = None, bias: Any = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5, *,
               return_stats: bool = False, out: Any = None) -> Any:
    """Batch normalization over (N, C) or (N, C, *) per channel C, as ``torch.nn.functional.batch_norm``.

    training=True: normalise with the batch mean and biased variance; running_mean/running_var
    (if given) are updated in place: r = (1 - momentum) r + momentum * stat, with the unbiased
    variance. training=False: normalise with the running statistics (both required).
    -> y, or with return_stats (y, mean, rstd), the (C,) statistics used (rstd = 1/sqrt(var + eps)).
    out: optional float32 array of x's shape to write y into (may be x itself).
    """
    fn = "batch_norm"
    if backend.common_device(fn, x=x, running_mean=running_mean, running_var=running_var, weight=weight, bias=bias,
                             out=out) == "cuda":
        from . import cuda_glue

        return cuda_glue.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps,
                                    return_stats=return_stats, out=out)
    x = cpu_f32(fn, "x", x)
    check_min_ndim(fn, "x", x, 2)
    c = x.shape[1]
    training = bool(training)
    rm = _running(fn, "running_mean", running_mean, c, training)
    rv = _running(fn, "running_var", running_var, c, training)
    w = optional_f32(fn, "weight", weight, (c,))
    b = optional_f32(fn, "bias", bias, (c,))
    momentum = check_finite_scalar(fn, "momentum", momentum)
    eps = nonneg_eps(fn, eps)
    if not training and (rm is None or rv is None):
        raise ValueError(f"{fn}: running_mean and running_var are required when training=False")
    x3 = _as_ncs(x)
    y = out_target(fn, out, x.shape, (x3, rm, rv, w, b))
    mean = np.empty(c, np.float32) if return_stats else None
    rstd = np.empty(c, np.float32) if return_stats else None
    _C.batch_norm(x3, rm, rv, w, b, training, momentum, eps, _as_ncs(y), mean, rstd)
    y = finish_out(out, y)
    return (y, mean, rstd) if return_stats else y


def batch_norm_backward(grad_out: Any, x: Any, weight: Any, bias: Any, running_mean: Any, running_var: Any,
                        training: bool, eps: float = 1e-5, *, mean: Any = None, rstd: Any = None) -> tuple:
    """-> (grad_x, grad_weight or None, grad_bias or None).

    training: the batch statistics depend on x (full formula); mean/rstd from
    ``batch_norm(..., training=True, return_stats=True)`` skip recomputing them (note the running
    statistics were already updated by the forward, so they are not used). Eval: the running
    statistics are constants and grad_x = grad_out * weight / sqrt(running_var + eps).
    """
    fn = "batch_norm_backward"
    if backend.common_device(fn, grad_out=grad_out, x=x, weight=weight, bias=bias, running_mean=running_mean,
                             running_var=running_var, mean=mean, rstd=rstd) == "cuda":
        from . import cuda_glue

        return cuda_glue.batch_norm_backward(grad_out, x, weight, bias, running_mean, running_var, training, eps,
                                             mean=mean, rstd=rstd)
    x = cpu_f32(fn, "x", x)
    check_min_ndim(fn, "x", x, 2)
    g = cpu_f32(fn, "grad_out", grad_out)
    same_shape(fn, "grad_out", g, x.shape)
    c = x.shape[1]
    training = bool(training)
    w = optional_f32(fn, "weight", weight, (c,))
    if bias is not None:
        optional_f32(fn, "bias", bias, (c,))
    rm = optional_f32(fn, "running_mean", running_mean, (c,))
    rv = optional_f32(fn, "running_var", running_var, (c,))
    eps = nonneg_eps(fn, eps)
    if (mean is None) != (rstd is None):
        raise ValueError(f"{fn}: pass both mean and rstd (from batch_norm(..., return_stats=True)) or neither")
    m = optional_f32(fn, "mean", mean, (c,))
    r = optional_f32(fn, "rstd", rstd, (c,))
    if not training and m is None and (rm is None or rv is None):
        raise ValueError(f"{fn}: running_mean and running_var are required when training=False")
    dx = np.empty(x.shape, np.float32)
    dw = np.empty(c, np.float32) if weight is not None else None
    db = np.empty(c, np.float32) if bias is not None else None
    _C.batch_norm_backward(_as_ncs(g), _as_ncs(x), w, rm, rv, training, eps, m, r, _as_ncs(dx), dw, db)
    return dx, dw, db
