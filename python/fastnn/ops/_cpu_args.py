"""Argument handling shared by the CPU-only glue ops (norm, reduce, elementwise, optim):
device, dtype and shape checks whose messages name the function and argument, and reshaping
to the layouts the kernels take."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from .._validate import FLOAT32, check_dtype, check_finite_scalar


def cpu_f32(fn: str, arg: str, x: Any) -> np.ndarray:
    """x as a float32 NumPy array (DLPack CPU objects are viewed, not copied)."""
    if x is None:
        raise TypeError(f"{fn}: {arg} must be an array, got None")
    if isinstance(x, np.generic):  # a NumPy scalar: a 0-d array
        x = np.asarray(x)
    try:
        dev = backend.device_of(x)
    except TypeError as exc:
        raise TypeError(f"{fn}: {arg}: {exc}") from None
    if dev != "cpu":
        raise NotImplementedError(f"{fn}: {arg} is a CUDA array, but {fn} has only a CPU implementation so far")
    x = backend.as_array(x, fn, arg)
    check_dtype(fn, arg, x)
    return x


def optional_f32(fn: str, arg: str, x: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """None, or a float32 array of exactly `shape` (made contiguous)."""
    if x is None:
        return None
    x = cpu_f32(fn, arg, x)
    if tuple(x.shape) != tuple(shape):
        raise ValueError(f"{fn}: {arg} must have shape {tuple(shape)}, got {tuple(x.shape)}")
    return np.ascontiguousarray(x)


def nonneg_eps(fn: str, eps: Any) -> float:
    v = check_finite_scalar(fn, "eps", eps)
    if v < 0:
        raise ValueError(f"{fn}: eps must be >= 0, got {v}")
    return v


def as_rows(x: np.ndarray, rows: int, n: int) -> np.ndarray:
    """x as a (rows, n) view with contiguous, non-overlapping rows (a copy only when needed)."""
    v = x.reshape(rows, n)
    if (n > 1 and v.strides[1] != FLOAT32.itemsize) or (rows > 1 and v.strides[0] < n * FLOAT32.itemsize):
        v = np.ascontiguousarray(v)
    return v


def same_shape(fn: str, arg: str, x: np.ndarray, shape: tuple[int, ...]) -> None:
    if tuple(x.shape) != tuple(shape):
        raise ValueError(f"{fn}: {arg} must have shape {tuple(shape)}, got {tuple(x.shape)}")
