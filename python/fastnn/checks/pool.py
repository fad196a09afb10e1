"""Pooling parity cases: max_pool2d (values, indices, gradient), avg_pool2d (divisor rules),
adaptive_avg_pool2d, forward and backward. CPU only."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from .. import ops
from ..reference import pool as rpool
from ..testing import rand, rng
from . import Case


def _max_cases(N, C, H, W, k, s, p, d, ceil, seed):
    shape = f"x=({N},{C},{H},{W}) k={k} s={s} p={p} d={d} ceil={ceil}"

    def inputs():
        g = rng(seed)
        x = rand((N, C, H, W), gen=g)
        y, idx = rpool.max_pool2d(x, k, s, p, d, ceil, return_indices=True)
        return x, y, idx, rand(y.shape, gen=g)

    def fwd():
        x, y, _, _ = inputs()
        return ops.pool.max_pool2d(x, k, s, p, d, ceil), y, 1

    def indices():
        x, _, idx, _ = inputs()
        return ops.pool.max_pool2d(x, k, s, p, d, ceil, return_indices=True)[1].astype(np.float64), idx, 1

    def bwd():
        x, _, idx, go = inputs()
        return ops.pool.max_pool2d_backward(go, x, None, k, s, p, d, ceil), rpool.max_pool2d_backward(go, x, idx), k * k

    yield Case("max_pool2d", shape, fwd)
    yield Case("max_pool2d.indices", shape, indices)
    yield Case("max_pool2d_backward", shape, bwd)


def _avg_cases(N, C, H, W, k, s, p, ceil, cip, seed):
    shape = f"x=({N},{C},{H},{W}) k={k} s={s} p={p} ceil={ceil} count_include_pad={cip}"

    def fwd():
        x = rand((N, C, H, W), gen=rng(seed))
        return ops.pool.avg_pool2d(x, k, s, p, ceil, cip), rpool.avg_pool2d(x, k, s, p, ceil, cip), k * k

    def bwd():
        g = rng(seed)
        x = rand((N, C, H, W), gen=g)
        go = rand(rpool.avg_pool2d(x, k, s, p, ceil, cip).shape, gen=g)
        return (ops.pool.avg_pool2d_backward(go, x, k, s, p, ceil, cip),
                rpool.avg_pool2d_backward(go, x, k, s, p, ceil, cip), k * k)

    yield Case("avg_pool2d", shape, fwd)
    yield Case("avg_pool2d_backward", shape, bwd)


def _adaptive_cases(N, C, H, W, out, seed):
    shape = f"x=({N},{C},{H},{W}) output_size={out}"

    def fwd():
        x = rand((N, C, H, W), gen=rng(seed))
        return ops.pool.adaptive_avg_pool2d(x, out), rpool.adaptive_avg_pool2d(x, out), H * W

    def bwd():
        g = rng(seed)
        x = rand((N, C, H, W), gen=g)
        go = rand(rpool.adaptive_avg_pool2d(x, out).shape, gen=g)
        return (ops.pool.adaptive_avg_pool2d_backward(go, x, out), rpool.adaptive_avg_pool2d_backward(go, x, out),
                H * W)

    yield Case("adaptive_avg_pool2d", shape, fwd)
    yield Case("adaptive_avg_pool2d_backward", shape, bwd)


def cases(device: str, quick: bool) -> Iterator[Case]:
    if device != "cpu":
        return
    yield from _max_cases(2, 8, 33, 31, 3, 2, 1, 1, False, 1)
    yield from _avg_cases(2, 8, 33, 31, 3, 2, 1, True, False, 2)
    yield from _adaptive_cases(2, 8, 13, 11, (5, 3), 3)
    if not quick:
        yield from _max_cases(1, 4, 17, 19, 2, 2, 0, 2, True, 4)
        yield from _avg_cases(1, 4, 17, 19, 5, 3, 2, False, True, 5)
        yield from _adaptive_cases(1, 16, 56, 56, 7, 6)
