"""Float64 central differences: the gradient a float32 kernel's backward must match, computed
from the float64 reference forward on tiny shapes (so it does not trust any backward)."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from fastnn.testing import assert_close


def numgrad(f: Callable[..., float], arrays: list, which: int, h: float = 1e-6) -> np.ndarray:
    """d f(*arrays) / d arrays[which] by central differences in float64 (f returns a scalar)."""
    arrays = [None if a is None else np.array(a, dtype=np.float64) for a in arrays]
    a = arrays[which]
    grad = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        orig = a[idx]
        a[idx] = orig + h
        fp = f(*arrays)
        a[idx] = orig - h
        fm = f(*arrays)
        a[idx] = orig
        grad[idx] = (fp - fm) / (2 * h)
    return grad


def check_grads(fwd64: Callable[..., np.ndarray], grads: Sequence[np.ndarray | None], g: np.ndarray,
                arrays: list, which: Sequence[tuple[int, int]], k: int) -> None:
    """grads[out_i] (from the float32 kernel, for upstream gradient g) against central
    differences of sum(g * fwd64(*arrays)) with respect to arrays[in_i]."""
    g64 = np.asarray(g, np.float64)
    for out_i, in_i in which:
        num = numgrad(lambda *a: float(np.sum(g64 * fwd64(*a))), arrays, in_i)
        # float32 kernel vs float64 differences: the kernel's rounding dominates.
        assert_close(grads[out_i], num, k=k, rtol=max(1e-5, 64 * 2.0**-24 * np.sqrt(k)), name=f"grad {out_i}")
