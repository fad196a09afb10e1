"""Oracle for matmul / linear: NumPy with float64 accumulation."""
from __future__ import annotations

import numpy as np

__all__ = ["matmul"]


def matmul(a, b):
    """a @ b computed in float64 (NumPy's matmul rules); returns float64."""
    return np.matmul(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
