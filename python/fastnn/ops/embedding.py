"""Embedding lookup and its backward (``torch.nn.functional.embedding``), float32 on CPU.

    embedding(indices, weight, padding_idx=None) -> weight[indices]              (..., D)
    embedding_backward(grad_out, indices, num_embeddings, padding_idx=None)       (num_embeddings, D)

Indices are int64 or int32 of any shape and strides; an index outside [0, num_embeddings) raises
ValueError naming its position and value (negative indices included, as PyTorch). The backward
scatter-adds rows of grad_out: repeated indices accumulate, in index order, so the result is the
same for any thread count; the ``padding_idx`` row of the gradient stays zero (the forward still
returns that row, as PyTorch). A negative padding_idx counts from the end.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from .._ext import _C
from ._pointwise import cpu_float32, finish, output


def _indices(fn: str, indices: Any) -> np.ndarray:
    idx = backend.as_array(indices, fn, "indices")
    if idx.dtype not in (np.int64, np.int32):
        raise TypeError(f"{fn}: indices must be int64 or int32, got {idx.dtype}")
    return idx


def _padding_idx(fn: str, padding_idx: Any, num_embeddings: int) -> int:
    if padding_idx is None:
        return -1
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
        raise TypeError(f"{fn}: padding_idx must be an int or None, got {type(padding_idx).__name__}")
    p = int(padding_idx)
    if not -num_embeddings <= p < num_embeddings:
        raise ValueError(f"{fn}: padding_idx must be within num_embeddings ({num_embeddings}), got {p}")
    return p + num_embeddings if p < 0 else p


def embedding(indices: Any, weight: Any, padding_idx: Any = None, *, out: Any = None) -> np.ndarray:
    """weight[indices]: indices (...) int64/int32, weight (num_embeddings, D) float32 → (..., D)
    (into ``out=`` when given)."""
    fn = "embedding"
    if backend.common_device(fn, indices=indices, weight=weight, out=out) == "cuda":
        from . import cuda_glue

        return cuda_glue.embedding(indices, weight, padding_idx, out=out)
    w = cpu_float32(fn, weight=weight)["weight"]
    idx = _indices(fn, indices)
    if w.ndim != 2:
        raise ValueError(f"{fn}: weight must have shape (num_embeddings, embedding_dim), got {w.shape}")
    _padding_idx(fn, padding_idx, w.shape[0])
    target, copy_to = output(fn, out, idx.shape + (w.shape[1],), w, in_place=False)
    _C.embedding(idx, w, target)
    return finish(target, copy_to)


def embedding_backward(grad_out: Any, indices: Any, num_embeddings: int, padding_idx: Any = None, *,
                       out: Any = None) -> np.ndarray:
    """Gradient w.r.t. the weight: (num_embeddings, D), rows scatter-added from grad_out (..., D)
    (into ``out=`` when given; it is overwritten, not accumulated into)."""
    fn = "embedding_backward"
    if backend.common_device(fn, grad_out=grad_out, indices=indices, out=out) == "cuda":
        from . import cuda_glue

        return cuda_glue.embedding_backward(grad_out, indices, num_embeddings, padding_idx, out=out)
    g = cpu_float32(fn, grad_out=grad_out)["grad_out"]
    idx = _indices(fn, indices)
    if isinstance(num_embeddings, bool) or not isinstance(num_embeddings, (int, np.integer)) or num_embeddings < 0:
        raise ValueError(f"{fn}: num_embeddings must be a non-negative int, got {num_embeddings!r}")
    if g.ndim != idx.ndim + 1 or g.shape[:-1] != idx.shape:
        raise ValueError(f"{fn}: grad_out must have shape indices.shape + (D,) = {idx.shape} + (D,), got {g.shape}")
    pad = _padding_idx(fn, padding_idx, int(num_embeddings))
    target, copy_to = output(fn, out, (int(num_embeddings), g.shape[-1]), g, in_place=False)
    _C.embedding_backward(g, idx, pad, target)
    return finish(target, copy_to)
