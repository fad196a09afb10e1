"""Tensor-level functions mirroring ``torch.nn.functional`` (names, arguments, layouts).

Each is one differentiable Function over fastnn kernels (see fastnn.autograd.kernels)."""
from __future__ import annotations


from typing import Any

import numpy as np

from ..autograd import nn_ops as O
from ..autograd import random as _random
from ..tensor import Tensor, _as_array


def _t(x: Any, name: str, fn: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    raise TypeError(f"{fn}: {name} must be a fastnn.Tensor, got {type(x).__name__}")


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _const(x: Any, like: Tensor, dtype: Any = None) -> Any:
    """A constant operand (target, class weights, mask, indices) as an array on like's device."""
    if x is None:
        return None
    return _as_array(_raw(x), dtype, like.device)


def _no_grad_target(fn: str, target: Any) -> None:
    if isinstance(target, Tensor) and target.requires_grad:
        raise ValueError(f"{fn}: gradients with respect to target are not supported; detach() the target")


# ---- linear / conv / pool ------------------------------------------------------------------

def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None, activation: str | None = None) -> Tensor:
    """input (..., in) @ weight(out, in)^T + bias, then an optional fused activation
    ('relu', 'gelu', 'gelu_tanh', 'silu', 'sigmoid', 'tanh', ... ) in the same kernel."""
    return O.Linear.apply(_t(input, "input", "linear"), weight, bias, activation=activation)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return O.Conv2d.apply(_t(input, "input", "conv2d"), weight, bias, stride=stride, padding=padding,
                          dilation=dilation, groups=groups)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return O.Conv1d.apply(_t(input, "input", "conv1d"), weight, bias, stride=stride, padding=padding,
                          dilation=dilation, groups=groups)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return O.ConvTranspose2d.apply(_t(input, "input", "conv_transpose2d"), weight, bias, stride=stride,
                                   padding=padding, output_padding=output_padding, groups=groups,
                                   dilation=dilation)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    y, idx = O.MaxPool2d.apply(_t(input, "input", "max_pool2d"), kernel_size,
                               kernel_size if stride is None else stride, padding, dilation, ceil_mode)
    return (y, idx) if return_indices else y


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return O.AvgPool2d.apply(_t(input, "input", "avg_pool2d"), kernel_size,
                             kernel_size if stride is None else stride, padding, ceil_mode,
                             count_include_pad, divisor_override)


def adaptive_avg_pool2d(input, output_size):
    return O.AdaptiveAvgPool2d.apply(_t(input, "input", "adaptive_avg_pool2d"), output_size)


# ---- activations -----------------------------------------------------------------------------

def _act(name: str, x: Tensor, **params: Any) -> Tensor:
    return O.Activation.apply(_t(x, "input", name), name, params)


def relu(input, inplace=False):
    return _act("relu", input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _act("leaky_relu", input, negative_slope=float(negative_slope))


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _act("gelu", input, approximate=approximate)


def silu(input, inplace=False):
    return _act("silu", input)


def sigmoid(input):
    return _act("sigmoid", input)


def tanh(input):
    return _act("tanh", input)


def softplus(input, beta=1.0, threshold=20.0):
    return _act("softplus", input, beta=float(beta), threshold=float(threshold))


def softmax(input, dim=-1):
    return O.Softmax.apply(_t(input, "input", "softmax"), dim)


def log_softmax(input, dim=-1):
    return O.LogSoftmax.apply(_t(input, "input", "log_softmax"), dim)


# name -> (function, fused-epilogue name understood by linear/conv kernels or None)
def get_activation(name: str):
    table = {"relu": relu, "gelu": gelu, "silu": silu, "sigmoid": sigmoid, "tanh": tanh}
    if name not in table:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(table)}")
    return table[name]


# ---- dropout / embedding / normalization ---------------------------------------------------

def dropout(input, p=0.5, training=True, inplace=False):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    x = _t(input, "input", "dropout")
    if not training or p == 0.0:
        return x
    return O.Dropout.apply(x, float(p), _random.next_seed())


def embedding(input, weight, padding_idx=None, max_norm=None):
    if max_norm is not None:
        raise NotImplementedError("embedding: max_norm is not supported")
    idx = _const(input, weight)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: input must hold integer indices, got {idx.dtype}")
    return O.Embedding.apply(weight, idx, padding_idx=padding_idx)


