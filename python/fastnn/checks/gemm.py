"""matmul and linear parity cases: odd sizes, every transpose, batched broadcast, 1-D operands;
linear forward and gradients for every fused activation."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from .. import reference as ref
from ..ops.gemm import matmul
from ..testing import rand, rng
from . import Case


def _case(shape_a, shape_b, device, ta=False, tb=False, seed=0) -> Case:
    def run():
        g = rng(seed)
        a = rand(shape_a[::-1] if ta else shape_a, gen=g)
        b = rand(shape_b[::-1] if tb else shape_b, gen=g)
        a = a.T if ta else a
        b = b.T if tb else b
        desired = ref.gemm.matmul(a, b)
        if device == "cuda":
            import cupy

            out = matmul(cupy.asarray(a), cupy.asarray(b))
        else:
            out = matmul(a, b)
        return out, desired, shape_a[-1]

    tag = ("T" if ta else "N") + ("T" if tb else "N")
    return Case("matmul", f"{shape_a}x{shape_b} {tag}", run)


def cases(device: str, quick: bool) -> Iterator[Case]:
    sizes = [(1, 1, 1), (7, 13, 5), (33, 31, 129)] if quick else [
        (1, 1, 1), (1, 257, 64), (7, 13, 5), (33, 31, 129), (127, 129, 200), (300, 1000, 17), (512, 512, 512)]
    for m, n, k in sizes:
        for ta in (False, True):
            for tb in (False, True):
                yield _case((m, k), (k, n), device, ta, tb, seed=m + n + k)
    yield _case((3, 1, 17, 9), (5, 9, 6), device, seed=1)
    yield _case((64,), (64, 10), device, seed=2)
    yield from linear_cases(device, quick)


# ---- linear: fused bias + activation forward, and the three gradients --------------------------

def _linear_case(m, k, n, act, device, which, seed) -> Case:
    from ..ops.linear import linear, linear_backward
    from ..reference import linear as rlin

    def run():
        g = rng(seed)
        x, w, b = rand((m, k), gen=g, low=-2, high=2), rand((n, k), gen=g) / np.float32(np.sqrt(k)), rand((n,), gen=g)
        if which == "forward":
            return linear(x, w, b, act), rlin.linear(x, w, b, act), k
        dy = rand((m, n), gen=g)
        idx = ("grad_x", "grad_weight", "grad_bias").index(which)
        got = linear_backward(dy, x, w, b, act)[idx]
        want = rlin.linear_backward(dy, x, w, b, act)[idx]
        return got, want, (n + k, m + k, m + k)[idx]  # the recomputed pre-activation is a length-k sum

    op = "linear" if which == "forward" else f"linear_backward.{which}"
    return Case(op, f"x({m},{k}) W({n},{k}) {act or 'none'}", run)


def linear_cases(device: str, quick: bool) -> Iterator[Case]:
    if device != "cpu":  # linear is CPU-only so far
        return
    shapes = [(7, 13, 5), (33, 129, 31)] if quick else [(1, 1, 1), (7, 13, 5), (33, 129, 31), (129, 300, 127),
                                                         (1000, 33, 7)]
    acts = [None, "gelu"] if quick else [None, "relu", "gelu", "gelu_tanh", "sigmoid", "tanh", "silu"]
    for i, (m, k, n) in enumerate(shapes):
        for act in acts:
            for which in ("forward", "grad_x", "grad_weight", "grad_bias"):
                yield _linear_case(m, k, n, act, device, which, seed=100 + i)
