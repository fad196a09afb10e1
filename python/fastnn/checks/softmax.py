"""softmax / log_softmax parity cases: forward and backward (from the forward output) along the
last and a middle dimension, against the float64 oracle."""
from __future__ import annotations

from typing import Iterator

from ..ops.softmax import log_softmax, log_softmax_backward, softmax, softmax_backward
from ..reference import softmax as rsm
from ..testing import rand, rng
from . import Case

OPS = {
    "softmax": (softmax, softmax_backward, rsm.softmax, rsm.softmax_backward),
    "log_softmax": (log_softmax, log_softmax_backward, rsm.log_softmax, rsm.log_softmax_backward),
}


def _case(name, shape, dim, backward, seed) -> Case:
    f, b, rf, rb = OPS[name]

    def run():
        g = rng(seed)
        x = rand(shape, gen=g, low=-8, high=8)
        if not backward:
            return f(x, dim), rf(x, dim), shape[dim]
        go = rand(shape, gen=g)
        # 4x the reduction length: the backward starts from the rounded float32 output y
        return b(go, f(x, dim), dim), rb(go, x, dim), 16 * shape[dim]

    return Case(f"{name}_backward" if backward else name, f"{shape} dim={dim}", run)


def cases(device: str, quick: bool) -> Iterator[Case]:
    if device != "cpu":
        return
    shapes = [((7, 13), -1), ((3, 33, 5), 1)] if quick else [
        ((7, 13), -1), ((3, 33, 5), 1), ((64, 1000), -1), ((8, 129, 65), 1), ((2, 32000), -1), ((512, 7), 0)]
    for i, (shape, dim) in enumerate(shapes):
        for name in OPS:
            for backward in (False, True):
                yield _case(name, shape, dim, backward, seed=i)