def _shape(normalized_shape) -> tuple[int, ...]:
    return (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    return O.LayerNorm.apply(_t(input, "input", "layer_norm"), weight, bias, _shape(normalized_shape), eps)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    return O.RMSNorm.apply(_t(input, "input", "rms_norm"), weight, _shape(normalized_shape), eps)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """running_mean / running_var (Tensors or arrays, or None) are updated in place when training."""
    return O.BatchNorm.apply(_t(input, "input", "batch_norm"), weight, bias, _raw(running_mean),
                             _raw(running_var), training, momentum, eps)


# ---- attention -----------------------------------------------------------------------------

def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, enable_gqa=False):
    """q (N, Hq, L, E), k/v (N, Hkv, S, E/Ev): torch's SDPA. attn_mask: bool (True = take part)
    or additive float, broadcastable to (N, Hq, L, S). is_causal aligns top-left as in torch
    (identical to the kernel's bottom-right alignment when L == S)."""
    if dropout_p:
        raise NotImplementedError("scaled_dot_product_attention: dropout_p > 0 is not supported by the "
                                  "fused kernel; use nn.MultiheadAttention (explicit path) for attention dropout")
    q = _t(query, "query", "scaled_dot_product_attention")
    if q.shape[1] != key.shape[1] and not enable_gqa:
        raise ValueError("scaled_dot_product_attention: query and key head counts differ; pass enable_gqa=True")
    mask = _const(attn_mask, q)
    L, S = q.shape[-2], key.shape[-2]
    causal = bool(is_causal)
    if causal and L != S:  # torch aligns top-left; express it as an explicit mask
        xp = _xp_of(q)
        keep = xp.tril(xp.ones((L, S), dtype=bool))
        mask = keep if mask is None else _combine_keep(mask, keep, q.dtype)
        causal = False
    return O.Attention.apply(q, key, value, causal=causal, mask=mask, scale=scale)


def _xp_of(t: Tensor):
    from ..autograd.kernels import _xp

    return _xp(t.data)


def _combine_keep(mask, keep, dtype):
    """A mask (bool keep or additive float) and a bool keep mask -> one mask."""
    xp = _xp_of(Tensor._wrap(keep))
    if mask.dtype == np.bool_:
        return mask & keep
    return xp.where(keep, mask, xp.asarray(-np.inf, dtype=mask.dtype)).astype(dtype)


# ---- losses ----------------------------------------------------------------------------------

def _check_reduction(fn: str, reduction: str) -> None:
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{fn}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def mse_loss(input, target, reduction="mean"):
    _check_reduction("mse_loss", reduction)
    x = _t(input, "input", "mse_loss")
    tgt = target if isinstance(target, Tensor) else Tensor._wrap(_const(target, x, x.dtype))
    if tgt.shape != x.shape:
        raise ValueError(f"mse_loss: target shape {tgt.shape} differs from input shape {x.shape}")
    return O.MSELoss.apply(x, tgt, reduction)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    _check_reduction("binary_cross_entropy", reduction)
    _no_grad_target("binary_cross_entropy", target)
    x = _t(input, "input", "binary_cross_entropy")
    return O.BinaryCrossEntropy.apply(x, _const(target, x, x.dtype), _const(weight, x, x.dtype), reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    _no_grad_target("binary_cross_entropy_with_logits", target)
    x = _t(input, "input", "binary_cross_entropy_with_logits")
    return O.BinaryCrossEntropyWithLogits.apply(x, _const(target, x, x.dtype), _const(weight, x, x.dtype),
                                                _const(pos_weight, x, x.dtype), reduction)


mse = mse_loss
bce = binary_cross_entropy
bce_with_logits = binary_cross_entropy_with_logits


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """input (N, C) / (N, C, d1, ...) / (C,) logits; target integer class indices."""
    _check_reduction("cross_entropy", reduction)
    _no_grad_target("cross_entropy", target)
    x = _t(input, "input", "cross_entropy")
    tgt = _const(target, x)
    if tgt.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must hold integer class indices, got {tgt.dtype} "
                        "(class-probability targets are not supported)")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    w = _const(weight, x, x.dtype)
    return O.CrossEntropy.apply(x, tgt, w, int(ignore_index), reduction, float(label_smoothing))


