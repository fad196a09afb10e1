"""Losses (``torch.nn.functional`` names): cross_entropy fused with log-softmax, binary cross
entropy (on probabilities and on logits), mean squared error; float32 on CPU.

Reductions: 'mean' | 'sum' return a 0-d float32 array (accumulated in float64, in an order that
does not depend on the thread count); 'none' returns the per-element loss. Backwards are
``<loss>_backward(grad_out, input, target, ...)`` and return the gradient w.r.t. ``input`` (the
only differentiable argument); ``grad_out`` is a scalar for 'mean' / 'sum' and an array of the
loss's shape for 'none'.

PyTorch's semantics, as the float64 oracles in ``fastnn.reference.loss`` document them:
- cross_entropy 'mean' divides by the weighted count of non-ignored targets, sum_i w[t_i], for
  both the NLL and the label-smoothing term; a batch whose targets are all ``ignore_index`` gives
  NaN (0/0) and a NaN gradient. Ignored positions get loss 0 and gradient 0 without their logits
  being read (so a NaN there does not leak, unlike the oracle's 0·NaN). Targets outside
  [0, C) that are not ``ignore_index`` raise ValueError naming the first one.
- binary_cross_entropy clamps each log at -100, and its backward divides by
  max(p (1 - p), 1e-12); inputs outside [0, 1] raise ValueError (NaN propagates).
- binary_cross_entropy_with_logits: ``pos_weight`` broadcasts against the input (typically (C,)
  over the last dimension); loss = w ((1 - t) x + (1 + (pw - 1) t) log(1 + exp(-x))).
- ``weight`` (BCE) broadcasts against the input; ``target`` must have the input's shape (mse_loss
  too: no silent broadcasting).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from .._ext import _C
from ._pointwise import cpu_float32, finish, output

_REDUCTIONS = ("mean", "sum", "none")


def _reduction(fn: str, reduction: Any) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


def _scalar(value: float) -> np.ndarray:
    return np.asarray(value, dtype=np.float32)


def _grad_scalar(fn: str, grad_out: Any) -> float:
    try:
        g = np.asarray(grad_out)
    except Exception:  # noqa: BLE001
        raise TypeError(f"{fn}: grad_out must be a number or a 0-d array for a reduced loss") from None
    if g.size != 1 or g.ndim > 1 or g.dtype.kind not in "fiu":
        raise ValueError(f"{fn}: grad_out of a reduced loss must be a scalar, got shape {g.shape} ({g.dtype})")
    return float(g.reshape(()))


def _grad_array(fn: str, grad_out: Any, shape: tuple[int, ...]) -> np.ndarray:
    g = cpu_float32(fn, grad_out=grad_out)["grad_out"]
    if g.shape != tuple(shape):
        raise ValueError(f"{fn}: grad_out must have the loss's shape {tuple(shape)} for reduction='none', got {g.shape}")
    return g


def _broadcast(fn: str, name: str, a: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    if a is None:
        return None
    try:
        return np.broadcast_to(a, shape)
    except ValueError:
        raise ValueError(f"{fn}: {name} of shape {a.shape} does not broadcast to the input's shape {shape}") from None


def _target_like(fn: str, x: np.ndarray, t: np.ndarray) -> None:
    if t.shape != x.shape:
        raise ValueError(f"{fn}: target must have the input's shape {x.shape}, got {t.shape}")


# ---- cross entropy ----------------------------------------------------------------------------

def _ce_inputs(fn: str, logits: Any, target: Any, weight: Any, ignore_index: Any, label_smoothing: Any):
    arrs = cpu_float32(fn, logits=logits, weight=weight)
    backend.common_device(fn, logits=logits, target=target)
    x = arrs["logits"]
    w = arrs.get("weight")
    t = backend.as_array(target, fn, "target")
    if t.dtype.kind not in "iu":
        raise TypeError(f"{fn}: target must hold integer class indices (int64 or int32), got {t.dtype}"
                        " (class-probability targets are not supported)")
    if t.dtype not in (np.int64, np.int32):
        t = t.astype(np.int64)
    if x.ndim == 0:
        raise ValueError(f"{fn}: logits must have shape (C,), (N, C) or (N, C, d1, ...), got ()")
    unbatched = x.ndim == 1
    if unbatched:
        if t.ndim != 0:
            raise ValueError(f"{fn}: unbatched logits (C,) need a 0-d target, got shape {t.shape}")
        x, t = x[None], t.reshape(1)
    want = (x.shape[0],) + x.shape[2:]
    if t.shape != want:
        raise ValueError(f"{fn}: target must have shape {want} for logits {x.shape}, got {t.shape}")
    C = x.shape[1]
    if w is not None and w.shape != (C,):
        raise ValueError(f"{fn}: weight must have shape ({C},), one per class, got {w.shape}")
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"{fn}: ignore_index must be an int, got {type(ignore_index).__name__}")
    try:
        eps = float(label_smoothing)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: label_smoothing must be a real number, got {type(label_smoothing).__name__}") from None
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"{fn}: label_smoothing must be in [0, 1], got {label_smoothing}")
    return x, t, w, int(ignore_index), eps, unbatched


def cross_entropy(input: Any, target: Any, weight: Any = None, *, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> np.ndarray:
    """Cross entropy between logits and integer class targets, fused with log-softmax.

    input (N, C) or (N, C, d1, ...) (or (C,) with a 0-d target), any strides; target (N, d1, ...)
    int64/int32; weight (C,) per-class weights. Returns a 0-d array ('mean'/'sum') or (N, d1, ...).
    """
    fn = "cross_entropy"
    reduction = _reduction(fn, reduction)
    if backend.common_device(fn, input=input, target=target, weight=weight) == "cuda":
        from . import cuda_glue

        return cuda_glue.cross_entropy(input, target, weight, ignore_index=ignore_index, reduction=reduction,
                                       label_smoothing=label_smoothing)
    x, t, w, ignore_index, eps, unbatched = _ce_inputs(fn, input, target, weight, ignore_index, label_smoothing)
    out = np.empty(t.shape, np.float32) if reduction == "none" else None
    value = _C.cross_entropy(x, t, w, ignore_index, eps, reduction, out)
    if reduction != "none":
        return _scalar(value)
    return out.reshape(()) if unbatched else out


def cross_entropy_backward(grad_out: Any, input: Any, target: Any, weight: Any = None, *, ignore_index: int = -100,
                           reduction: str = "mean", label_smoothing: float = 0.0, out: Any = None) -> np.ndarray:
    """Gradient of cross_entropy w.r.t. the logits (input's shape; C-contiguous unless out= is given)."""
    fn = "cross_entropy_backward"
    reduction = _reduction(fn, reduction)
    if backend.common_device(fn, input=input, target=target, weight=weight, out=out) == "cuda":
        from . import cuda_glue

        return cuda_glue.cross_entropy_backward(grad_out, input, target, weight, ignore_index=ignore_index,
                                                reduction=reduction, label_smoothing=label_smoothing, out=out)
    x0 = input
    x, t, w, ignore_index, eps, unbatched = _ce_inputs(fn, input, target, weight, ignore_index, label_smoothing)
    target_arr, copy_to = output(fn, out, np.shape(x0), x, in_place=False)  # reads x[t] after the row
    dx = target_arr[None] if unbatched else target_arr
    if reduction == "none":
        g = _grad_array(fn, grad_out, () if unbatched else t.shape).reshape(t.shape)
        _C.cross_entropy_backward(g, 1.0, x, t, w, ignore_index, eps, reduction, dx)
    else:
        _C.cross_entropy_backward(None, _grad_scalar(fn, grad_out), x, t, w, ignore_index, eps, reduction, dx)
    return finish(target_arr, copy_to)


# ---- binary cross entropy ------------------------------------------------------------------------

def _bce_inputs(fn: str, x: Any, t: Any, weight: Any, pos_weight: Any = None):
    arrs = cpu_float32(fn, input=x, target=t, weight=weight, pos_weight=pos_weight)
    x, t = arrs["input"], arrs["target"]
    _target_like(fn, x, t)
    w = _broadcast(fn, "weight", arrs.get("weight"), x.shape)
    pw = _broadcast(fn, "pos_weight", arrs.get("pos_weight"), x.shape)
    return x, t, w, pw


def binary_cross_entropy(input: Any, target: Any, weight: Any = None, *, reduction: str = "mean") -> np.ndarray:
    """-w (t log p + (1 - t) log(1 - p)) with each log clamped at -100; input p in [0, 1]."""
    fn = "binary_cross_entropy"
    reduction = _reduction(fn, reduction)
    p, t, w, _ = _bce_inputs(fn, input, target, weight)
    out = np.empty(p.shape, np.float32) if reduction == "none" else None
    value = _C.binary_cross_entropy(p, t, w, reduction, out)
    return out if reduction == "none" else _scalar(value)


def binary_cross_entropy_backward(grad_out: Any, input: Any, target: Any, weight: Any = None, *,
                                  reduction: str = "mean", out: Any = None) -> np.ndarray:
    """w (p - t) / max(p (1 - p), 1e-12), times grad_out (÷ numel for 'mean')."""
    fn = "binary_cross_entropy_backward"
    reduction = _reduction(fn, reduction)
    p, t, w, _ = _bce_inputs(fn, input, target, weight)
    g = _grad_array(fn, grad_out, p.shape) if reduction == "none" else None
    dx, copy_to = output(fn, out, p.shape, p, t, w, g)
    if g is not None:
        _C.binary_cross_entropy_backward(g, 1.0, p, t, w, reduction, dx)
    else:
        _C.binary_cross_entropy_backward(None, _grad_scalar(fn, grad_out), p, t, w, reduction, dx)
    return finish(dx, copy_to)


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None, *, reduction: str = "mean",
                                     pos_weight: Any = None) -> np.ndarray:
    """w ((1 - t) x + (1 + (pos_weight - 1) t) log(1 + exp(-x))), stable for any x."""
    fn = "binary_cross_entropy_with_logits"
    reduction = _reduction(fn, reduction)
    x, t, w, pw = _bce_inputs(fn, input, target, weight, pos_weight)
    out = np.empty(x.shape, np.float32) if reduction == "none" else None
    value = _C.binary_cross_entropy_with_logits(x, t, w, pw, reduction, out)
    return out if reduction == "none" else _scalar(value)


