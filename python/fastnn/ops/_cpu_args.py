"""Argument handling shared by the CPU-only glue ops (norm, reduce, elementwise, optim):
device, dtype and shape checks whose messages name the function and argument, and reshaping
to the layouts the kernels take."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from .._validate import FLOAT32, check_dtype, check_finite_scalar, check_out


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


def _same_memory(a: np.ndarray, b: np.ndarray) -> bool:
    """Both C-contiguous over exactly the same bytes (e.g. x and a reshape of x)."""
    return (a.flags.c_contiguous and b.flags.c_contiguous and a.nbytes == b.nbytes
            and a.__array_interface__["data"][0] == b.__array_interface__["data"][0])


def out_target(fn: str, out: Any, shape: tuple[int, ...], inputs: tuple) -> np.ndarray:
    """The array a kernel writing a C-contiguous result should compute into: a fresh one when
    out is None; out itself when it is C-contiguous and overlaps no input except by being the
    very same memory (in place: the kernels read every element before writing it); otherwise a
    fresh one that :func:`finish_out` copies into out."""
    if out is None:
        return np.empty(shape, np.float32)
    out = cpu_f32(fn, "out", out)
    check_out(fn, out, shape, FLOAT32, "cpu")
    clash = any(x is not None and np.may_share_memory(out, x) and not _same_memory(out, x) for x in inputs)
    return out if out.flags.c_contiguous and not clash else np.empty(shape, np.float32)


def finish_out(out: Any, target: np.ndarray) -> np.ndarray:
    if out is None or target is out:
        return target
    out[...] = target
    return out
