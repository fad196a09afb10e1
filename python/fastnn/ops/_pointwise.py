"""Shared plumbing of the elementwise glue ops (activations, dropout, pointwise losses): device and
dtype checks naming the argument, output allocation, ``out=`` with in-place and overlap rules."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from .._validate import FLOAT32, check_dtype, check_out, may_overlap


def cpu_float32(fn: str, **arrays: Any) -> dict[str, np.ndarray]:
    """All arrays on one device, which must be the CPU for now, each float32; returns NumPy views."""
    device = backend.common_device(fn, **arrays)
    if device != "cpu":
        raise NotImplementedError(f"{fn}: no CUDA kernel yet; pass NumPy (CPU) arrays")
    out = {}
    for name, x in arrays.items():
        if x is None:
            continue
        a = backend.as_array(x, fn, name)
        check_dtype(fn, name, a)
        out[name] = a
    return out


def same_shape(fn: str, ref_name: str, ref: np.ndarray, **others: np.ndarray) -> None:
    for name, a in others.items():
        if a is not None and a.shape != ref.shape:
            raise ValueError(f"{fn}: {name} must have the shape of {ref_name} {ref.shape}, got {a.shape}")


def same_view(a: np.ndarray, b: np.ndarray) -> bool:
    """Exactly the same elements in the same order (an in-place elementwise update is safe)."""
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0] and a.shape == b.shape
            and a.strides == b.strides)


def output(fn: str, out: Any, shape: tuple[int, ...], *inputs: np.ndarray,
           in_place: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """(target to write, out to copy into afterwards or None). With ``in_place``, ``out`` may be one
    of the inputs itself (elementwise and row-wise kernels read each element before writing it);
    any other overlap goes through a temporary."""
    if out is None:
        return np.empty(shape, np.float32), None
    out_arr = backend.as_array(out, fn, "out")
    check_out(fn, out_arr, shape, FLOAT32, "cpu")
    if all((in_place and same_view(out_arr, x)) or not may_overlap(out_arr, x) for x in inputs if x is not None):
        return out_arr, None
    return np.empty(shape, np.float32), out_arr


def finish(target: np.ndarray, copy_to: np.ndarray | None) -> np.ndarray:
    if copy_to is None:
        return target
    copy_to[...] = target
    return copy_to
