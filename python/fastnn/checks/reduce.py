"""Parity cases for sum / mean / max over axes (values, indices) and their backwards."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from ..ops import reduce as ops
from ..reference import reduce as rr
from ..testing import rand, rng
from . import Case


def _cases(shape, axis, seed) -> Iterator[Case]:
    axes = range(len(shape)) if axis is None else ([axis] if isinstance(axis, int) else axis)
    k = int(np.prod([shape[a] for a in axes]))
    label = f"{shape} axis={axis}"

    def x():
        return rand(shape, gen=rng(seed))

    def grad(x_):
        return rand(np.shape(rr.sum(x_, axis)), gen=rng(seed + 1))

    yield Case("sum", label, lambda: (ops.sum(x(), axis), rr.sum(x(), axis), k))
    yield Case("mean", label, lambda: (ops.mean(x(), axis), rr.mean(x(), axis), k))
    yield Case("max", label, lambda: (ops.max(x(), axis)[0], rr.max(x(), axis)[0], 1))
    yield Case("max.indices", label, lambda: (ops.max(x(), axis)[1], rr.max(x(), axis)[1], 1))
    yield Case("sum_backward", label, lambda: (ops.sum_backward(grad(x()), x(), axis),
                                               rr.sum_backward(grad(x()), x(), axis), 1))
    yield Case("mean_backward", label, lambda: (ops.mean_backward(grad(x()), x(), axis),
                                                rr.mean_backward(grad(x()), x(), axis), 1))
    yield Case("max_backward", label, lambda: (ops.max_backward(grad(x()), x(), axis),
                                               rr.max_backward(grad(x()), x(), axis), 1))


def cases(device: str, quick: bool) -> Iterator[Case]:
    if device != "cpu":
        return
    plan = [((7, 13), 1), ((33, 129), 0), ((3, 5, 7), (0, 2)), ((1000,), None)]
    if not quick:
        plan += [((4096, 1024), 1), ((4096, 1024), 0), ((16, 64, 56, 56), (0, 2, 3)), ((1 << 24,), None),
                 ((64, 3, 1000), (0, 2))]
    for i, (shape, axis) in enumerate(plan):
        yield from _cases(shape, axis, seed=30 + i)
