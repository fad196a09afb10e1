"""Parity cases for `fastnn check`: every registered kernel against its float64 oracle, on every
backend and CPU ISA path available. A family module defines ``cases(device, quick)`` yielding
:class:`Case`; add it to FAMILIES."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


@dataclass
class Case:
    op: str
    shape: str
    # Runs the kernel; returns (actual, desired float64, reduction length k for the tolerance).
    run: Callable[[], tuple[Any, np.ndarray, int]]
    dtype: str = "float32"


def families():
    from . import (activation, attention, conv, cuda_gemm, dropout, elementwise, embedding, gemm, loss, norm, optim,
                   pool, reduce, softmax)
    from . import cuda_kernels

    return [gemm, conv, pool, attention, activation, softmax, loss, dropout, embedding, norm, reduce, elementwise,
            optim, cuda_gemm, cuda_kernels]
