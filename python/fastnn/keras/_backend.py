"""The few points where the Keras layer touches fastnn's autograd (fastnn.Tensor, fastnn.nn,
fastnn.optim): array <-> Tensor, no-grad, devices. Everything else in fastnn.keras and
fastnn.models is written against PyTorch-convention modules through `nn` and `F`."""
from __future__ import annotations

import contextlib

import numpy as np

import fastnn
from fastnn import nn, optim  # noqa: F401  (re-exported for the rest of the package)
from fastnn.nn import functional as F  # noqa: F401

__all__ = ["nn", "F", "optim", "attention", "to_tensor", "to_array", "no_grad", "is_tensor", "device_of_module", "array_module"]


def is_tensor(x) -> bool:
    return isinstance(x, fastnn.Tensor)


def array_module(device: str):
    if device == "cuda":
        import cupy

        return cupy
    return np


def to_tensor(a, device: str = "cpu", dtype=None):
    """A Tensor without gradient holding `a` (NumPy/CuPy array or Tensor) on `device`."""
    if is_tensor(a):
        return a
    xp = array_module(device)
    arr = xp.asarray(a)
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    elif arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    return fastnn.Tensor(arr)


def to_array(t) -> np.ndarray:
    """The values of a Tensor (or array) as a host NumPy array, detached from the graph."""
    if is_tensor(t):
        t = t.detach().numpy()
    if hasattr(t, "get") and not isinstance(t, np.ndarray):
        t = t.get()
    return np.asarray(t)


def no_grad():
    return fastnn.no_grad()


def device_of_module(module) -> str:
    for p in module.parameters():
        return p.device
    return "cpu"


@contextlib.contextmanager
def eval_mode(module):
    """Run `module` in eval mode (dropout off, batch norm running stats) and restore its mode after."""
    was = module.training
    module.train(False)
    try:
        yield
    finally:
        module.train(was)


def attention(q, k, v, causal: bool = False):
    """softmax(q k^T / sqrt(D)) v over (B, H, L, D) Tensors, optionally causal (fastnn's attention kernels)."""
    sdpa = getattr(F, "scaled_dot_product_attention", None)
    if sdpa is not None:
        return sdpa(q, k, v, is_causal=causal)
    return F.attention(q, k, v, causal=causal)
