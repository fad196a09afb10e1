"""Fused in-place optimizer steps on float32 buffers (CPU; CUDA arrays through
:mod:`fastnn.ops.cuda_glue`): one pass over param, grad and the
optimizer state per step, with torch.optim's single-tensor formulas (SGD, Adam, AdamW).

Every buffer must be a C-contiguous float32 array of param's shape; param and the state
buffers are updated in place (they must be writable and must not share memory). Scalars follow
torch.optim's rules (lr >= 0, betas in [0, 1), ...) and must be finite. Each function returns
param.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from .._ext import _C
from .._validate import check_finite_scalar
from ._cpu_args import cpu_f32

__all__ = ["sgd_step_", "adam_step_", "adamw_step_"]


def _buffer(fn: str, arg: str, x: Any, shape: tuple[int, ...] | None, writable: bool) -> np.ndarray:
    x = cpu_f32(fn, arg, x)
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{fn}: {arg} must be a numpy array")
    if shape is not None and tuple(x.shape) != shape:
        raise ValueError(f"{fn}: {arg} must have param's shape {shape}, got {tuple(x.shape)}")
    if not x.flags.c_contiguous:
        raise ValueError(f"{fn}: {arg} must be C-contiguous (it is updated in place / read as one buffer)")
    if writable and not x.flags.writeable:
        raise ValueError(f"{fn}: {arg} is read-only but is updated in place")
    return x


def _disjoint(fn: str, **arrays: np.ndarray | None) -> None:
    items = [(k, v) for k, v in arrays.items() if v is not None]
    for i, (na, a) in enumerate(items):
        for nb, b in items[i + 1:]:
            if np.may_share_memory(a, b):
                raise ValueError(f"{fn}: {na} and {nb} share memory; every buffer must be distinct")


def _flag(fn: str, arg: str, v: Any) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{fn}: {arg} must be a bool, got {type(v).__name__}")
    return bool(v)


def sgd_step_(param: Any, grad: Any, momentum_buf: Any = None, *, lr: float, momentum: float = 0.0,
              dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False, maximize: bool = False,
              step: int | None = None) -> np.ndarray:
    """One torch.optim.SGD step on one tensor, in place::

        g = -grad if maximize else grad;  g += weight_decay * param
        if momentum != 0:
            buf = g                                    on the first step (step == 1)
            buf = momentum * buf + (1 - dampening) * g   later
            g = g + momentum * buf if nesterov else buf
        param -= lr * g

    momentum_buf (param's shape) is required when momentum != 0. ``step``: pass 1 on the first
    step, where torch creates the buffer from the gradient (its previous contents are ignored);
    None or any other value means a later step.
    """
    fn = "sgd_step_"
    cuda = backend.common_device(fn, param=param, grad=grad, momentum_buf=momentum_buf) == "cuda"
    if not cuda:
        p = _buffer(fn, "param", param, None, True)
        g = _buffer(fn, "grad", grad, tuple(p.shape), False)
    lr = check_finite_scalar(fn, "lr", lr)
    momentum = check_finite_scalar(fn, "momentum", momentum)
    dampening = check_finite_scalar(fn, "dampening", dampening)
    weight_decay = check_finite_scalar(fn, "weight_decay", weight_decay)
    nesterov, maximize = _flag(fn, "nesterov", nesterov), _flag(fn, "maximize", maximize)
    if lr < 0:
        raise ValueError(f"{fn}: lr must be >= 0, got {lr}")
    if momentum < 0 or weight_decay < 0:
        raise ValueError(f"{fn}: momentum and weight_decay must be >= 0, got {momentum} and {weight_decay}")
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(f"{fn}: nesterov momentum requires a momentum > 0 and zero dampening")
    buf = None
    if step is not None and (isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 1):
        raise ValueError(f"{fn}: step must be None or an int >= 1, got {step!r}")
    if momentum != 0 and momentum_buf is None:
        raise ValueError(f"{fn}: momentum={momentum} needs a momentum_buf of param's shape {tuple(param.shape)}")
    if cuda:
        from . import cuda_glue

        return cuda_glue.sgd_step_(fn, param, grad, momentum_buf, lr=lr, momentum=momentum, dampening=dampening,
                                   weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                                   first_step=step == 1)
    if momentum != 0:
        buf = _buffer(fn, "momentum_buf", momentum_buf, tuple(p.shape), True)
    _disjoint(fn, param=p, grad=g, momentum_buf=buf)
    _C.sgd_step_(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, maximize, step == 1)
    return p


def _adam(fn: str, decoupled: bool, param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay,
          amsgrad, max_exp_avg_sq, maximize) -> np.ndarray:
    if backend.common_device(fn, param=param, grad=grad, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq,
                             max_exp_avg_sq=max_exp_avg_sq) == "cuda":
        return _adam_cuda(fn, decoupled, param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay,
                          amsgrad, max_exp_avg_sq, maximize)
    p = _buffer(fn, "param", param, None, True)
    shape = tuple(p.shape)
    g = _buffer(fn, "grad", grad, shape, False)
    m = _buffer(fn, "exp_avg", exp_avg, shape, True)
    v = _buffer(fn, "exp_avg_sq", exp_avg_sq, shape, True)
    amsgrad, maximize = _flag(fn, "amsgrad", amsgrad), _flag(fn, "maximize", maximize)
    vmax = None
    if amsgrad:
        if max_exp_avg_sq is None:
            raise ValueError(f"{fn}: amsgrad=True needs max_exp_avg_sq of param's shape {shape}")
        vmax = _buffer(fn, "max_exp_avg_sq", max_exp_avg_sq, shape, True)
    scal = _adam_scalars(fn, step, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)
    _disjoint(fn, param=p, grad=g, exp_avg=m, exp_avg_sq=v, max_exp_avg_sq=vmax)
    _C.adam_step_(p, g, m, v, vmax, int(step), scal["lr"], scal["beta1"], scal["beta2"], scal["eps"],
                  scal["weight_decay"], amsgrad, maximize, decoupled)
    return p


def _adam_scalars(fn: str, step: Any, **scalars: Any) -> dict[str, float]:
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
        raise TypeError(f"{fn}: step must be an int (the step count after this update, from 1), got {step!r}")
    if step < 1:
        raise ValueError(f"{fn}: step counts from 1 (the step number after this update), got {step}")
    scal = {k: check_finite_scalar(fn, k, val) for k, val in scalars.items()}
    if scal["lr"] < 0 or scal["eps"] < 0 or scal["weight_decay"] < 0:
        raise ValueError(f"{fn}: lr, eps and weight_decay must be >= 0, got {scal['lr']}, {scal['eps']}, "
                         f"{scal['weight_decay']}")
    for b in ("beta1", "beta2"):
        if not 0.0 <= scal[b] < 1.0:
            raise ValueError(f"{fn}: {b} must be in [0, 1), got {scal[b]}")
    return scal


def _adam_cuda(fn, decoupled, param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay, amsgrad,
               max_exp_avg_sq, maximize):
    from . import cuda_glue

    amsgrad, maximize = _flag(fn, "amsgrad", amsgrad), _flag(fn, "maximize", maximize)
    if amsgrad and max_exp_avg_sq is None:
        raise ValueError(f"{fn}: amsgrad=True needs max_exp_avg_sq of param's shape {tuple(param.shape)}")
    s = _adam_scalars(fn, step, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)
    return cuda_glue.adam_step_(fn, decoupled, param, grad, exp_avg, exp_avg_sq, step=int(step), amsgrad=amsgrad,
                                max_exp_avg_sq=max_exp_avg_sq, maximize=maximize, **s)


def adam_step_(param: Any, grad: Any, exp_avg: Any, exp_avg_sq: Any, *, step: int, lr: float = 1e-3,
               beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0,
               amsgrad: bool = False, max_exp_avg_sq: Any = None, maximize: bool = False) -> np.ndarray:
    """One torch.optim.Adam step on one tensor, in place (step: the count after this update,
    from 1; state buffers start at zero)::

        g = -grad if maximize else grad;  g += weight_decay * param
        exp_avg = lerp(exp_avg, g, 1 - beta1);  exp_avg_sq = beta2 exp_avg_sq + (1 - beta2) g^2
        max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq)              (amsgrad)
        param -= lr / (1 - beta1^step) * exp_avg / (sqrt(exp_avg_sq or max) / sqrt(1 - beta2^step) + eps)
    """
    return _adam("adam_step_", False, param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay,
                 amsgrad, max_exp_avg_sq, maximize)


def adamw_step_(param: Any, grad: Any, exp_avg: Any, exp_avg_sq: Any, *, step: int, lr: float = 1e-3,
                beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 1e-2,
                amsgrad: bool = False, max_exp_avg_sq: Any = None, maximize: bool = False) -> np.ndarray:
    """One torch.optim.AdamW step: param *= 1 - lr * weight_decay first, then Adam's update
    without the L2 term (torch's default weight_decay 1e-2)."""
    return _adam("adamw_step_", True, param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay,
                 amsgrad, max_exp_avg_sq, maximize)
