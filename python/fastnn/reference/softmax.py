"""Softmax / log-softmax along one axis (float64 oracle, max-subtracted)."""
import numpy as np

__all__ = ["softmax", "softmax_backward", "log_softmax", "log_softmax_backward"]


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def softmax(x, axis=-1):
    """exp(x - max) / sum(exp(x - max)) along ``axis``; same shape as x.

    A slice that is entirely -inf gives NaN, as in PyTorch.
    """
    x = _f64(x)
    m = np.max(x, axis=axis, keepdims=True)
    with np.errstate(invalid="ignore"):  # all -inf slice: -inf - -inf -> NaN, silently
        e = np.exp(x - m)
        return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    """x - max - log(sum(exp(x - max))) along ``axis``."""
    x = _f64(x)
    m = np.max(x, axis=axis, keepdims=True)
    with np.errstate(invalid="ignore"):
        shifted = x - m
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax_backward(grad_out, x, axis=-1):
    """grad_x = y * (g - sum(g * y)), y = softmax(x)."""
    g = _f64(grad_out)
    y = softmax(x, axis)
    return y * (g - np.sum(g * y, axis=axis, keepdims=True))


def log_softmax_backward(grad_out, x, axis=-1):
    """grad_x = g - softmax(x) * sum(g)."""
    g = _f64(grad_out)
    return g - softmax(x, axis) * np.sum(g, axis=axis, keepdims=True)
