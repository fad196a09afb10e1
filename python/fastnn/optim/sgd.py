"""SGD (momentum, dampening, Nesterov, weight decay, maximize) on the fused in-place step kernel."""
from __future__ import annotations

from typing import Any

from ..autograd import kernels as K
from .optimizer import Optimizer, zeros_like


class SGD(Optimizer):
    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: invalid lr={lr}, momentum={momentum} or weight_decay={weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _update(self, p, grad, group, state):
        momentum = group["momentum"]
        first = "momentum_buffer" not in state
        if momentum != 0 and first:
            state["momentum_buffer"] = zeros_like(p.data)
        K.sgd_step_(p.data, grad, state.get("momentum_buffer"), lr=group["lr"], momentum=momentum,
                    dampening=group["dampening"], weight_decay=group["weight_decay"], nesterov=group["nesterov"],
                    maximize=group["maximize"], first_step=first)
