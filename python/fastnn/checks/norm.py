"""Parity cases for layer_norm, rms_norm and batch_norm (forward and every gradient)."""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from ..ops import norm as ops
from ..reference import norm as rn
from ..testing import rand, rng
from . import Case


def _cases(op: str, shape_label: str, names: list[str],
           compute: Callable[[], list[tuple[np.ndarray, np.ndarray, int]]]) -> Iterator[Case]:
    """One Case per output of `compute` (op + names[i]); compute runs once, on first use, on the
    ISA path active then (the check runner activates one path per pass)."""
    memo: dict[str, list] = {}

    def get(i):
        if "r" not in memo:
            memo["r"] = compute()
        return memo["r"][i]

    for i, name in enumerate(names):
        yield Case(f"{op}{name}", shape_label, lambda i=i: get(i))


def _row_norm(shape, seed) -> Iterator[Case]:
    n = shape[-1]

    def ln():
        g = rng(seed)
        x, go, w, b = rand(shape, gen=g), rand(shape, gen=g), rand(n, gen=g), rand(n, gen=g)
        y, mean, rstd = ops.layer_norm(x, n, w, b, return_stats=True)
        gx, gw, gb = ops.layer_norm_backward(go, x, n, w, b, mean=mean, rstd=rstd)
        rx, rw, rb = rn.layer_norm_backward(go, x, n, w, b)
        rows = x.size // n
        return [(y, rn.layer_norm(x, n, w, b), n), (gx, rx, n), (gw, rw, rows), (gb, rb, rows)]

    yield from _cases("layer_norm", str(shape), ["", "_backward.grad_x", "_backward.grad_weight",
                                                 "_backward.grad_bias"], ln)

    def rms():
        g = rng(seed + 1)
        x, go, w = rand(shape, gen=g), rand(shape, gen=g), rand(n, gen=g)
        eps = float(np.finfo(np.float32).eps)
        y = ops.rms_norm(x, n, w)
        gx, gw = ops.rms_norm_backward(go, x, n, w)
        rx, rw = rn.rms_norm_backward(go, x, n, w, eps)
        return [(y, rn.rms_norm(x, n, w, eps), n), (gx, rx, n), (gw, rw, x.size // n)]

    yield from _cases("rms_norm", str(shape), ["", "_backward.grad_x", "_backward.grad_weight"], rms)


def _batch_norm(shape, training, seed) -> Iterator[Case]:
    c = shape[1]

    def bn():
        g = rng(seed)
        x, go = 2 * rand(shape, gen=g) + 1, rand(shape, gen=g)
        w, b = rand(c, gen=g), rand(c, gen=g)
        rm, rv = rand(c, gen=g), rand(c, gen=g, low=0.5, high=2.0)
        rm1, rv1 = rm.copy(), rv.copy()
        y, mean, rstd = ops.batch_norm(x, rm1, rv1, w, b, training=training, return_stats=True)
        yr, nrm, nrv = rn.batch_norm(x, rm, rv, w, b, training=training)
        gx, gw, gb = ops.batch_norm_backward(go, x, w, b, rm, rv, training, mean=mean, rstd=rstd)
        rx, rw, rb = rn.batch_norm_backward(go, x, w, b, rm, rv, training)
        k = x.size // c
        return [(y, yr, k), (rm1, nrm, k), (rv1, nrv, k), (gx, rx, k), (gw, rw, k),
                (gb, rb, k)]

    names = ["", ".running_mean", ".running_var", "_backward.grad_x", "_backward.grad_weight", "_backward.grad_bias"]
    yield from _cases("batch_norm", f"{shape} {'train' if training else 'eval'}", names, bn)


def cases(device: str, quick: bool) -> Iterator[Case]:
    if device != "cpu":
        return
    rows = [(7, 13), (33, 129)] if quick else [(7, 13), (33, 129), (4096, 1024), (2, 3, 4097), (1000, 1)]
    for i, shape in enumerate(rows):
        yield from _row_norm(shape, seed=10 + i)
    bns = [(13, 7), (4, 3, 9, 9)] if quick else [(13, 7), (4, 3, 9, 9), (8, 16, 56, 56), (1024, 256), (2, 3, 20000)]
    for i, shape in enumerate(bns):
        for training in (True, False):
            yield from _batch_norm(shape, training, seed=20 + i)
