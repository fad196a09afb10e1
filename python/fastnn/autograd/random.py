"""The random state of the layer stack: parameter initialisation and dropout seeds.

``manual_seed(s)`` makes both reproducible. Initial values are drawn on the host with NumPy's
PCG64 (then moved to the parameter's device); dropout masks come from the kernels' Philox
streams, each call keyed by a fresh 63-bit seed drawn here. The state is process-wide, like
PyTorch's default generator, and guarded by a lock.
"""
from __future__ import annotations

import threading

import numpy as np

_lock = threading.Lock()
_generator = np.random.Generator(np.random.PCG64())


def manual_seed(seed: int) -> np.random.Generator:
    """Seeds initialisation and dropout; returns the generator (use it only under fastnn's lock
    via the helpers here, or not at all)."""
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
    with _lock:
        _generator = np.random.Generator(np.random.PCG64(int(seed) & (2**64 - 1)))
        return _generator


def uniform(low: float, high: float, shape: tuple[int, ...]) -> np.ndarray:
    with _lock:
        return _generator.uniform(low, high, size=shape)


def normal(mean: float, std: float, shape: tuple[int, ...]) -> np.ndarray:
    with _lock:
        return _generator.normal(mean, std, size=shape)


def standard_normal_matrix(rows: int, cols: int) -> np.ndarray:
    with _lock:
        return _generator.standard_normal((rows, cols))


def next_seed() -> int:
    """A fresh seed for one kernel call's Philox stream."""
    with _lock:
        return int(_generator.integers(0, 2**63 - 1))
