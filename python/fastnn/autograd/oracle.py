"""Oracle adapters: fastnn.reference (float64 NumPy) behind the signatures of the public
functions of autograd.kernels. They serve every float64 call (the gradient-check route) and,
until their kernel lands on main, the float32 ops listed in kernels.PENDING KERNELS (results are
cast to the dtype of the first float argument and returned on its device)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import backend
from ..reference import activation as _ract
from ..reference import attention as _rattn
from ..reference import conv as _rconv
from ..reference import dropout as _rdrop
from ..reference import embedding as _remb
from ..reference import gemm as _rgemm
from ..reference import linear as _rlin
from ..reference import loss as _rloss
from ..reference import norm as _rnorm
from ..reference import optimizer as _ropt
from ..reference import pool as _rpool
from ..reference import reduce as _rred
from ..reference import softmax as _rsm

F32 = np.dtype(np.float32)


def _is_cpu(a: Any) -> bool:
    return isinstance(a, np.ndarray)


def _host(a: Any) -> Any:
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else a


def _like(a: Any, where: Any) -> Any:
    """Float results in where's float dtype, on where's device; ints, bools and None keep theirs."""
    if a is None:
        return None
    if isinstance(a, tuple):
        return tuple(_like(x, where) for x in a)
    a = np.asarray(a)
    if a.dtype.kind == "f":
        a = a.astype(where.dtype, order="C", copy=False)  # (ascontiguousarray would make 0-d arrays 1-d)
    if _is_cpu(where):
        return a
    return backend.xp_for("cuda").asarray(a)


def _first_float(args: tuple) -> Any:
    for a in args:
        if hasattr(a, "dtype") and hasattr(a, "shape") and np.dtype(a.dtype).kind == "f":
            return a
    return np.empty(0, F32)


def _adapt(fn: Callable[..., Any]) -> Callable[..., Any]:
    """An oracle function as a kernel-shaped one: arrays to the host, float64 math, results back
    in the dtype and on the device of the first float argument."""
    def adapter(*args: Any, **kwargs: Any) -> Any:
        where = _first_float(args)
        out = fn(*(_host(a) for a in args), **{k: _host(v) for k, v in kwargs.items()})
        return _like(out, where)

    adapter.__name__ = f"oracle_{fn.__name__}"
    adapter.oracle = True
    return adapter


def _inplace(fn: Callable[..., Any]) -> Callable[..., Any]:
    """An oracle adapter that writes state arrays itself (its arguments stay where they are)."""
    fn.oracle = True
    return fn


def _write(dst: Any, src: Any) -> None:
    """Copies an oracle result into a state array (any device, its own dtype) in place."""
    if src is not None and dst is not None:
        dst[...] = _like(np.asarray(src), dst)


# Oracle forms of the ops whose public signature differs from the reference's.
def _ref_attention(q, k, v, *, causal, mask, scale):
    return _rattn.attention(q, k, v, causal=causal, mask=mask, scale=scale, return_lse=True)


def _ref_attention_backward(grad_out, q, k, v, out, lse, *, causal, mask, scale):
    return _rattn.attention_backward(grad_out, q, k, v, causal=causal, mask=mask, scale=scale)


def _ref_softmax_backward(grad_out, x, y, axis):
    return _rsm.softmax_backward(grad_out, x, axis)


def _ref_log_softmax_backward(grad_out, x, y, axis):
    return _rsm.log_softmax_backward(grad_out, x, axis)


def _ref_max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode):
    return _rpool.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True)


def _ref_layer_norm(x, normalized_shape, weight, bias, eps):
    return _rnorm.layer_norm(x, normalized_shape, weight, bias, eps), None


def _ref_layer_norm_backward(grad_out, x, normalized_shape, weight, bias, eps, saved):
    return _rnorm.layer_norm_backward(grad_out, x, normalized_shape, weight, bias, eps)


def _ref_rms_norm(x, normalized_shape, weight, eps):
    return _rnorm.rms_norm(x, normalized_shape, weight, eps), None


def _ref_rms_norm_backward(grad_out, x, normalized_shape, weight, eps, saved):
    return _rnorm.rms_norm_backward(grad_out, x, normalized_shape, weight, eps)


def _ref_batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps):
    """Updates running_mean / running_var in place when training, like the kernel."""
    y, new_mean, new_var = _rnorm.batch_norm(_host(x), _host(running_mean), _host(running_var), _host(weight),
                                             _host(bias), training, momentum, eps)
    if training:
        _write(running_mean, new_mean)
        _write(running_var, new_var)
    return _like(y, x), None


def _ref_batch_norm_backward(grad_out, x, weight, bias, running_mean, running_var, training, eps, saved):
    return _rnorm.batch_norm_backward(grad_out, x, weight, bias, running_mean, running_var, training, eps)


def _ref_max_backward(grad_out, x, axis, keepdims, indices):
    return _rred.max_backward(grad_out, x, axis, keepdims)


def _ref_dropout(x, p, seed):
    keep = np.random.Generator(np.random.Philox(key=seed)).random(x.shape) >= p
    return _rdrop.dropout_with_mask(x, keep, p), keep


def _ref_dropout_backward(grad_out, keep, p):
    return _rdrop.dropout_with_mask_backward(grad_out, None, keep, p)


def _ref_sgd_step_(param, grad, momentum_buf, *, lr, momentum, dampening, weight_decay, nesterov,
                   maximize, first_step):
    new_p, new_buf = _ropt.sgd_step(_host(param), _host(grad), None if first_step else _host(momentum_buf),
                                    lr=lr, momentum=momentum, dampening=dampening,
                                    weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
    _write(param, new_p)
    _write(momentum_buf, new_buf)


def _ref_adam_step_(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, step, lr, beta1, beta2, eps,
                    weight_decay, amsgrad, maximize, decoupled):
    fn = _ropt.adamw_step if decoupled else _ropt.adam_step
    new = fn(_host(param), _host(grad), _host(exp_avg), _host(exp_avg_sq), step=step, lr=lr, beta1=beta1,
             beta2=beta2, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
             max_exp_avg_sq=None if max_exp_avg_sq is None else _host(max_exp_avg_sq), maximize=maximize)
    for dst, src in zip((param, exp_avg, exp_avg_sq, max_exp_avg_sq), new):
        _write(dst, src)


# Entries take exactly the arguments of the public function of the same name (further below).
_ORACLE_GEMM = {  # branch gemm
    "linear": _rlin.linear, "linear_backward": _rlin.linear_backward,
}
_ORACLE_CONV = {  # branch conv
    "conv2d": _rconv.conv2d, "conv2d_backward": _rconv.conv2d_backward,
    "conv1d": _rconv.conv1d, "conv1d_backward": _rconv.conv1d_backward,
    "conv_transpose2d": _rconv.conv_transpose2d,
    "conv_transpose2d_backward": _rconv.conv_transpose2d_backward,
    "max_pool2d": _ref_max_pool2d, "max_pool2d_backward": _rpool.max_pool2d_backward,
    "avg_pool2d": _rpool.avg_pool2d, "avg_pool2d_backward": _rpool.avg_pool2d_backward,
    "adaptive_avg_pool2d": _rpool.adaptive_avg_pool2d,
    "adaptive_avg_pool2d_backward": _rpool.adaptive_avg_pool2d_backward,
}
_ORACLE_ATTENTION = {  # branch attention
    "attention": _ref_attention, "attention_backward": _ref_attention_backward,
}
_ORACLE_GLUE_A = {  # branch glue-a
    **{name: getattr(_ract, name) for name in (
        "relu", "relu_backward", "leaky_relu", "leaky_relu_backward", "gelu", "gelu_backward",
        "sigmoid", "sigmoid_backward", "tanh", "tanh_backward", "silu", "silu_backward",
        "softplus", "softplus_backward")},
    "softmax": _rsm.softmax, "softmax_backward": _ref_softmax_backward,
    "log_softmax": _rsm.log_softmax, "log_softmax_backward": _ref_log_softmax_backward,
    "cross_entropy": _rloss.cross_entropy, "cross_entropy_backward": _rloss.cross_entropy_backward,
    "binary_cross_entropy": _rloss.binary_cross_entropy,
    "binary_cross_entropy_backward": _rloss.binary_cross_entropy_backward,
    "binary_cross_entropy_with_logits": _rloss.binary_cross_entropy_with_logits,
    "binary_cross_entropy_with_logits_backward": _rloss.binary_cross_entropy_with_logits_backward,
    "mse_loss": _rloss.mse_loss, "mse_loss_backward": _rloss.mse_loss_backward,
    "dropout": _ref_dropout, "dropout_backward": _ref_dropout_backward,
    "embedding": _remb.embedding, "embedding_backward": _remb.embedding_backward,
}
_ORACLE_GLUE_B = {  # branch glue-b
    "layer_norm": _ref_layer_norm, "layer_norm_backward": _ref_layer_norm_backward,
    "rms_norm": _ref_rms_norm, "rms_norm_backward": _ref_rms_norm_backward,
    "batch_norm_backward": _ref_batch_norm_backward,
    "add": _rred.add, "add_backward": _rred.add_backward,
    "mul": _rred.mul, "mul_backward": _rred.mul_backward,
    "sum": _rred.sum, "sum_backward": _rred.sum_backward,
    "mean": _rred.mean, "mean_backward": _rred.mean_backward,
    "max": _rred.max, "max_backward": _ref_max_backward,
}
_ORACLE_INPLACE = {  # branch glue-b: ops that update state in place (these adapters write through)
    "sgd_step_": _inplace(_ref_sgd_step_), "adam_step_": _inplace(_ref_adam_step_),
    "batch_norm": _inplace(_ref_batch_norm),
}
_ORACLE_TABLES = (_ORACLE_GEMM, _ORACLE_CONV, _ORACLE_ATTENTION, _ORACLE_GLUE_A, _ORACLE_GLUE_B,
                  {"matmul": _rgemm.matmul})


def entry(name: str) -> Callable[..., Any]:
    """The adapter for one op (public-function signature)."""
    if name in _ORACLE_INPLACE:
        return _ORACLE_INPLACE[name]
    for table in _ORACLE_TABLES:
        if name in table:
            return _adapt(table[name])
    raise KeyError(f"no oracle for {name!r}")


def all_entries() -> dict[str, Callable[..., Any]]:
    names = [n for t in _ORACLE_TABLES for n in t] + list(_ORACLE_INPLACE)
    return {n: entry(n) for n in names}
