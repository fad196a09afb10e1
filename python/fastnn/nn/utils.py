"""Gradient clipping (torch.nn.utils names), on the mul / sum / max kernels."""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from ..autograd import kernels as K
from ..tensor import Tensor


def _grads(parameters: Any) -> list:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: Any = None) -> Tensor:
    """Scales all gradients together so that their joint norm is at most max_norm (each grad is
    multiplied by min(1, max_norm / (norm + 1e-6)), as torch does); returns the norm before
    clipping. norm_type: 2 or inf."""
    params = _grads(parameters)
    norm_type = float(norm_type)
    if not params:
        return Tensor(np.zeros((), np.float32))
    grads = [p.grad.data for p in params]
    if norm_type == math.inf:
        total = 0.0
        for g in grads:
            total = max(total, float(K.max(g)[0]), float(K.max(K.neg(g))[0]))
    elif norm_type == 2.0:
        total = math.sqrt(sum(float(K.sum(K.mul(g, g))) for g in grads))
    else:
        raise ValueError(f"clip_grad_norm_: norm_type must be 2 or inf, got {norm_type}")
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is non-finite "
                           "(pass error_if_nonfinite=False to clip anyway)")
    coef = min(float(max_norm) / (total + 1e-6), 1.0)
    for g in grads:
        g[...] = K.mul(g, coef)
    return Tensor(np.asarray(total, dtype=grads[0].dtype))


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    raise NotImplementedError("clip_grad_value_ needs a clamp kernel, which no fastnn kernel family provides yet")