def binary_cross_entropy_with_logits_backward(grad_out: Any, input: Any, target: Any, weight: Any = None, *,
                                              reduction: str = "mean", pos_weight: Any = None,
                                              out: Any = None) -> np.ndarray:
    """w ((1 - t) - (1 + (pos_weight - 1) t) sigmoid(-x)), times grad_out (÷ numel for 'mean')."""
    fn = "binary_cross_entropy_with_logits_backward"
    reduction = _reduction(fn, reduction)
    x, t, w, pw = _bce_inputs(fn, input, target, weight, pos_weight)
    g = _grad_array(fn, grad_out, x.shape) if reduction == "none" else None
    dx, copy_to = output(fn, out, x.shape, x, t, w, pw, g)
    if g is not None:
        _C.binary_cross_entropy_with_logits_backward(g, 1.0, x, t, w, pw, reduction, dx)
    else:
        _C.binary_cross_entropy_with_logits_backward(None, _grad_scalar(fn, grad_out), x, t, w, pw, reduction, dx)
    return finish(dx, copy_to)


# ---- mean squared error ---------------------------------------------------------------------------

def mse_loss(input: Any, target: Any, *, reduction: str = "mean") -> np.ndarray:
    """(input - target)^2, reduced."""
    fn = "mse_loss"
    reduction = _reduction(fn, reduction)
    arrs = cpu_float32(fn, input=input, target=target)
    x, t = arrs["input"], arrs["target"]
    _target_like(fn, x, t)
    out = np.empty(x.shape, np.float32) if reduction == "none" else None
    value = _C.mse_loss(x, t, reduction, out)
    return out if reduction == "none" else _scalar(value)


def mse_loss_backward(grad_out: Any, input: Any, target: Any, *, reduction: str = "mean",
                      out: Any = None) -> np.ndarray:
    """2 (input - target) times grad_out (÷ numel for 'mean')."""
    fn = "mse_loss_backward"
    reduction = _reduction(fn, reduction)
    arrs = cpu_float32(fn, input=input, target=target)
    x, t = arrs["input"], arrs["target"]
    _target_like(fn, x, t)
    g = _grad_array(fn, grad_out, x.shape) if reduction == "none" else None
    dx, copy_to = output(fn, out, x.shape, x, t, g)
    if g is not None:
        _C.mse_loss_backward(g, 1.0, x, t, reduction, dx)
    else:
        _C.mse_loss_backward(None, _grad_scalar(fn, grad_out), x, t, reduction, dx)
    return finish(dx, copy_to)


__all__ = [
    "cross_entropy", "cross_entropy_backward", "binary_cross_entropy", "binary_cross_entropy_backward",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_backward", "mse_loss",
    "mse_loss_backward",
]
