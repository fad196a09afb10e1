"""Loss parity cases: cross_entropy (rows, spatial columns, weights, smoothing, ignore_index),
binary cross entropy (+ with logits, pos_weight) and mse, forward and backward, against the
float64 oracles."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from ..ops import loss as L
from ..reference import loss as rloss
from ..testing import rand, rng
from . import Case


def _ce_case(shape, reduction, smoothing, weighted, backward, seed) -> Case:
    def run():
        g = rng(seed)
        C = shape[1]
        x = (g.standard_normal(shape) * 3).astype(np.float32)
        t = g.integers(0, C, size=(shape[0],) + shape[2:])
        t.flat[::5] = -100
        w = g.uniform(0.2, 2.0, C).astype(np.float32) if weighted else None
        kw = dict(weight=w, reduction=reduction, label_smoothing=smoothing)
        want = rloss.cross_entropy(x, t, **kw)
        if not backward:
            return L.cross_entropy(x, t, **kw), want, C * t.size
        go = rand(np.shape(want), gen=g) if reduction == "none" else np.float32(1.5)
        return L.cross_entropy_backward(go, x, t, **kw), rloss.cross_entropy_backward(go, x, t, **kw), C

    tag = f"{shape} {reduction} eps={smoothing}{' w' if weighted else ''}"
    return Case("cross_entropy_backward" if backward else "cross_entropy", tag, run)


def _pointwise_case(op, shape, reduction, backward, seed) -> Case:
    def run():
        g = rng(seed)
        t = g.uniform(0, 1, shape).astype(np.float32)
        if op == "binary_cross_entropy":
            x = g.uniform(0.001, 0.999, shape).astype(np.float32)
            w = g.uniform(0.5, 2, shape[-1:]).astype(np.float32)
            args, rargs = (x, t, w), (x, t, np.broadcast_to(w, shape))
            kw, rkw = {"reduction": reduction}, {"reduction": reduction}
        elif op == "binary_cross_entropy_with_logits":
            x = rand(shape, gen=g, low=-10, high=10)
            pw = g.uniform(0.5, 3, shape[-1:]).astype(np.float32)
            args, rargs = (x, t), (x, t)
            kw, rkw = {"reduction": reduction, "pos_weight": pw}, {"reduction": reduction,
                                                                   "pos_weight": np.broadcast_to(pw, shape)}
        else:
            x = rand(shape, gen=g, low=-3, high=3)
            args, rargs, kw, rkw = (x, t), (x, t), {"reduction": reduction}, {"reduction": reduction}
        f, rf = getattr(L, op), getattr(rloss, op)
        want = rf(*rargs, **rkw)
        if not backward:
            return f(*args, **kw), want, x.size
        go = rand(np.shape(want), gen=g) if reduction == "none" else np.float32(0.75)
        b, rb = getattr(L, op + "_backward"), getattr(rloss, op + "_backward")
        return b(go, *args, **kw), rb(go, *rargs, **rkw), 1

    return Case(op + ("_backward" if backward else ""), f"{shape} {reduction}", run)


def cases(device: str, quick: bool) -> Iterator[Case]:
    if device != "cpu":
        return
    ce_shapes = [(7, 5), (2, 13, 9)] if quick else [(7, 5), (2, 13, 9), (256, 1000), (8, 32000), (4, 21, 16, 16)]
    seed = 0
    for shape in ce_shapes:
        for reduction in ("mean", "sum", "none"):
            for backward in (False, True):
                seed += 1
                yield _ce_case(shape, reduction, 0.1 if seed % 2 else 0.0, bool(seed % 3), backward, seed)
    shapes = [(7, 3)] if quick else [(7, 3), (129, 33), (1 << 20,)]
    for op in ("binary_cross_entropy", "binary_cross_entropy_with_logits", "mse_loss"):
        for shape in shapes:
            for reduction in ("mean", "sum", "none"):
                for backward in (False, True):
                    seed += 1
                    yield _pointwise_case(op, shape, reduction, backward, seed)
