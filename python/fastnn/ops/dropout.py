"""Dropout from a counter-based random stream (Philox4x32-10), float32 on CPU.

The keep-mask of element ``i`` (the C-order flat index) is a pure function of
``(seed, offset, i)``: the same seed gives the same mask whatever the thread count, the CPU path
(AVX-512 / AVX2 / generic) and, once ported, on CUDA. So an autograd tape stores only
``(p, seed, offset)`` and ``dropout_backward`` regenerates the mask; ``offset`` selects an
independent stream for each dropout call that shares a seed (e.g. the layer's call counter).

Stream definition ("fastnn dropout stream v1", csrc/common/philox.h), for element i:
    q = (i >> 6) * 16 + (i & 15);  j = (i >> 4) & 3
    u = Philox4x32_10(counter=(lo32(q), hi32(q), lo32(offset), hi32(offset)),
                      key=(lo32(seed), hi32(seed)))[j]
    keep = u >= ceil(p * 2**32)          (p = 1: nothing kept)
    y = x * keep / (1 - p)               (1/(1-p) rounded to float32; a dropped NaN stays NaN)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from .._ext import _C
from ._pointwise import cpu_float32, finish, output

_U64 = 1 << 64


def _p(fn: str, p: Any) -> float:
    try:
        v = float(p)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: p must be a real number, got {type(p).__name__}") from None
    if not 0.0 <= v <= 1.0:  # also rejects NaN
        raise ValueError(f"{fn}: p must be in [0, 1], got {p}")
    return v


def _u64(fn: str, name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{fn}: {name} must be an int, got {type(v).__name__}")
    if not 0 <= int(v) < _U64:
        raise ValueError(f"{fn}: {name} must be in [0, 2**64), got {v}")
    return int(v)


def dropout(x: Any, p: float = 0.5, *, seed: int, offset: int = 0, training: bool = True, return_mask: bool = False,
            out: Any = None):
    """x * keep / (1 - p) with keep ~ Bernoulli(1 - p) from the (seed, offset) stream.

    Returns y, or (y, mask) with ``return_mask=True`` (mask: bool, True = kept). With
    ``training=False`` returns x itself (and an all-True mask), as PyTorch.
    """
    fn = "dropout"
    p = _p(fn, p)
    seed, offset = _u64(fn, "seed", seed), _u64(fn, "offset", offset)
    if backend.common_device(fn, x=x, out=out) == "cuda":
        from . import cuda_glue

        return cuda_glue.dropout(x, p, seed=seed, offset=offset, training=bool(training), return_mask=return_mask,
                                 out=out)
    x = cpu_float32(fn, x=x)["x"]
    if not training:
        return (x, np.ones(x.shape, bool)) if return_mask else x
    target, copy_to = output(fn, out, x.shape, x)
    mask = np.empty(x.shape, bool) if return_mask else None
    if x.size:
        _C.dropout(x, target, mask, p, seed, offset)
    y = finish(target, copy_to)
    return (y, mask) if return_mask else y


def dropout_backward(grad_out: Any, p: float, *, seed: int, offset: int = 0, out: Any = None) -> np.ndarray:
    """grad_x = grad_out * keep / (1 - p), regenerating keep from (seed, offset)."""
    fn = "dropout_backward"
    p = _p(fn, p)
    seed, offset = _u64(fn, "seed", seed), _u64(fn, "offset", offset)
    if backend.common_device(fn, grad_out=grad_out, out=out) == "cuda":
        from . import cuda_glue

        return cuda_glue.dropout_backward(grad_out, p, seed=seed, offset=offset, out=out)
    g = cpu_float32(fn, grad_out=grad_out)["grad_out"]
    target, copy_to = output(fn, out, g.shape, g)
    if g.size:
        _C.dropout(g, target, None, p, seed, offset)
    return finish(target, copy_to)


def dropout_mask(shape: Any, p: float, *, seed: int, offset: int = 0, device: str = "cpu") -> np.ndarray:
    """The keep-mask (bool, True = kept) that dropout(x, p, seed=seed, offset=offset) uses for an x
    of this shape; ``device='cuda'`` computes it on the GPU (a CuPy array, the same bits)."""
    fn = "dropout_mask"
    p = _p(fn, p)
    seed, offset = _u64(fn, "seed", seed), _u64(fn, "offset", offset)
    try:
        shape = tuple(int(s) for s in (shape if isinstance(shape, (tuple, list)) else (shape,)))
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: shape must be a tuple of ints, got {shape!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"{fn}: shape must not have negative sizes, got {shape}")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"{fn}: device must be 'cpu' or 'cuda', got {device!r}")
    if device == "cuda":
        from . import cuda_glue

        backend._require_cuda(fn)
        return cuda_glue.dropout_mask(shape, p, seed=seed, offset=offset)
    mask = np.empty(shape, bool)
    if mask.size:
        _C.dropout(None, None, mask, p, seed, offset)
    return mask

