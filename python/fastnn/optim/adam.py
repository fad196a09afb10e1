"""Adam and AdamW (amsgrad, maximize) on the fused in-place step kernels."""
from __future__ import annotations

from typing import Any

from ..autograd import kernels as K
from .optimizer import Optimizer, zeros_like


class Adam(Optimizer):
    _decoupled = False

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False):
        if lr < 0 or eps < 0 or weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: invalid lr={lr}, eps={eps} or weight_decay={weight_decay}")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"{type(self).__name__}: invalid betas {betas}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _update(self, p, grad, group, state):
        if not state:
            state["step"] = 0
            state["exp_avg"] = zeros_like(p.data)
            state["exp_avg_sq"] = zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = zeros_like(p.data)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        K.adam_step_(p.data, grad, state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq"),
                     step=state["step"], lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                     weight_decay=group["weight_decay"], amsgrad=group["amsgrad"], maximize=group["maximize"],
                     decoupled=self._decoupled)


class AdamW(Adam):
    """Adam with decoupled weight decay (param *= 1 - lr * weight_decay before the Adam step)."""

    _decoupled = True

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
