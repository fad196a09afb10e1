"""Differentiable data movement: views, copies, selection, joining. No arithmetic happens here
except the scatter-add of repeated advanced indices (kernels.index_add) and the sums that undo
broadcasting (kernels.unbroadcast)."""
from __future__ import annotations

from typing import Any

from . import kernels as K
from .function import Function


def _xp(a: Any):
    return K._xp(a)


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


class Permute(Function):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.inverse = tuple(sorted(range(len(dims)), key=lambda i: dims[i]))
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(ctx.inverse)


class Expand(Function):
    """Broadcast to a larger shape (a read-only view); the backward sums back."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return _xp(x).broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return K.unbroadcast(g, ctx.shape)


class Contiguous(Function):
    @staticmethod
    def forward(ctx, x):
        return _xp(x).ascontiguousarray(x) if x.ndim else x.copy()

    @staticmethod
    def backward(ctx, g):
        return g


class Clone(Function):
    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        return g


def _is_basic(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice)) for i in items)


class GetItem(Function):
    @staticmethod
    def forward(ctx, x, index):
        ctx.shape, ctx.dtype, ctx.index = x.shape, x.dtype, index
        return x[index]

    @staticmethod
    def backward(ctx, g):
        if _is_basic(ctx.index):
            gx = _xp(g).zeros(ctx.shape, dtype=g.dtype)
            gx[ctx.index] = g
            return gx
        return K.index_add(ctx.shape, ctx.index, g)


class MaskedFill(Function):
    """where(mask, value, x); mask broadcasts to x."""

    @staticmethod
    def forward(ctx, x, mask, value):
        ctx.mask = mask
        return _xp(x).where(mask, _xp(x).asarray(value, dtype=x.dtype), x)

    @staticmethod
    def backward(ctx, g):
        return _xp(g).where(ctx.mask, _xp(g).zeros((), dtype=g.dtype), g), None


class Split(Function):
    """x cut along ``axis`` at ``bounds`` (cumulative offsets) into views; one output each."""

    @staticmethod
    def forward(ctx, x, bounds, axis):
        ctx.shape, ctx.axis, ctx.bounds = x.shape, axis, bounds
        pieces, start = [], 0
        for end in bounds:
            idx = [slice(None)] * x.ndim
            idx[axis] = slice(start, end)
            pieces.append(x[tuple(idx)])
            start = end
        return tuple(pieces)

    @staticmethod
    def backward(ctx, *grads):
        ref = next(g for g in grads if g is not None)
        xp = _xp(ref)
        parts, start = [], 0
        for end, g in zip(ctx.bounds, grads):
            if g is None:
                shape = list(ctx.shape)
                shape[ctx.axis] = end - start
                g = xp.zeros(shape, dtype=ref.dtype)
            parts.append(g)
            start = end
        return xp.concatenate(parts, axis=ctx.axis)


class Cat(Function):
    """Concatenate any number of arrays (positional) along ``axis``."""

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        ctx.sizes = [a.shape[axis] for a in arrays]
        return _xp(arrays[0]).concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        out, start = [], 0
        for n, need in zip(ctx.sizes, ctx.needs_input_grad):
            idx = [slice(None)] * g.ndim
            idx[ctx.axis] = slice(start, start + n)
            out.append(g[tuple(idx)] if need else None)
            start += n
        return tuple(out)


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        return _xp(arrays[0]).stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        xp = _xp(g)
        return tuple(xp.take(g, i, axis=ctx.axis) if need else None
                     for i, need in enumerate(ctx.needs_input_grad))


class ToDtype(Function):
    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.dtype)
