"""matmul parity cases: odd sizes, every transpose, batched broadcast, 1-D operands."""
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
