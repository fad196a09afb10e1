"""Layer operations as differentiable Functions: each forward and backward is one kernel call
(see autograd.kernels), with the arrays the backward needs kept on the context."""
from __future__ import annotations

from . import kernels as K
from .function import Function


class Linear(Function):
    """x (..., in), weight (out, in), bias (out,) | None -> act(x W^T + b) (..., out)."""

    @staticmethod
    def forward(ctx, x, weight, bias, activation=None):
        ctx.saved = (x, weight, bias, activation)
        return K.linear(x, weight, bias, activation)

    @staticmethod
    def backward(ctx, g):
        x, weight, bias, activation = ctx.saved
        return K.linear_backward(g, x, weight, bias, activation)


class Conv2d(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride=1, padding=0, dilation=1, groups=1, activation=None):
        ctx.saved = (x, weight, bias)
        ctx.args = (stride, padding, dilation, groups, activation)
        return K.conv2d(x, weight, bias, *ctx.args)

    @staticmethod
    def backward(ctx, g):
        return K.conv2d_backward(g, *ctx.saved, *ctx.args, needs_input_grad=ctx.needs_input_grad[:3])


class Conv1d(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride=1, padding=0, dilation=1, groups=1, activation=None):
        ctx.saved = (x, weight, bias)
        ctx.args = (stride, padding, dilation, groups, activation)
        return K.conv1d(x, weight, bias, *ctx.args)

    @staticmethod
    def backward(ctx, g):
        return K.conv1d_backward(g, *ctx.saved, *ctx.args, needs_input_grad=ctx.needs_input_grad[:3])


class ConvTranspose2d(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
        ctx.saved = (x, weight, bias)
        ctx.args = (stride, padding, output_padding, groups, dilation)
        return K.conv_transpose2d(x, weight, bias, *ctx.args)

    @staticmethod
    def backward(ctx, g):
        return K.conv_transpose2d_backward(g, *ctx.saved, *ctx.args, needs_input_grad=ctx.needs_input_grad[:3])


class MaxPool2d(Function):
    """-> (y, indices); indices are flat positions in each input plane (not differentiable)."""

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, dilation, ceil_mode):
        y, idx = K.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode)
        ctx.x, ctx.idx = x, idx
        ctx.args = (kernel_size, stride, padding, dilation, ceil_mode)
        return y, idx

    @staticmethod
    def backward(ctx, g, g_idx=None):
        return K.max_pool2d_backward(g, ctx.x, ctx.idx, *ctx.args), None, None, None, None, None


class AvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
        ctx.x = x
        ctx.args = (kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
        return K.avg_pool2d(x, *ctx.args)

    @staticmethod
    def backward(ctx, g):
        return (K.avg_pool2d_backward(g, ctx.x, *ctx.args),) + (None,) * 6


class AdaptiveAvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, output_size):
        ctx.x, ctx.size = x, output_size
        return K.adaptive_avg_pool2d(x, output_size)

    @staticmethod
    def backward(ctx, g):
        return K.adaptive_avg_pool2d_backward(g, ctx.x, ctx.size), None


class Activation(Function):
    """name in kernels.ACTIVATIONS; params e.g. negative_slope, approximate, beta, threshold."""

    @staticmethod
    def forward(ctx, x, name, params):
        y = K.activation(name, x, **params)
        # sigmoid / tanh (CPU): the backward works from y, as PyTorch's, and x need not be kept
        ctx.x, ctx.y = (None, y) if K.backward_from_output(name, x) else (x, None)
        ctx.name, ctx.params = name, params
        return y

    @staticmethod
    def backward(ctx, g):
        return K.activation_backward(ctx.name, g, ctx.x, ctx.y, **ctx.params), None, None


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, axis):
        y = K.softmax(x, axis)
        ctx.saved = (x, y, axis)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y, axis = ctx.saved
        return K.softmax_backward(g, x, y, axis), None


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, axis):
        y = K.log_softmax(x, axis)
        ctx.saved = (x, y, axis)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y, axis = ctx.saved
        return K.log_softmax_backward(g, x, y, axis), None


class Dropout(Function):
    @staticmethod
    def forward(ctx, x, p, seed):
        y, ctx.state = K.dropout(x, p, seed)
        ctx.p = p
        return y

    @staticmethod
    def backward(ctx, g):
        return K.dropout_backward(g, ctx.state, ctx.p), None, None


