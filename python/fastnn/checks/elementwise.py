"""Parity cases for broadcasting add / mul, bias_add and their backwards."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from ..ops import elementwise as ops
from ..reference import reduce as rr
from ..testing import rand, rng
from . import Case


def _pair(sa, sb, seed) -> Iterator[Case]:
    shape = np.broadcast_shapes(sa, sb)
    k = max(1, int(np.prod(shape)))
    label = f"{sa} . {sb}"

    def ins():
        g = rng(seed)
        return np.asarray(rand(sa, gen=g)), np.asarray(rand(sb, gen=g)), np.asarray(rand(shape, gen=g))

    yield Case("add", label, lambda: (ops.add(*ins()[:2]), rr.add(*ins()[:2]), 1))
    yield Case("mul", label, lambda: (ops.mul(*ins()[:2]), rr.mul(*ins()[:2]), 1))
    for i, name in enumerate(("grad_a", "grad_b")):
        yield Case(f"add_backward.{name}", label,
                   lambda i=i: (ops.add_backward(ins()[2], *ins()[:2])[i], rr.add_backward(ins()[2], *ins()[:2])[i], k))
        yield Case(f"mul_backward.{name}", label,
                   lambda i=i: (ops.mul_backward(ins()[2], *ins()[:2])[i], rr.mul_backward(ins()[2], *ins()[:2])[i], k))


def _bias(shape, axis, seed) -> Iterator[Case]:
    c = shape[axis]
    bshape = [1] * len(shape)
    bshape[axis] = c
    label = f"{shape} axis={axis}"

    def ins():
        g = rng(seed)
        return rand(shape, gen=g), rand(c, gen=g)

    yield Case("bias_add", label, lambda: (ops.bias_add(*ins(), axis), rr.add(ins()[0], ins()[1].reshape(bshape)), 1))
    axes = tuple(d for d in range(len(shape)) if d != axis % len(shape))
    yield Case("bias_add_backward.grad_bias", label,
               lambda: (ops.bias_add_backward(ins()[0], axis)[1], rr.sum(ins()[0], axes), int(np.prod(shape)) // c))


def cases(device: str, quick: bool) -> Iterator[Case]:
    if device != "cpu":
        return
    pairs = [((7, 13), (13,)), ((5, 1, 3), (4, 1)), ((33, 129), ())]
    if not quick:
        pairs += [((1 << 24,), (1 << 24,)), ((4096, 4096), (4096,)), ((4096, 4096), (4096, 1)),
                  ((64, 3, 1, 1), (3, 56, 56))]
    for i, (sa, sb) in enumerate(pairs):
        yield from _pair(sa, sb, seed=40 + i)
    biases = [((4, 3, 5, 7), 1), ((33, 129), -1)] + ([] if quick else [((32, 64, 56, 56), 1)])
    for i, (shape, axis) in enumerate(biases):
        yield from _bias(shape, axis, seed=50 + i)
