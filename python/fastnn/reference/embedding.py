"""Embedding lookup (float64 oracle)."""
import numpy as np

__all__ = ["embedding", "embedding_backward"]


def _padding_idx(padding_idx, num_embeddings):
    if padding_idx is None:
        return None
    p = int(padding_idx)
    if not -num_embeddings <= p < num_embeddings:
        raise ValueError("padding_idx must be within num_embeddings")
    return p + num_embeddings if p < 0 else p  # negative counts from the end, like PyTorch


def embedding(indices, weight, padding_idx=None):
    """indices (...) int, weight (num_embeddings, D) -> (..., D).

    padding_idx only affects the backward (the forward still returns that row).
    """
    weight = np.asarray(weight, dtype=np.float64)
    indices = np.asarray(indices)
    if not np.issubdtype(indices.dtype, np.integer):
        raise TypeError("indices must be integers")
    _padding_idx(padding_idx, weight.shape[0])
    if indices.size and (indices.min() < 0 or indices.max() >= weight.shape[0]):
        raise IndexError("index out of range")
    return weight[indices]


def embedding_backward(grad_out, indices, num_embeddings, padding_idx=None):
    """grad_out (..., D) -> grad_weight (num_embeddings, D); repeated indices
    accumulate, the padding_idx row stays zero."""
    g = np.asarray(grad_out, dtype=np.float64)
    idx = np.asarray(indices).reshape(-1)
    D = g.shape[-1]
    gw = np.zeros((num_embeddings, D))
    np.add.at(gw, idx, g.reshape(-1, D))
    p = _padding_idx(padding_idx, num_embeddings)
    if p is not None:
        gw[p] = 0.0
    return gw
