"""Pointwise activations and their backwards (float64 oracles).

Every forward takes ``x`` of any shape and returns a float64 array of the same
shape; every ``*_backward(grad_out, x, ...)`` returns ``grad_x`` (same shape).
Backwards are written from the forward *input* ``x`` (not the output), which is
what the fused linear/conv kernels keep around; ``sigmoid_backward`` and
``tanh_backward`` also take the forward output instead (``y=``).
"""
import math

import numpy as np

__all__ = [
    "erf", "erfc",
    "relu", "relu_backward",
    "leaky_relu", "leaky_relu_backward",
    "gelu", "gelu_backward",
    "silu", "silu_backward",
    "sigmoid", "sigmoid_backward",
    "tanh", "tanh_backward",
    "softplus", "softplus_backward",
    "ACTIVATIONS", "get_activation",
]


def _f64(x):
    return np.asarray(x, dtype=np.float64)


# ---------------------------------------------------------------------------
# erf / erfc: numpy has no erf and the oracles must not depend on scipy.
# Two textbook expansions, both accurate to ~1e-16 relative in their ranges:
#   |z| < 1   : erf(z) = 2/sqrt(pi) exp(-z^2) sum_n (2 z^2)^n z / (1*3*...*(2n+1))
#               (all terms positive -> no cancellation)
#   |z| >= 1  : Laplace continued fraction for erfc, evaluated bottom-up
#               erfc(z) = exp(-z^2)/sqrt(pi) / (z + (1/2)/(z + 1/(z + (3/2)/(z + ...))))
# ---------------------------------------------------------------------------
_ERF_SWITCH = 1.0


def _erf_series(z):
    z2 = 2.0 * z * z
    term = z.copy()
    total = z.copy()
    for n in range(1, 40):  # z < 1: term n <= 2^n/(2n+1)!!, < 1e-20 by n=30
        term = term * z2 / (2 * n + 1)
        total = total + term
    return 2.0 / math.sqrt(math.pi) * np.exp(-z * z) * total


def _erfc_cfrac(z):
    t = z.copy()
    for n in range(200, 0, -1):  # 200 levels: ~1e-15 relative for z >= 1
        t = z + (0.5 * n) / t
    return np.exp(-z * z) / (math.sqrt(math.pi) * t)


def erfc(x):
    """Complementary error function, elementwise, float64 (accurate in the tails)."""
    x = _f64(x)
    a = np.abs(x)
    small = a < _ERF_SWITCH
    out = np.empty_like(a)
    out[small] = 1.0 - _erf_series(a[small])
    big = ~small & ~np.isnan(a)
    out[big] = _erfc_cfrac(a[big])
    out[np.isnan(a)] = np.nan
    # erfc(-a) = 2 - erfc(a)
    return np.where(x < 0, 2.0 - out, out)


def erf(x):
    """Error function, elementwise, float64."""
    x = _f64(x)
    a = np.abs(x)
    small = a < _ERF_SWITCH
    out = np.empty_like(a)
    out[small] = _erf_series(a[small])
    big = ~small & ~np.isnan(a)
    out[big] = 1.0 - _erfc_cfrac(a[big])
    out[np.isnan(a)] = np.nan
    return np.copysign(out, x)


# ---------------------------------------------------------------------------
def relu(x):
    return np.maximum(_f64(x), 0.0)


def relu_backward(grad_out, x):
    # PyTorch: gradient is 0 at x == 0.
    return _f64(grad_out) * (_f64(x) > 0)


def leaky_relu(x, negative_slope=0.01):
    x = _f64(x)
    return np.where(x > 0, x, x * negative_slope)


def leaky_relu_backward(grad_out, x, negative_slope=0.01):
    # PyTorch: slope (not 1) at x == 0.
    g = _f64(grad_out)
    return np.where(_f64(x) > 0, g, g * negative_slope)


_SQRT1_2 = 1.0 / math.sqrt(2.0)
_GELU_BETA = math.sqrt(2.0 / math.pi)
_GELU_KAPPA = 0.044715


