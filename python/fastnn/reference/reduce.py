"""Reductions and broadcasting binary ops with their backwards (float64 oracles).

Note: this module defines ``sum``, ``mean`` and ``max``, shadowing the builtins
inside it (it only uses numpy's versions).
"""
import numpy as np

__all__ = [
    "sum", "sum_backward", "mean", "mean_backward", "max", "max_backward",
    "add", "add_backward", "mul", "mul_backward", "unbroadcast",
]


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def _axes(ndim, axis):
    """Normalised sorted tuple of reduced axes (None = all)."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (axis,)
    axes = tuple(sorted(int(a) % ndim for a in axis)) if ndim else ()
    if len(set(axes)) != len(axes):
        raise ValueError("repeated axis")
    return axes


def _expand(grad_out, shape, axes, keepdims):
    """Broadcast a reduced gradient back to ``shape``."""
    g = _f64(grad_out)
    if not keepdims:
        g = np.expand_dims(g, axes) if axes else g
    return np.broadcast_to(g, shape).astype(np.float64)


def sum(x, axis=None, keepdims=False):
    return np.sum(_f64(x), axis=_axes(np.ndim(x), axis), keepdims=keepdims)


def sum_backward(grad_out, x, axis=None, keepdims=False):
    x = _f64(x)
    return _expand(grad_out, x.shape, _axes(x.ndim, axis), keepdims)


def mean(x, axis=None, keepdims=False):
    return np.mean(_f64(x), axis=_axes(np.ndim(x), axis), keepdims=keepdims)


def mean_backward(grad_out, x, axis=None, keepdims=False):
    x = _f64(x)
    axes = _axes(x.ndim, axis)
    n = int(np.prod([x.shape[a] for a in axes])) if axes else 1
    return _expand(grad_out, x.shape, axes, keepdims) / n


def _move_reduced_last(x, axes):
    """-> x with the reduced axes moved to the end and flattened into one, kept shape."""
    kept = [a for a in range(x.ndim) if a not in axes]
    xt = np.transpose(x, kept + list(axes))
    kept_shape = tuple(x.shape[a] for a in kept)
    return xt.reshape(kept_shape + (-1,)), kept, kept_shape


def max(x, axis=None, keepdims=False):
    """-> (values, indices).  indices: int64 argmax as a row-major flat index over the
    reduced axes (for a single axis: the position along it, like torch.max(dim)).
    First occurrence wins ties; NaN propagates (its first position is returned)."""
    x = _f64(x)
    axes = _axes(x.ndim, axis)
    flat, kept, kept_shape = _move_reduced_last(x, axes)
    idx = np.argmax(flat, axis=-1)  # numpy argmax returns the first NaN, if any
    vals = np.take_along_axis(flat, idx[..., None], axis=-1)[..., 0]
    if keepdims:
        shape = tuple(1 if a in axes else x.shape[a] for a in range(x.ndim))
        vals, idx = vals.reshape(shape), idx.reshape(shape)
    return vals, idx.astype(np.int64)


def max_backward(grad_out, x, axis=None, keepdims=False):
    """All of grad_out goes to the argmax element (torch.max(dim) semantics; note
    torch.amax instead splits it evenly between ties)."""
    x = _f64(x)
    axes = _axes(x.ndim, axis)
    _, idx = max(x, axis=axes, keepdims=False)
    flat, kept, kept_shape = _move_reduced_last(x, axes)
    g = _f64(grad_out)
    if keepdims:
        g = g.reshape(kept_shape)
    gflat = np.zeros_like(flat)
    np.put_along_axis(gflat, idx[..., None], np.asarray(g, dtype=np.float64)[..., None], axis=-1)
    red_shape = tuple(x.shape[a] for a in axes)
    gt = gflat.reshape(kept_shape + red_shape)
    return np.transpose(gt, np.argsort(kept + list(axes)))


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape`` (the inverse of NumPy broadcasting)."""
    g = _f64(grad)
    shape = tuple(shape)
    lead = g.ndim - len(shape)
    if lead < 0:
        raise ValueError(f"cannot unbroadcast {g.shape} to {shape}")
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    ones = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if ones:
        g = g.sum(axis=ones, keepdims=True)
    return g.reshape(shape)


def add(a, b):
    return _f64(a) + _f64(b)


def add_backward(grad_out, a, b):
    g = _f64(grad_out)
    return unbroadcast(g, np.shape(a)), unbroadcast(g, np.shape(b))


def mul(a, b):
    return _f64(a) * _f64(b)


def mul_backward(grad_out, a, b):
    g, a, b = _f64(grad_out), _f64(a), _f64(b)
    return unbroadcast(g * b, a.shape), unbroadcast(g * a, b.shape)
