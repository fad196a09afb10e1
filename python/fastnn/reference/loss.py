"""Loss functions and their gradients w.r.t. the first input (float64 oracles).

reduction: 'mean' | 'sum' | 'none'.  For 'mean'/'sum' the backward's grad_out is a
scalar; for 'none' it has the shape of the unreduced loss.
"""
import numpy as np

from .activation import sigmoid
from .softmax import log_softmax

__all__ = [
    "cross_entropy", "cross_entropy_backward",
    "binary_cross_entropy", "binary_cross_entropy_backward",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_backward",
    "mse_loss", "mse_loss_backward",
]


def _f64(x):
    return None if x is None else np.asarray(x, dtype=np.float64)


def _check_reduction(reduction):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss, reduction):
    _check_reduction(reduction)
    if reduction == "mean":
        return np.mean(loss)
    if reduction == "sum":
        return np.sum(loss)
    return loss


def _reduce_backward(grad_out, shape, reduction):
    """Gradient of reduce(loss) w.r.t. the unreduced loss of ``shape``."""
    _check_reduction(reduction)
    g = _f64(grad_out)
    if reduction == "none":
        return np.broadcast_to(g, shape).astype(np.float64)
    n = int(np.prod(shape))
    return np.full(shape, float(g) / n if reduction == "mean" else float(g))


# ---------------------------------------------------------------------------
# cross entropy
# ---------------------------------------------------------------------------
def _ce_prepare(logits, target, weight, ignore_index):
    """Class axis moved last: logits (N, C) / (N, C, d1..) / (C,) -> (M..., C)."""
    logits = _f64(logits)
    target = np.asarray(target)
    if not np.issubdtype(target.dtype, np.integer):
        raise TypeError("cross_entropy reference takes integer class targets")
    unbatched = logits.ndim == 1
    if unbatched:  # (C,) with a scalar target
        logits, target = logits[None], target.reshape(1)
    C = logits.shape[1]
    if target.shape != logits.shape[:1] + logits.shape[2:]:
        raise ValueError(f"target shape {target.shape} does not match logits {logits.shape}")
    w = np.ones(C) if weight is None else _f64(weight)
    valid = target != ignore_index
    t = np.where(valid, target, 0)
    if np.any((t < 0) | (t >= C)):
        raise IndexError("target out of range")
    lp = np.moveaxis(log_softmax(logits, axis=1), 1, -1)  # (N, d..., C)
    w_t = w[t] * valid  # per-element weight, 0 for ignored
    return logits, lp, t, valid, w, w_t, C, unbatched


