"""Fully connected layer with fused bias + activation epilogue (float64 oracle)."""
import numpy as np

from .activation import get_activation

__all__ = ["linear", "linear_backward"]


def _f64(x):
    return None if x is None else np.asarray(x, dtype=np.float64)


def _pre_activation(x, weight, bias):
    z = x @ weight.T  # (..., in) @ (in, out) -> (..., out)
    if bias is not None:
        z = z + bias
    return z


def linear(x, weight, bias=None, activation=None):
    """y = act(x @ weight.T + bias).

    x: (..., in), weight: (out, in), bias: (out,) or None -> y: (..., out).
    activation: None | 'relu' | 'gelu' | 'gelu_tanh' | 'sigmoid' | 'tanh' | 'silu'
    (any key of activation.ACTIVATIONS), applied after the bias.
    """
    x, weight, bias = _f64(x), _f64(weight), _f64(bias)
    fwd, _ = get_activation(activation)
    return fwd(_pre_activation(x, weight, bias))


def linear_backward(grad_out, x, weight, bias=None, activation=None):
    """-> (grad_x (..., in), grad_weight (out, in), grad_bias (out,) or None).

    The pre-activation is recomputed from the inputs.
    """
    x, weight, bias = _f64(x), _f64(weight), _f64(bias)
    _, bwd = get_activation(activation)
    gz = bwd(_f64(grad_out), _pre_activation(x, weight, bias))
    out_f, in_f = weight.shape
    gz2 = gz.reshape(-1, out_f)
    x2 = x.reshape(-1, in_f)
    grad_x = gz @ weight
    grad_w = gz2.T @ x2
    grad_b = gz2.sum(axis=0) if bias is not None else None
    return grad_x, grad_w, grad_b
