"""Normalization layers (float64 oracles): layer_norm, rms_norm, batch_norm."""
import numpy as np

__all__ = [
    "layer_norm", "layer_norm_backward",
    "rms_norm", "rms_norm_backward",
    "batch_norm", "batch_norm_backward",
]


def _f64(x):
    return None if x is None else np.asarray(x, dtype=np.float64)


def _norm_axes(x, normalized_shape):
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if k == 0 or tuple(x.shape[x.ndim - k:]) != normalized_shape:
        raise ValueError(f"normalized_shape {normalized_shape} does not match input {x.shape}")
    return tuple(range(x.ndim - k, x.ndim)), tuple(range(x.ndim - k))


# ---------------------------------------------------------------------------
def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias over the trailing
    ``normalized_shape`` dims; var is the biased (1/n) variance."""
    x, weight, bias = _f64(x), _f64(weight), _f64(bias)
    axes, _ = _norm_axes(x, normalized_shape)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def layer_norm_backward(grad_out, x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """-> (grad_x, grad_weight or None, grad_bias or None)."""
    x, weight, bias, g = _f64(x), _f64(weight), _f64(bias), _f64(grad_out)
    axes, lead = _norm_axes(x, normalized_shape)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean) * rstd
    gxhat = g * weight if weight is not None else g
    # d/dx of normalisation: rstd * (gxhat - mean(gxhat) - xhat * mean(gxhat * xhat))
    grad_x = rstd * (gxhat - gxhat.mean(axis=axes, keepdims=True)
                     - xhat * (gxhat * xhat).mean(axis=axes, keepdims=True))
    grad_w = (g * xhat).sum(axis=lead) if weight is not None else None
    grad_b = g.sum(axis=lead) if bias is not None else None
    return grad_x, grad_w, grad_b


# ---------------------------------------------------------------------------
def _rms_eps(x, eps):
    # PyTorch F.rms_norm: eps=None means torch.finfo(input.dtype).eps of the
    # *input* dtype (1.19e-7 for float32, 2.2e-16 for float64, 9.8e-4 for float16).
    if eps is not None:
        return float(eps)
    dt = np.asarray(x).dtype
    return float(np.finfo(dt if np.issubdtype(dt, np.floating) else np.float64).eps)


def rms_norm(x, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) * weight over the trailing ``normalized_shape`` dims.

    eps=None follows PyTorch: machine epsilon of the input's dtype (see _rms_eps);
    pass eps explicitly (e.g. 1e-6) to pin it.
    """
    eps = _rms_eps(x, eps)
    x, weight = _f64(x), _f64(weight)
    axes, _ = _norm_axes(x, normalized_shape)
    y = x / np.sqrt((x * x).mean(axis=axes, keepdims=True) + eps)
    return y * weight if weight is not None else y


def rms_norm_backward(grad_out, x, normalized_shape, weight=None, eps=None):
    """-> (grad_x, grad_weight or None)."""
    eps = _rms_eps(x, eps)
    x, weight, g = _f64(x), _f64(weight), _f64(grad_out)
    axes, lead = _norm_axes(x, normalized_shape)
    r = 1.0 / np.sqrt((x * x).mean(axis=axes, keepdims=True) + eps)
    gw = g * weight if weight is not None else g
    # d/dx (x r): r * (gw - x r^2 mean(gw x))
    grad_x = r * (gw - x * r * r * (gw * x).mean(axis=axes, keepdims=True))
    grad_w = (g * x * r).sum(axis=lead) if weight is not None else None
    return grad_x, grad_w


# ---------------------------------------------------------------------------
def _bn_shape(x):
    if x.ndim < 2:
        raise ValueError("batch_norm expects (N, C) or (N, C, *) input")
    axes = (0,) + tuple(range(2, x.ndim))
    bshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)  # per-channel broadcast
    n = x.size // x.shape[1]
    return axes, bshape, n


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """PyTorch F.batch_norm for (N, C) / (N, C, *) input, per channel C.

    training=True: normalise with the batch mean and *biased* variance; the running
    stats (if given) are updated with the *unbiased* variance:
        new_mean = (1 - momentum) * running_mean + momentum * mean
        new_var  = (1 - momentum) * running_var  + momentum * var * n / (n - 1)
    -> (y, new_running_mean, new_running_var) (None where no running stat was given).
    training=False: normalise with the running stats -> (y, running_mean, running_var).
    Inputs are never mutated.
    """
    x, weight, bias = _f64(x), _f64(weight), _f64(bias)
    rm, rv = _f64(running_mean), _f64(running_var)
    axes, bshape, n = _bn_shape(x)
    if training:
        if n <= 1:
            raise ValueError("Expected more than 1 value per channel when training")
        mean = x.mean(axis=axes)
        var = ((x - mean.reshape(bshape)) ** 2).mean(axis=axes)
        new_rm = None if rm is None else (1.0 - momentum) * rm + momentum * mean
        new_rv = None if rv is None else (1.0 - momentum) * rv + momentum * var * n / (n - 1)
    else:
        if rm is None or rv is None:
            raise ValueError("running_mean and running_var are required when training=False")
        mean, var, new_rm, new_rv = rm, rv, rm, rv
    y = (x - mean.reshape(bshape)) / np.sqrt(var.reshape(bshape) + eps)
    if weight is not None:
        y = y * weight.reshape(bshape)
    if bias is not None:
        y = y + bias.reshape(bshape)
    return y, new_rm, new_rv


def batch_norm_backward(grad_out, x, weight, bias, running_mean, running_var, training,
                        eps=1e-5):
    """-> (grad_x, grad_weight or None, grad_bias or None).

    training: batch statistics depend on x (full formula); eval: the running stats
    are constants, so grad_x = grad_out * weight / sqrt(running_var + eps).
    """
    x, weight, bias, g = _f64(x), _f64(weight), _f64(bias), _f64(grad_out)
    axes, bshape, n = _bn_shape(x)
    if training:
        mean = x.mean(axis=axes, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    else:
        mean = _f64(running_mean).reshape(bshape)
        var = _f64(running_var).reshape(bshape)
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean) * rstd
    gxhat = g * weight.reshape(bshape) if weight is not None else g
    if training:
        grad_x = rstd * (gxhat - gxhat.mean(axis=axes, keepdims=True)
                         - xhat * (gxhat * xhat).mean(axis=axes, keepdims=True))
    else:
        grad_x = gxhat * rstd
    grad_w = (g * xhat).sum(axis=axes) if weight is not None else None
    grad_b = g.sum(axis=axes) if bias is not None else None
    return grad_x, grad_w, grad_b