class Embedding(Function):
    """weight (num, D), indices (...) int (a plain array) -> (..., D)."""

    @staticmethod
    def forward(ctx, weight, indices, padding_idx=None):
        ctx.saved = (indices, weight.shape[0], padding_idx)
        return K.embedding(indices, weight, padding_idx)

    @staticmethod
    def backward(ctx, g):
        return K.embedding_backward(g, *ctx.saved), None


class LayerNorm(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, normalized_shape, eps):
        y, stats = K.layer_norm(x, normalized_shape, weight, bias, eps)
        ctx.saved = (x, normalized_shape, weight, bias, eps, stats)
        return y

    @staticmethod
    def backward(ctx, g):
        gx, gw, gb = K.layer_norm_backward(g, *ctx.saved)
        return gx, gw, gb, None, None


class RMSNorm(Function):
    @staticmethod
    def forward(ctx, x, weight, normalized_shape, eps):
        y, stats = K.rms_norm(x, normalized_shape, weight, eps)
        ctx.saved = (x, normalized_shape, weight, eps, stats)
        return y

    @staticmethod
    def backward(ctx, g):
        gx, gw = K.rms_norm_backward(g, *ctx.saved)
        return gx, gw, None, None


class BatchNorm(Function):
    """Training mode updates running_mean / running_var (plain arrays) in place."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        y, stats = K.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)
        ctx.saved = (x, weight, bias, running_mean, running_var, training, eps, stats)
        return y

    @staticmethod
    def backward(ctx, g):
        gx, gw, gb = K.batch_norm_backward(g, *ctx.saved)
        return gx, gw, gb, None, None, None, None, None


class Attention(Function):
    """q (B, Hq, Lq, D), k (B, Hkv, Lk, D), v (B, Hkv, Lk, Dv) -> (B, Hq, Lq, Dv)."""

    @staticmethod
    def forward(ctx, q, k, v, causal=False, mask=None, scale=None):
        out, lse = K.attention(q, k, v, causal=causal, mask=mask, scale=scale)
        ctx.saved = (q, k, v, out, lse)
        ctx.kw = dict(causal=causal, mask=mask, scale=scale)
        return out

    @staticmethod
    def backward(ctx, g):
        return K.attention_backward(g, *ctx.saved, **ctx.kw)


# ---- losses: gradient w.r.t. the prediction (targets are constants unless noted) ------------------

class CrossEntropy(Function):
    @staticmethod
    def forward(ctx, logits, target, weight, ignore_index, reduction, label_smoothing):
        ctx.saved = (logits, target, weight, ignore_index, reduction, label_smoothing)
        return K.cross_entropy(logits, target, weight, ignore_index, reduction, label_smoothing)

    @staticmethod
    def backward(ctx, g):
        return (K.cross_entropy_backward(g, *ctx.saved),) + (None,) * 5


class BinaryCrossEntropy(Function):
    @staticmethod
    def forward(ctx, p, target, weight, reduction):
        ctx.saved = (p, target, weight, reduction)
        return K.binary_cross_entropy(p, target, weight, reduction)

    @staticmethod
    def backward(ctx, g):
        return K.binary_cross_entropy_backward(g, *ctx.saved), None, None, None


class BinaryCrossEntropyWithLogits(Function):
    @staticmethod
    def forward(ctx, x, target, weight, pos_weight, reduction):
        ctx.saved = (x, target, weight, pos_weight, reduction)
        return K.binary_cross_entropy_with_logits(x, target, weight, pos_weight, reduction)

    @staticmethod
    def backward(ctx, g):
        return K.binary_cross_entropy_with_logits_backward(g, *ctx.saved), None, None, None, None


class MSELoss(Function):
    """Differentiable in both the input and the target (grad_target = -grad_input)."""

    @staticmethod
    def forward(ctx, x, target, reduction):
        ctx.saved = (x, target, reduction)
        return K.mse_loss(x, target, reduction)

    @staticmethod
    def backward(ctx, g):
        x, target, _ = ctx.saved
        gx = K.mse_loss_backward(g, *ctx.saved)
        gt = K.unbroadcast(K.neg(gx), target.shape) if ctx.needs_input_grad[1] else None
        return (K.unbroadcast(gx, x.shape) if ctx.needs_input_grad[0] else None), gt, None
