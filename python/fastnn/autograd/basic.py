"""Elementwise arithmetic, matmul and reductions as differentiable Functions (math in kernels)."""
from __future__ import annotations

from typing import Any

from . import kernels as K
from .function import Function


def _is_array(x: Any) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype")


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return K.add(a, b)

    @staticmethod
    def backward(ctx, g):
        if not _is_array(ctx.b):
            return g, None
        ga, gb = K.add_backward(g, ctx.a, ctx.b)
        return ga, gb


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return K.sub(a, b)

    @staticmethod
    def backward(ctx, g):
        if not _is_array(ctx.b):
            return g, None
        ga, gb = K.add_backward(g, ctx.a, ctx.b)
        return ga, (K.neg(gb) if ctx.needs_input_grad[1] else None)


class RSub(Function):
    """scalar - a"""

    @staticmethod
    def forward(ctx, a, s):
        return K.add(K.neg(a), s)

    @staticmethod
    def backward(ctx, g):
        return K.neg(g), None


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return K.mul(a, b)

    @staticmethod
    def backward(ctx, g):
        if not _is_array(ctx.b):
            return K.mul(g, ctx.b), None
        return K.mul_backward(g, ctx.a, ctx.b)


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return K.neg(a)

    @staticmethod
    def backward(ctx, g):
        return K.neg(g)


class Div(Function):
    """a / b; a scalar divisor goes through the mul kernel, a tensor one through K.div (unowned)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        if not _is_array(b):
            return K.mul(a, 1.0 / b)
        ctx.q = K.div(a, b)
        return ctx.q

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.a, ctx.b
        if not _is_array(b):
            return K.mul(g, 1.0 / b), None
        gb_full = K.neg(K.div(K.mul(g, ctx.q), b)) if ctx.needs_input_grad[1] else None
        ga = K.unbroadcast(K.div(g, b), a.shape) if ctx.needs_input_grad[0] else None
        gb = K.unbroadcast(gb_full, b.shape) if gb_full is not None else None
        return ga, gb


class RDiv(Function):
    """scalar / a"""

    @staticmethod
    def forward(ctx, a, s):
        ctx.a = a
        ctx.y = K.div(K.full_like(a, s), a)
        return ctx.y

    @staticmethod
    def backward(ctx, g):
        return K.neg(K.div(K.mul(g, ctx.y), ctx.a)), None


class Pow(Function):
    @staticmethod
    def forward(ctx, a, exponent):
        ctx.a, ctx.e = a, exponent
        return K.pow(a, exponent)

    @staticmethod
    def backward(ctx, g):
        return K.mul(K.mul(g, K.pow(ctx.a, ctx.e - 1)), ctx.e), None


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.y = K.exp(a)
        return ctx.y

    @staticmethod
    def backward(ctx, g):
        return K.mul(g, ctx.y)


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return K.log(a)

    @staticmethod
    def backward(ctx, g):
        return K.div(g, ctx.a)


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.y = K.sqrt(a)
        return ctx.y

    @staticmethod
    def backward(ctx, g):
        return K.mul(K.div(g, ctx.y), 0.5)


class MatMul(Function):
    """NumPy matmul semantics: 1-D operands promoted, batch dimensions broadcast."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return K.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.a, ctx.b
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1 and b.ndim == 1:
            g2 = g.reshape(1, 1)
        elif a.ndim == 1:
            g2 = g[..., None, :]
        elif b.ndim == 1:
            g2 = g[..., None]
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = K.unbroadcast(K.matmul(g2, b2.swapaxes(-1, -2)), a2.shape).reshape(a.shape)
        if ctx.needs_input_grad[1]:
            gb = K.unbroadcast(K.matmul(a2.swapaxes(-1, -2), g2), b2.shape).reshape(b.shape)
        return ga, gb


def _axis(axis):
    if axis is None or isinstance(axis, int):
        return axis
    return tuple(axis)


class Sum(Function):
    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.x, ctx.axis, ctx.keepdims = x, _axis(axis), keepdims
        return K.sum(x, ctx.axis, keepdims)

    @staticmethod
    def backward(ctx, g):
        return K.sum_backward(g, ctx.x, ctx.axis, ctx.keepdims)


class Mean(Function):
    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.x, ctx.axis, ctx.keepdims = x, _axis(axis), keepdims
        return K.mean(x, ctx.axis, keepdims)

    @staticmethod
    def backward(ctx, g):
        return K.mean_backward(g, ctx.x, ctx.axis, ctx.keepdims)


class Max(Function):
    """-> (values, int64 indices); the gradient goes to the first maximum."""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.x, ctx.axis, ctx.keepdims = x, _axis(axis), keepdims
        values, ctx.indices = K.max(x, ctx.axis, keepdims)
        return values, ctx.indices

    @staticmethod
    def backward(ctx, g, g_idx=None):
        return K.max_backward(g, ctx.x, ctx.axis, ctx.keepdims, ctx.indices)