def cross_entropy(logits, target, *, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """PyTorch F.cross_entropy with integer targets.

    logits (N, C) or (N, C, d1, ...) (or (C,) with a 0-d target), target (N, d1, ...)
    integer.  Per element i (class axis c):
        nll_i    = -w[t_i] * logp[i, t_i]
        smooth_i = -sum_c w[c] * logp[i, c]
        loss_i   = valid_i * ((1 - eps) * nll_i + eps / C * smooth_i)
    where valid_i = (t_i != ignore_index).  'mean' divides the total by
    sum_i valid_i * w[t_i] (the weighted count of non-ignored targets) for BOTH
    terms, so all-ignored input gives NaN (0/0), as in PyTorch.
    """
    _check_reduction(reduction)
    _, lp, t, valid, w, w_t, C, unbatched = _ce_prepare(logits, target, weight, ignore_index)
    nll = -np.take_along_axis(lp, t[..., None], axis=-1)[..., 0] * w_t
    loss = (1.0 - label_smoothing) * nll
    if label_smoothing > 0:
        smooth = -np.sum(lp * w, axis=-1) * valid
        loss = loss + (label_smoothing / C) * smooth
    if reduction == "none":
        return loss[0] if unbatched else loss
    if reduction == "sum":
        return np.sum(loss)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(loss) / np.sum(w_t)


def cross_entropy_backward(grad_out, logits, target, *, weight=None, ignore_index=-100,
                           reduction="mean", label_smoothing=0.0):
    """Gradient w.r.t. logits (same shape as logits)."""
    _check_reduction(reduction)
    logits_, lp, t, valid, w, w_t, C, unbatched = _ce_prepare(logits, target, weight, ignore_index)
    g = _f64(grad_out)
    if reduction == "none":
        coef = np.broadcast_to(g.reshape(1) if unbatched else g, t.shape)
    elif reduction == "sum":
        coef = np.full(t.shape, float(g))
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            coef = np.full(t.shape, float(g) / np.sum(w_t))
    # d loss / d logp[i, c]
    onehot = np.zeros_like(lp)
    np.put_along_axis(onehot, t[..., None], 1.0, axis=-1)
    g_lp = -(coef * (1.0 - label_smoothing) * w_t)[..., None] * onehot
    if label_smoothing > 0:
        g_lp = g_lp - (coef * valid * (label_smoothing / C))[..., None] * w
    # back through log_softmax along the (last) class axis
    sm = np.exp(lp)
    g_logits = g_lp - sm * np.sum(g_lp, axis=-1, keepdims=True)
    g_logits = np.moveaxis(g_logits, -1, 1)
    return g_logits[0] if unbatched else g_logits


# ---------------------------------------------------------------------------
# binary cross entropy
# ---------------------------------------------------------------------------
def binary_cross_entropy(p, target, weight=None, reduction="mean"):
    """-w * (t log p + (1 - t) log(1 - p)); each log is clamped to >= -100 as in PyTorch."""
    p, t, w = _f64(p), _f64(target), _f64(weight)
    with np.errstate(divide="ignore"):
        logp = np.maximum(np.log(p), -100.0)
        log1mp = np.maximum(np.log1p(-p), -100.0)
    loss = -(t * logp + (1.0 - t) * log1mp)
    if w is not None:
        loss = loss * w
    return _reduce(loss, reduction)


# PyTorch's BCE-backward clamp is the float32 constant 1e-12f even for float64
# tensors (= 9.99999996e-13); matching it exactly matters for p within 1e-12 of 0/1.
_BCE_EPS = float(np.float32(1e-12))


def binary_cross_entropy_backward(grad_out, p, target, weight=None, reduction="mean"):
    """w * (p - t) / max(p (1 - p), eps), eps = float32(1e-12) (PyTorch's clamp)."""
    p, t, w = _f64(p), _f64(target), _f64(weight)
    shape = np.broadcast_shapes(p.shape, t.shape, () if w is None else w.shape)
    g = _reduce_backward(grad_out, shape, reduction)
    grad = g * (p - t) / np.maximum(p * (1.0 - p), _BCE_EPS)
    if w is not None:
        grad = grad * w
    return grad


def _softplus_neg(x):
    # log(1 + exp(-x)) without overflow
    return np.maximum(-x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def binary_cross_entropy_with_logits(logits, target, weight=None, pos_weight=None,
                                     reduction="mean"):
    """w * ((1 - t) x + (1 + (pw - 1) t) * log(1 + exp(-x))); pos_weight broadcasts
    over the last (class) dimension like PyTorch."""
    x, t, w, pw = _f64(logits), _f64(target), _f64(weight), _f64(pos_weight)
    log_weight = 1.0 if pw is None else 1.0 + (pw - 1.0) * t
    loss = (1.0 - t) * x + log_weight * _softplus_neg(x)
    if w is not None:
        loss = loss * w
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits_backward(grad_out, logits, target, weight=None,
                                              pos_weight=None, reduction="mean"):
    """w * ((1 - t) - lw * sigmoid(-x)),  lw = 1 + (pw - 1) t  (= sigmoid(x) - t without pw)."""
    x, t, w, pw = _f64(logits), _f64(target), _f64(weight), _f64(pos_weight)
    shape = np.broadcast_shapes(x.shape, t.shape, () if w is None else w.shape,
                                () if pw is None else pw.shape)
    g = _reduce_backward(grad_out, shape, reduction)
    log_weight = 1.0 if pw is None else 1.0 + (pw - 1.0) * t
    grad = (1.0 - t) - log_weight * sigmoid(-x)
    if w is not None:
        grad = grad * w
    return g * grad


# ---------------------------------------------------------------------------
def mse_loss(x, target, reduction="mean"):
    x, t = _f64(x), _f64(target)
    return _reduce((x - t) ** 2, reduction)


def mse_loss_backward(grad_out, x, target, reduction="mean"):
    x, t = _f64(x), _f64(target)
    d = x - t
    return _reduce_backward(grad_out, d.shape, reduction) * 2.0 * d
