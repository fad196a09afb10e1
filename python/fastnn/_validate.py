"""Argument checks shared by every public op. Messages name the function, the argument,
what was expected and what was got."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

FLOAT32 = np.dtype(np.float32)


def check_dtype(fn: str, arg: str, x: Any, allowed: Sequence[np.dtype] = (FLOAT32,)) -> None:
    dt = np.dtype(x.dtype)
    if dt not in allowed:
        want = " or ".join(str(d) for d in allowed)
        hint = " (cast with .astype(numpy.float32))" if dt.kind in "fc" or dt == np.float64 else ""
        raise TypeError(f"{fn}: {arg} must be {want}, got {dt}{hint}")


def check_ndim(fn: str, arg: str, x: Any, ndims: Sequence[int] | int) -> None:
    allowed = (ndims,) if isinstance(ndims, int) else tuple(ndims)
    if x.ndim not in allowed:
        want = " or ".join(str(n) for n in allowed)
        raise ValueError(f"{fn}: {arg} must have {want} dimensions, got {x.ndim} (shape {tuple(x.shape)})")


def check_min_ndim(fn: str, arg: str, x: Any, n: int) -> None:
    if x.ndim < n:
        raise ValueError(f"{fn}: {arg} must have at least {n} dimension(s), got {x.ndim} (shape {tuple(x.shape)})")


def check_out(fn: str, out: Any, shape: tuple[int, ...], dtype: np.dtype, device: str) -> None:
    """An `out=` argument: right type, device, shape, dtype, writable."""
    from .backend import device_of

    try:
        dev = device_of(out)
    except TypeError as exc:
        raise TypeError(f"{fn}: out: {exc}") from None
    if dev != device:
        raise ValueError(f"{fn}: out is on {dev} but the inputs are on {device}")
    if tuple(out.shape) != tuple(shape):
        raise ValueError(f"{fn}: out must have shape {tuple(shape)}, got {tuple(out.shape)}")
    if np.dtype(out.dtype) != dtype:
        raise TypeError(f"{fn}: out must be {dtype}, got {np.dtype(out.dtype)}")
    if isinstance(out, np.ndarray) and not out.flags.writeable:
        raise ValueError(f"{fn}: out is read-only")


def check_finite_scalar(fn: str, arg: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: {arg} must be a real number, got {type(value).__name__}") from None
    if not np.isfinite(v):
        raise ValueError(f"{fn}: {arg} must be finite, got {v}")
    return v


def may_overlap(out: Any, *inputs: Any) -> bool:
    """Whether writing `out` could clobber an input (then the op computes into a temporary)."""
    if isinstance(out, np.ndarray):
        return any(isinstance(x, np.ndarray) and np.may_share_memory(out, x) for x in inputs)
    import cupy

    return any(cupy.may_share_memory(out, x) for x in inputs if x is not None)
