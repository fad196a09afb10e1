"""Dropout with an explicit keep-mask (float64 oracle).  The RNG lives in the
kernels; tests draw the mask from the kernel (or anywhere) and check the math."""
import numpy as np

__all__ = ["dropout_with_mask", "dropout_with_mask_backward"]


def _scale(p):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    return 0.0 if p == 1.0 else 1.0 / (1.0 - p)  # p == 1 drops everything (PyTorch: zeros)


def dropout_with_mask(x, mask, p):
    """x * mask / (1 - p); mask is bool or 0/1 (True/1 = keep), broadcastable to x."""
    return np.asarray(x, dtype=np.float64) * (np.asarray(mask) != 0) * _scale(p)


def dropout_with_mask_backward(grad_out, x, mask, p):
    """-> grad_x = grad_out * mask / (1 - p)  (x is unused; kept for the signature convention)."""
    return np.asarray(grad_out, dtype=np.float64) * (np.asarray(mask) != 0) * _scale(p)
