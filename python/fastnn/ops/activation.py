"""Elementwise activations and their backwards (``torch.nn.functional`` names), float32 on CPU;
CUDA arrays (float32 / float16 / bfloat16) go to :mod:`fastnn.ops.cuda_glue`.

Forward ops take any strides (transposed, sliced, negative, broadcast views) and return a new
C-contiguous array, or write into ``out=`` (which may be ``x`` itself). Backwards are
``<op>_backward(grad_out, x, ...)`` from the forward *input* ``x`` and return ``grad_x`` (the only
differentiable input, so a single array rather than a 1-tuple). ``sigmoid_backward`` and
``tanh_backward`` also take the forward *output* instead (``y=``, keyword only; exactly one of ``x``
and ``y``), as PyTorch's do: a caller that kept the output skips recomputing the exp, which makes
those backwards memory-bound.

The vector paths (AVX2 / AVX-512) use fastnn's own exp/log/tanh/erf polynomials, within a few ulp
of the correctly rounded value (tests/test_vector_math.py); the generic path uses libm.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from .._ext import _C
from .._validate import check_finite_scalar
from ._pointwise import cpu_float32, finish, output, same_shape


def _params(fn: str, negative_slope: Any = 0.01, beta: Any = 1.0, threshold: Any = 20.0) -> dict[str, float]:
    p = {"negative_slope": check_finite_scalar(fn, "negative_slope", negative_slope),
         "beta": check_finite_scalar(fn, "beta", beta)}
    try:
        p["threshold"] = float(threshold)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: threshold must be a real number, got {type(threshold).__name__}") from None
    if np.isnan(p["threshold"]):
        raise ValueError(f"{fn}: threshold must not be NaN")
    if p["beta"] == 0.0:
        raise ValueError(f"{fn}: beta must be nonzero")
    return p


def _forward(fn: str, kind: str, x: Any, out: Any, **params: Any) -> np.ndarray:
    p = _params(fn, **params)
    if backend.common_device(fn, x=x, out=out) == "cuda":
        from . import cuda_glue

        return cuda_glue.activation(fn, kind, x, out, **p)
    x = cpu_float32(fn, x=x)["x"]
    target, copy_to = output(fn, out, x.shape, x)
    if x.size:
        _C.activation(kind, x, target, **p)
    return finish(target, copy_to)


def _backward(fn: str, kind: str, grad_out: Any, x: Any, out: Any, **params: Any) -> np.ndarray:
    p = _params(fn, **params)
    if backend.common_device(fn, grad_out=grad_out, x=x, out=out) == "cuda":
        from . import cuda_glue

        return cuda_glue.activation_backward(fn, kind, grad_out, x, out, **p)
    arrs = cpu_float32(fn, grad_out=grad_out, x=x)
    g, x = arrs["grad_out"], arrs["x"]
    same_shape(fn, "x", x, grad_out=g)
    target, copy_to = output(fn, out, x.shape, g, x)
    if x.size:
        _C.activation_backward(kind, g, x, target, **p)
    return finish(target, copy_to)


def _backward_from_output(fn: str, kind: str, grad_out: Any, x: Any, y: Any, out: Any) -> np.ndarray:
    """x / y: exactly one given; y routes to the kernel that works from the forward output."""
    if (x is None) == (y is None):
        raise TypeError(f"{fn}: pass exactly one of x (the forward input) and y= (the forward output), "
                        f"got {'both' if x is not None else 'neither'}")
    if x is not None:
        return _backward(fn, kind, grad_out, x, out)
    if backend.common_device(fn, grad_out=grad_out, y=y, out=out) == "cuda":
        raise NotImplementedError(f"{fn}: y= (backward from the forward output) has no CUDA kernel yet; pass x")
    arrs = cpu_float32(fn, grad_out=grad_out, y=y)
    g, y = arrs["grad_out"], arrs["y"]
    same_shape(fn, "y", y, grad_out=g)
    target, copy_to = output(fn, out, y.shape, g, y)
    if y.size:
        _C.activation_backward_from_output(kind, g, y, target)
    return finish(target, copy_to)


def _gelu_kind(fn: str, approximate: Any) -> str:
    if approximate == "none":
        return "gelu"
    if approximate == "tanh":
        return "gelu_tanh"
    raise ValueError(f"{fn}: approximate must be 'none' or 'tanh', got {approximate!r}")


# ---- forward --------------------------------------------------------------------------------

def relu(x: Any, *, out: Any = None) -> np.ndarray:
    """max(x, 0); NaN stays NaN."""
    return _forward("relu", "relu", x, out)


def leaky_relu(x: Any, negative_slope: float = 0.01, *, out: Any = None) -> np.ndarray:
    """x if x > 0 else negative_slope * x."""
    return _forward("leaky_relu", "leaky_relu", x, out, negative_slope=negative_slope)


def gelu(x: Any, approximate: str = "none", *, out: Any = None) -> np.ndarray:
    """x * Phi(x) (approximate='none', erf form) or 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    (approximate='tanh'; evaluated as x * sigmoid(2u), which is the same function without the
    cancellation of 1 + tanh for x << 0)."""
    return _forward("gelu", _gelu_kind("gelu", approximate), x, out)


def silu(x: Any, *, out: Any = None) -> np.ndarray:
    """x * sigmoid(x)."""
    return _forward("silu", "silu", x, out)


def sigmoid(x: Any, *, out: Any = None) -> np.ndarray:
    """1 / (1 + exp(-x)), accurate on both tails."""
    return _forward("sigmoid", "sigmoid", x, out)


def tanh(x: Any, *, out: Any = None) -> np.ndarray:
    return _forward("tanh", "tanh", x, out)


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0, *, out: Any = None) -> np.ndarray:
    """log(1 + exp(beta x)) / beta, or x where beta x > threshold (PyTorch)."""
    return _forward("softplus", "softplus", x, out, beta=beta, threshold=threshold)


# ---- backward (from the forward input x) ------------------------------------------------------

def relu_backward(grad_out: Any, x: Any, *, out: Any = None) -> np.ndarray:
    """grad_out where x > 0, else 0 (0 at x == 0 and for NaN x, as the reference)."""
    return _backward("relu_backward", "relu", grad_out, x, out)


def leaky_relu_backward(grad_out: Any, x: Any, negative_slope: float = 0.01, *, out: Any = None) -> np.ndarray:
    """grad_out where x > 0, else negative_slope * grad_out (the slope at x == 0, as PyTorch)."""
    return _backward("leaky_relu_backward", "leaky_relu", grad_out, x, out, negative_slope=negative_slope)


def gelu_backward(grad_out: Any, x: Any, approximate: str = "none", *, out: Any = None) -> np.ndarray:
    return _backward("gelu_backward", _gelu_kind("gelu_backward", approximate), grad_out, x, out)


def silu_backward(grad_out: Any, x: Any, *, out: Any = None) -> np.ndarray:
    return _backward("silu_backward", "silu", grad_out, x, out)


def sigmoid_backward(grad_out: Any, x: Any = None, *, y: Any = None, out: Any = None) -> np.ndarray:
    """grad_out * s(1 - s), s = sigmoid(x); from the forward input x (s recomputed, accurate on both
    tails) or, with y=, from the forward output y = sigmoid(x) (grad_out * y * (1 - y), as PyTorch;
    no exp: memory-bound). Exactly one of x and y. y= is CPU-only so far."""
    return _backward_from_output("sigmoid_backward", "sigmoid", grad_out, x, y, out)


def tanh_backward(grad_out: Any, x: Any = None, *, y: Any = None, out: Any = None) -> np.ndarray:
    """grad_out * (1 - tanh(x)^2); from the forward input x (as 4e/(1 + e)^2, e = exp(-2|x|), no
    cancellation) or, with y=, from the forward output y = tanh(x) (grad_out * (1 - y^2), as
    PyTorch; memory-bound). Exactly one of x and y. y= is CPU-only so far."""
    return _backward_from_output("tanh_backward", "tanh", grad_out, x, y, out)


def softplus_backward(grad_out: Any, x: Any, beta: float = 1.0, threshold: float = 20.0, *,
                      out: Any = None) -> np.ndarray:
    return _backward("softplus_backward", "softplus", grad_out, x, out, beta=beta, threshold=threshold)