def gelu(x, approximate="none"):
    """gelu(x) = x * Phi(x) (approximate='none') or the tanh approximation."""
    x = _f64(x)
    if approximate == "none":
        # 0.5 x erfc(-x/sqrt2) == 0.5 x (1 + erf(x/sqrt2)) without cancellation for x << 0
        return 0.5 * x * erfc(-x * _SQRT1_2)
    if approximate == "tanh":
        inner = _GELU_BETA * (x + _GELU_KAPPA * x ** 3)
        return 0.5 * x * (1.0 + np.tanh(inner))
    raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")


def gelu_backward(grad_out, x, approximate="none"):
    x = _f64(x)
    g = _f64(grad_out)
    if approximate == "none":
        cdf = 0.5 * erfc(-x * _SQRT1_2)
        pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        return g * (cdf + x * pdf)
    if approximate == "tanh":
        t = np.tanh(_GELU_BETA * (x + _GELU_KAPPA * x ** 3))
        d_inner = _GELU_BETA * (1.0 + 3.0 * _GELU_KAPPA * x * x)
        return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * d_inner)
    raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")


def sigmoid(x):
    # exp(-|x|) never overflows; pick the algebraically equal form per sign.
    x = _f64(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _one_of(fn, x, y):
    if (x is None) == (y is None):
        raise TypeError(f"{fn}: pass exactly one of x and y=")


def sigmoid_backward(grad_out, x=None, *, y=None):
    """From the forward input x, or (y=) from the forward output y = sigmoid(x): g·y(1 - y)."""
    _one_of("sigmoid_backward", x, y)
    s = sigmoid(x) if y is None else _f64(y)
    return _f64(grad_out) * s * (1.0 - s)


def silu(x):
    x = _f64(x)
    return x * sigmoid(x)


def silu_backward(grad_out, x):
    x = _f64(x)
    s = sigmoid(x)
    return _f64(grad_out) * s * (1.0 + x * (1.0 - s))


def tanh(x):
    return np.tanh(_f64(x))


def tanh_backward(grad_out, x=None, *, y=None):
    """From the forward input x, or (y=) from the forward output y = tanh(x): g·(1 - y²)."""
    _one_of("tanh_backward", x, y)
    t = np.tanh(_f64(x)) if y is None else _f64(y)
    return _f64(grad_out) * (1.0 - t * t)


def softplus(x, beta=1.0, threshold=20.0):
    """PyTorch softplus: x where beta*x > threshold, else log(1+exp(beta*x))/beta."""
    x = _f64(x)
    bx = beta * x
    # stable log1p(exp(bx)) = max(bx,0) + log1p(exp(-|bx|))
    soft = (np.maximum(bx, 0.0) + np.log1p(np.exp(-np.abs(bx)))) / beta
    return np.where(bx > threshold, x, soft)


def softplus_backward(grad_out, x, beta=1.0, threshold=20.0):
    x = _f64(x)
    bx = beta * x
    return _f64(grad_out) * np.where(bx > threshold, 1.0, sigmoid(bx))


def _identity(x):
    return _f64(x)


def _identity_backward(grad_out, x):
    return _f64(grad_out)


# name -> (forward(x), backward(grad_out, x)); used by the fused linear / conv epilogues.
ACTIVATIONS = {
    "identity": (_identity, _identity_backward),
    "relu": (relu, relu_backward),
    "leaky_relu": (leaky_relu, leaky_relu_backward),
    "gelu": (gelu, gelu_backward),
    "gelu_tanh": (lambda x: gelu(x, "tanh"), lambda g, x: gelu_backward(g, x, "tanh")),
    "sigmoid": (sigmoid, sigmoid_backward),
    "tanh": (tanh, tanh_backward),
    "silu": (silu, silu_backward),
    "softplus": (softplus, softplus_backward),
}


def get_activation(name):
    """(forward, backward) for an activation name; None means identity."""
    if name is None:
        name = "identity"
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}") from None
