"""The one place where the autograd layer calls compute kernels.

Every differentiable operation of fastnn.Tensor / fastnn.nn / fastnn.optim gets its math from a
function of this module, never from NumPy/CuPy directly (shape changes, copies, allocation and
mask preparation are not math and stay with the callers). Each function here routes on the
floating dtype of its first array:

* float32 -> the fastnn kernel (``fastnn.ops.<family>.<fn>``): table ``_F32``.
* float64 -> the float64 oracle (``fastnn.reference``), CPU only: table ``_F64``. fastnn's
  kernels are float32; this route exists so whole networks can be gradient-checked against
  float64 central differences (it checks the autograd wiring, not the kernels: those are
  checked against PyTorch in float32).

Sections, top to bottom: routing; LANDED KERNELS (float32 -> fastnn.ops, adapted to the public
signatures where they differ); PENDING KERNELS (the float32 ops whose kernel has not landed on main yet, served meanwhile by
their oracle adapter, autograd/oracle.py); FLOAT64 ORACLE; the public functions (one per op: the interface the
autograd layer codes against); COMPOSITES (ops no kernel family provides, built from kernels);
UNOWNED (elementwise math without a kernel yet, used by no layer). The recurrent cells composed
of these kernels are in autograd/cells.py.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

import numpy as np

from .. import backend
from ..ops import gemm as _ops_gemm
from . import oracle as _oracle

F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)

# ---- routing -----------------------------------------------------------------------------------

_F32: dict[str, Callable[..., Any]] = {}
_F64: dict[str, Callable[..., Any]] = {}


def _is_cpu(a: Any) -> bool:
    return isinstance(a, np.ndarray)


def _route(op: str, a: Any) -> Callable[..., Any]:
    dt = np.dtype(a.dtype)
    if dt == F32:
        if op in _CUDA_PENDING and not _is_cpu(a):
            return _CUDA_PENDING[op]
        return _F32[op]
    if dt == F64:
        if not _is_cpu(a):
            raise TypeError(f"{op}: float64 runs only on the CPU oracle route (gradient checks); "
                            f"CUDA arrays must be float32")
        return _F64[op]
    raise TypeError(f"{op}: expected a float32 array (float64 for gradient checks), got {dt}")


# ---- LANDED KERNELS (float32 -> fastnn.ops) ------------------------------------------------------
# Entries take the public function's arguments (further below); adapters bridge where a kernel's
# signature differs. The families land on main one by one: an entry is registered when this
# checkout has its fastnn.ops.<module>.<function>; an op without one stays on its oracle adapter
# (PENDING KERNELS below; pending_ops() lists them, and a test fails if an op whose kernel is
# present is still served by the oracle). The adapters were checked with the whole nn / optim /
# autograd test suite on a scratch merge of the family branches (gemm 731e288, conv 0c94970,
# attention ff6e74f, glue-a fff8a03, glue-b 8d8cee0).
# _CPU_ONLY: kernels without a CUDA path yet; on CuPy arrays those ops use the oracle adapter.

_F32["matmul"] = _ops_gemm.matmul  # CPU and CUDA
_CPU_ONLY: set[str] = set()
KERNEL_OF: dict[str, tuple[str, str]] = {"matmul": ("gemm", "matmul")}  # op -> (fastnn.ops module, function)


def _ops(module: str) -> Any:
    """fastnn.ops.<module>, or None where this checkout does not have it yet."""
    try:
        return importlib.import_module(f"fastnn.ops.{module}")
    except ImportError:
        return None


def _land(op: str, module: str, function: str, adapt: Callable[[Any], Callable[..., Any]] | None = None,
          cpu_only: bool = True) -> None:
    """Registers fastnn.ops.<module>.<function> for op, through adapt(fn) where signatures differ."""
    KERNEL_OF[op] = (module, function)
    mod = _ops(module)
    fn = getattr(mod, function, None) if mod is not None else None
    if fn is None:
        return
    _F32[op] = fn if adapt is None else adapt(fn)
    if cpu_only:
        _CPU_ONLY.add(op)


# gemm
_land("linear", "linear", "linear")
_land("linear_backward", "linear", "linear_backward")

# conv / pool
for _name in ("conv2d", "conv1d", "conv_transpose2d"):
    _land(_name, "conv", _name)
    _land(_name + "_backward", "conv", _name + "_backward")
_land("max_pool2d", "pool", "max_pool2d",
      lambda f: lambda x, k, s, p, d, ceil: f(x, k, s, p, d, ceil, return_indices=True))
for _name in ("max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward", "adaptive_avg_pool2d",
              "adaptive_avg_pool2d_backward"):
    _land(_name, "pool", _name)

# attention
_land("attention", "attention", "attention",
      lambda f: lambda q, k, v, *, causal, mask, scale: f(q, k, v, causal=causal, mask=mask, scale=scale,
                                                         return_lse=True))
_land("attention_backward", "attention", "attention_backward")

# glue-a: activations, softmax (backward from the output), losses, dropout
for _name in ("relu", "leaky_relu", "gelu", "sigmoid", "tanh", "silu", "softplus"):
    _land(_name, "activation", _name)
    _land(_name + "_backward", "activation", _name + "_backward")
for _name in ("softmax", "log_softmax"):
    _land(_name, "softmax", _name)
    _land(_name + "_backward", "softmax", _name + "_backward", lambda f: lambda g, x, y, axis: f(g, y, axis))
_land("cross_entropy", "loss", "cross_entropy")
_land("cross_entropy_backward", "loss", "cross_entropy_backward")
_land("binary_cross_entropy", "loss", "binary_cross_entropy",
      lambda f: lambda p, t, w, reduction: f(p, t, w, reduction=reduction))
_land("binary_cross_entropy_backward", "loss", "binary_cross_entropy_backward",
      lambda f: lambda g, p, t, w, reduction: f(g, p, t, w, reduction=reduction))
_land("binary_cross_entropy_with_logits", "loss", "binary_cross_entropy_with_logits",
      lambda f: lambda x, t, w, pw, reduction: f(x, t, w, reduction=reduction, pos_weight=pw))
_land("binary_cross_entropy_with_logits_backward", "loss", "binary_cross_entropy_with_logits_backward",
      lambda f: lambda g, x, t, w, pw, reduction: f(g, x, t, w, reduction=reduction, pos_weight=pw))
_land("mse_loss", "loss", "mse_loss", lambda f: lambda x, t, reduction: f(x, t, reduction=reduction))
_land("mse_loss_backward", "loss", "mse_loss_backward",
      lambda f: lambda g, x, t, reduction: f(g, x, t, reduction=reduction))
# the tape keeps only the seed: the backward regenerates the Philox mask
_land("dropout", "dropout", "dropout", lambda f: lambda x, p, seed: (f(x, p, seed=seed), seed))
_land("dropout_backward", "dropout", "dropout_backward", lambda f: lambda g, seed, p: f(g, p, seed=seed))
_land("embedding", "embedding", "embedding")
_land("embedding_backward", "embedding", "embedding_backward")


# glue-b: norms (with their saved statistics), broadcasting add/mul, reductions, optimizer steps
def _pack_stats(result: tuple) -> tuple:
    """(y, *stats) from a kernel called with return_stats=True -> (y, stats)."""
    return result[0], tuple(result[1:])


_land("layer_norm", "norm", "layer_norm",
      lambda f: lambda x, ns, w, b, eps: _pack_stats(f(x, ns, w, b, eps, return_stats=True)))
_land("layer_norm_backward", "norm", "layer_norm_backward",
      lambda f: lambda g, x, ns, w, b, eps, saved: f(g, x, ns, w, b, eps, mean=saved[0], rstd=saved[1]))
_land("rms_norm", "norm", "rms_norm", lambda f: lambda x, ns, w, eps: _pack_stats(f(x, ns, w, eps, return_stats=True)))
_land("rms_norm_backward", "norm", "rms_norm_backward",
      lambda f: lambda g, x, ns, w, eps, saved: f(g, x, ns, w, eps, rstd=saved[0]))
_land("batch_norm", "norm", "batch_norm",
      lambda f: lambda x, rm, rv, w, b, training, momentum, eps: _pack_stats(
          f(x, rm, rv, w, b, training, momentum, eps, return_stats=True)))
_land("batch_norm_backward", "norm", "batch_norm_backward",
      lambda f: lambda g, x, w, b, rm, rv, training, eps, saved: f(g, x, w, b, rm, rv, training, eps,
                                                                   mean=saved[0], rstd=saved[1]))
for _name in ("add", "add_backward", "mul", "mul_backward"):
    _land(_name, "elementwise", _name)
for _name in ("sum", "sum_backward", "mean", "mean_backward", "max"):
    _land(_name, "reduce", _name)
_land("max_backward", "reduce", "max_backward",
      lambda f: lambda g, x, axis, keepdims, indices: f(g, x, axis, keepdims, indices=indices))
_land("sgd_step_", "optim", "sgd_step_",
      lambda f: lambda param, grad, buf, *, lr, momentum, dampening, weight_decay, nesterov, maximize, first_step:
      f(param, grad, buf, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
        nesterov=nesterov, maximize=maximize, step=1 if first_step else None))


def _adam_step_(adam: Callable[..., Any], adamw: Callable[..., Any]) -> Callable[..., Any]:
    def step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, step, lr, beta1, beta2, eps, weight_decay,
             amsgrad, maximize, decoupled):
        (adamw if decoupled else adam)(param, grad, exp_avg, exp_avg_sq, step=step, lr=lr, beta1=beta1, beta2=beta2,
                                       eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                                       max_exp_avg_sq=max_exp_avg_sq, maximize=maximize)
    return step


_land("adam_step_", "optim", "adam_step_", lambda f: _adam_step_(f, _ops("optim").adamw_step_))


# CUDA kernels: these fastnn.ops functions dispatch CuPy arrays to their CUDA kernels (ops/cuda_gemm,
# cuda_glue, cuda_attention, cuda_conv), so on the GPU they no longer go through the oracle adapter.
_CPU_ONLY -= {
    "linear", "linear_backward", "conv2d", "conv2d_backward", "conv1d", "conv1d_backward", "conv_transpose2d",
    "conv_transpose2d_backward", "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward", "attention", "attention_backward",
    "relu", "relu_backward", "leaky_relu", "leaky_relu_backward", "gelu", "gelu_backward", "sigmoid",
    "sigmoid_backward", "tanh", "tanh_backward", "silu", "silu_backward", "softplus", "softplus_backward",
    "softmax", "softmax_backward", "log_softmax", "log_softmax_backward", "cross_entropy", "cross_entropy_backward",
    "dropout", "dropout_backward", "embedding", "embedding_backward", "layer_norm", "layer_norm_backward",
    "rms_norm", "rms_norm_backward", "batch_norm", "batch_norm_backward", "sgd_step_", "adam_step_",
    "add", "add_backward", "mul", "mul_backward", "sum", "sum_backward", "mean", "mean_backward",
}


# ---- PENDING KERNELS ---------------------------------------------------------------------------
# TEMPORARY. float32 ops whose fastnn kernel is not on main yet, served by their oracle adapter
# (float64 math cast back to float32; CUDA inputs make a round trip through the host). When a
# kernel lands: register it in LANDED KERNELS and delete its name here; nothing else changes.
_PENDING_OPS = [
    # gemm
    "linear", "linear_backward",
    # conv
    "conv2d", "conv2d_backward", "conv1d", "conv1d_backward", "conv_transpose2d",
    "conv_transpose2d_backward", "max_pool2d", "max_pool2d_backward", "avg_pool2d",
    "avg_pool2d_backward", "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward",
    # attention
    "attention", "attention_backward",
    # glue-a
    "relu", "relu_backward", "leaky_relu", "leaky_relu_backward", "gelu", "gelu_backward",
    "sigmoid", "sigmoid_backward", "tanh", "tanh_backward", "silu", "silu_backward", "softplus",
    "softplus_backward", "softmax", "softmax_backward", "log_softmax", "log_softmax_backward",
    "cross_entropy", "cross_entropy_backward", "binary_cross_entropy", "binary_cross_entropy_backward",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_backward", "mse_loss",
    "mse_loss_backward", "dropout", "dropout_backward", "embedding", "embedding_backward",
    # glue-b
    "layer_norm", "layer_norm_backward", "rms_norm", "rms_norm_backward", "batch_norm",
    "batch_norm_backward", "add", "add_backward", "mul", "mul_backward", "sum", "sum_backward",
    "mean", "mean_backward", "max", "max_backward", "sgd_step_", "adam_step_",
]


_SERVED_BY_ORACLE: list[str] = []
for _name in _PENDING_OPS:
    if _name not in _F32:  # a landed kernel wins over its adapter
        _F32[_name] = _oracle.entry(_name)
        _SERVED_BY_ORACLE.append(_name)


# CUDA PENDING: landed kernels that run on the CPU only so far (_CPU_ONLY). On CuPy arrays these
# ops are served by their oracle adapter (through the host) until the family's CUDA kernel lands.
_CUDA_PENDING: dict[str, Callable[..., Any]] = {name: _oracle.entry(name) for name in sorted(_CPU_ONLY)}


def pending_ops(device: str = "cpu") -> list[str]:
    """float32 ops still served by an oracle adapter on device (empty once every kernel has landed)."""
    return list(_SERVED_BY_ORACLE) + (sorted(_CUDA_PENDING) if device == "cuda" else [])


# ---- FLOAT64 ORACLE ----------------------------------------------------------------------------
# float64 inputs (CPU) run the reference itself: gradient checks of the autograd composition.

_F64.update(_oracle.all_entries())


# ---- public functions: the interface the autograd layer codes against -----------------------------

def _scalar_like(v: Any, a: Any) -> Any:
    """A Python number as a 0-d array of a's dtype on a's device (kernels take arrays)."""
    if hasattr(v, "dtype") and hasattr(v, "shape"):
        return v
    xp = np if _is_cpu(a) else backend.xp_for("cuda")
    return xp.asarray(v, dtype=a.dtype)


# gemm: x (..., in), weight (out, in), bias (out,) -> (..., out); activation fused after the bias
def matmul(a: Any, b: Any) -> Any:
    """NumPy matmul semantics (batch broadcasting, 1-D promotion); any strides."""
    return _route("matmul", a)(a, b)


def linear(x: Any, weight: Any, bias: Any = None, activation: str | None = None) -> Any:
    return _route("linear", x)(x, weight, bias, activation)


def linear_backward(grad_out: Any, x: Any, weight: Any, bias: Any = None, activation: str | None = None):
    """-> (grad_x, grad_weight, grad_bias or None)."""
    return _route("linear_backward", x)(grad_out, x, weight, bias, activation)


# conv / pool (NCHW; PyTorch argument names and meanings); backward -> (grad_x, grad_w, grad_b or None)
def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, activation=None):
    return _route("conv2d", x)(x, weight, bias, stride, padding, dilation, groups, activation)


def _masked_backward(op: str, grad_out: Any, x: Any, args: tuple, needs_input_grad: Any) -> tuple:
    """op's gradients: the fastnn kernel is told which are wanted (needs_input_grad, (x, weight, bias)) and
    skips the others; the oracle routes compute all three and the unwanted ones are dropped."""
    fn = _route(op, x)
    if needs_input_grad is None:
        return fn(grad_out, x, *args)
    if fn is _F32.get(op) and KERNEL_OF.get(op, ("", ""))[0] == "conv" and op not in _SERVED_BY_ORACLE:
        return fn(grad_out, x, *args, needs_input_grad=tuple(needs_input_grad))
    return tuple(g if need else None for g, need in zip(fn(grad_out, x, *args), needs_input_grad))


def conv2d_backward(grad_out, x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, activation=None,
                    needs_input_grad=None):
    """needs_input_grad: None, or 3 bools (x, weight, bias); unwanted gradients come back as None."""
    return _masked_backward("conv2d_backward", grad_out, x,
                            (weight, bias, stride, padding, dilation, groups, activation), needs_input_grad)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, activation=None):
    return _route("conv1d", x)(x, weight, bias, stride, padding, dilation, groups, activation)


def conv1d_backward(grad_out, x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, activation=None,
                    needs_input_grad=None):
    return _masked_backward("conv1d_backward", grad_out, x,
                            (weight, bias, stride, padding, dilation, groups, activation), needs_input_grad)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _route("conv_transpose2d", x)(x, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose2d_backward(grad_out, x, weight, bias=None, stride=1, padding=0, output_padding=0,
                              groups=1, dilation=1, needs_input_grad=None):
    return _masked_backward("conv_transpose2d_backward", grad_out, x,
                            (weight, bias, stride, padding, output_padding, groups, dilation), needs_input_grad)


def max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode):
    """-> (y, indices int64: flat h*W + w within each input plane)."""
    return _route("max_pool2d", x)(x, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool2d_backward(grad_out, x, indices, kernel_size, stride, padding, dilation, ceil_mode):
    return _route("max_pool2d_backward", x)(grad_out, x, indices, kernel_size, stride, padding, dilation,
                                            ceil_mode)


def avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    return _route("avg_pool2d", x)(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                   divisor_override)


def avg_pool2d_backward(grad_out, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                        divisor_override):
    return _route("avg_pool2d_backward", x)(grad_out, x, kernel_size, stride, padding, ceil_mode,
                                            count_include_pad, divisor_override)


def adaptive_avg_pool2d(x, output_size):
    return _route("adaptive_avg_pool2d", x)(x, output_size)


def adaptive_avg_pool2d_backward(grad_out, x, output_size):
    return _route("adaptive_avg_pool2d_backward", x)(grad_out, x, output_size)


# attention: q (B, Hq, Lq, D), k (B, Hkv, Lk, D), v (B, Hkv, Lk, Dv); mask bool (True = keep) or
# additive float, broadcastable to (B, Hq, Lq, Lk); causal is bottom-right aligned
def attention(q, k, v, *, causal=False, mask=None, scale=None):
    """-> (out (B, Hq, Lq, Dv), lse (B, Hq, Lq))."""
    return _route("attention", q)(q, k, v, causal=causal, mask=mask, scale=scale)


def attention_backward(grad_out, q, k, v, out, lse, *, causal=False, mask=None, scale=None):
    """-> (dq, dk, dv); dk/dv summed over the query heads sharing a kv head."""
    return _route("attention_backward", q)(grad_out, q, k, v, out, lse, causal=causal, mask=mask, scale=scale)


# activations: forward(x, **params) and backward(grad_out, x, **params) from the forward *input*
ACTIVATIONS = ("relu", "leaky_relu", "gelu", "sigmoid", "tanh", "silu", "softplus")


def activation(name: str, x: Any, **params: Any) -> Any:
    return _route(name, x)(x, **params)


# sigmoid / tanh backwards also work from the forward output y (as PyTorch's): no exp recomputed,
# so they are memory-bound. CPU only so far (the CUDA kernels take x).
ACTIVATIONS_FROM_OUTPUT = ("sigmoid", "tanh")


def backward_from_output(name: str, a: Any) -> bool:
    """Whether activation_backward(name, ...) uses y (when given) for arrays like a."""
    return name in ACTIVATIONS_FROM_OUTPUT and _is_cpu(a)


def activation_backward(name: str, grad_out: Any, x: Any, y: Any = None, **params: Any) -> Any:
    """y: the forward output, optional; where backward_from_output(name, y) the backward works
    from it (x may then be None), otherwise from the forward input x."""
    if y is not None and backward_from_output(name, y):
        return _route(name + "_backward", y)(grad_out, y=y)
    return _route(name + "_backward", x)(grad_out, x, **params)


def softmax(x, axis=-1):
    return _route("softmax", x)(x, axis)


def softmax_backward(grad_out, x, y, axis=-1):
    """y = softmax(x), for kernels that work from the output."""
    return _route("softmax_backward", x)(grad_out, x, y, axis)


def log_softmax(x, axis=-1):
    return _route("log_softmax", x)(x, axis)


def log_softmax_backward(grad_out, x, y, axis=-1):
    return _route("log_softmax_backward", x)(grad_out, x, y, axis)


# losses: reduction 'mean' | 'sum' (0-d result, 0-d grad_out) | 'none'; backward -> grad of input 1
def cross_entropy(logits, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    return _route("cross_entropy", logits)(logits, target, weight=weight, ignore_index=ignore_index,
                                           reduction=reduction, label_smoothing=label_smoothing)


def cross_entropy_backward(grad_out, logits, target, weight=None, ignore_index=-100, reduction="mean",
                           label_smoothing=0.0):
    return _route("cross_entropy_backward", logits)(grad_out, logits, target, weight=weight,
                                                    ignore_index=ignore_index, reduction=reduction,
                                                    label_smoothing=label_smoothing)


def binary_cross_entropy(p, target, weight=None, reduction="mean"):
    return _route("binary_cross_entropy", p)(p, target, weight, reduction)


def binary_cross_entropy_backward(grad_out, p, target, weight=None, reduction="mean"):
    return _route("binary_cross_entropy_backward", p)(grad_out, p, target, weight, reduction)


def binary_cross_entropy_with_logits(x, target, weight=None, pos_weight=None, reduction="mean"):
    return _route("binary_cross_entropy_with_logits", x)(x, target, weight, pos_weight, reduction)


def binary_cross_entropy_with_logits_backward(grad_out, x, target, weight=None, pos_weight=None,
                                              reduction="mean"):
    return _route("binary_cross_entropy_with_logits_backward", x)(grad_out, x, target, weight, pos_weight,
                                                                  reduction)


def mse_loss(x, target, reduction="mean"):
    return _route("mse_loss", x)(x, target, reduction)


def mse_loss_backward(grad_out, x, target, reduction="mean"):
    return _route("mse_loss_backward", x)(grad_out, x, target, reduction)


# dropout: keep-mask drawn from a Philox stream keyed by seed; y = x * keep / (1 - p)
def dropout(x, p, seed):
    """-> (y, state the backward needs)."""
    return _route("dropout", x)(x, p, seed)


def dropout_backward(grad_out, state, p):
    return _route("dropout_backward", grad_out)(grad_out, state, p)


# embedding: indices (...) int, weight (num, D) -> (..., D); backward -> grad_weight (num, D)
def embedding(indices, weight, padding_idx=None):
    return _route("embedding", weight)(indices, weight, padding_idx)


def embedding_backward(grad_out, indices, num_embeddings, padding_idx=None):
    return _route("embedding_backward", grad_out)(grad_out, indices, num_embeddings, padding_idx)


# normalization
# normalization: forwards return (y, saved statistics for the backward, or None)
def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    return _route("layer_norm", x)(x, normalized_shape, weight, bias, eps)


def layer_norm_backward(grad_out, x, normalized_shape, weight=None, bias=None, eps=1e-5, saved=None):
    """-> (grad_x, grad_weight or None, grad_bias or None)."""
    return _route("layer_norm_backward", x)(grad_out, x, normalized_shape, weight, bias, eps, saved)


def rms_norm(x, normalized_shape, weight=None, eps=None):
    return _route("rms_norm", x)(x, normalized_shape, weight, eps)


def rms_norm_backward(grad_out, x, normalized_shape, weight=None, eps=None, saved=None):
    """-> (grad_x, grad_weight or None)."""
    return _route("rms_norm_backward", x)(grad_out, x, normalized_shape, weight, eps, saved)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """-> (y, saved); training updates running_mean / running_var (when given) in place."""
    return _route("batch_norm", x)(x, running_mean, running_var, weight, bias, training, momentum, eps)


def batch_norm_backward(grad_out, x, weight, bias, running_mean, running_var, training, eps=1e-5, saved=None):
    """-> (grad_x, grad_weight or None, grad_bias or None)."""
    return _route("batch_norm_backward", x)(grad_out, x, weight, bias, running_mean, running_var, training, eps,
                                            saved)


# broadcasting elementwise and reductions
def add(a, b):
    """b: an array or a Python number."""
    return _route("add", a)(a, b)


def add_backward(grad_out, a, b):
    """-> (grad_a, grad_b), each summed down to its input's shape."""
    return _route("add_backward", grad_out)(grad_out, a, b)


def mul(a, b):
    """b: an array or a Python number."""
    return _route("mul", a)(a, b)


def mul_backward(grad_out, a, b):
    return _route("mul_backward", grad_out)(grad_out, a, b)


def sum(x, axis=None, keepdims=False):  # noqa: A001  (the kernel's name)
    return _route("sum", x)(x, axis, keepdims)


def sum_backward(grad_out, x, axis=None, keepdims=False):
    return _route("sum_backward", x)(grad_out, x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    return _route("mean", x)(x, axis, keepdims)


def mean_backward(grad_out, x, axis=None, keepdims=False):
    return _route("mean_backward", x)(grad_out, x, axis, keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001
    """-> (values, int64 indices); the whole gradient goes to the first maximum."""
    return _route("max", x)(x, axis, keepdims)


def max_backward(grad_out, x, axis=None, keepdims=False, indices=None):
    """indices: from max() (saves finding the maxima again)."""
    return _route("max_backward", x)(grad_out, x, axis, keepdims, indices)


# fused in-place optimizer steps (torch.optim formulas, one tensor each)
def sgd_step_(param, grad, momentum_buf, *, lr, momentum, dampening, weight_decay, nesterov, maximize,
              first_step):
    """Updates param (and momentum_buf, preallocated, None when momentum == 0) in place."""
    _route("sgd_step_", param)(param, grad, momentum_buf, lr=lr, momentum=momentum, dampening=dampening,
                               weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                               first_step=first_step)


def adam_step_(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, step, lr, beta1, beta2, eps,
               weight_decay, amsgrad, maximize, decoupled):
    """Adam (decoupled=False) or AdamW (True); step counts from 1; updates param and the moment
    buffers (max_exp_avg_sq too when amsgrad) in place."""
    _route("adam_step_", param)(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step=step, lr=lr,
                                beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                                amsgrad=amsgrad, maximize=maximize, decoupled=decoupled)


# ---- COMPOSITES: ops no kernel family provides, built from the kernels above ----------------------

def neg(a):
    return mul(a, -1.0)


def sub(a, b):
    return add(a, -float(b)) if isinstance(b, (int, float)) else add(a, neg(b))


def unbroadcast(grad, shape):
    """Sum grad down to ``shape`` (the inverse of broadcasting) with the sum kernel."""
    shape = tuple(shape)
    if tuple(grad.shape) == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and grad.shape[lead + i] != 1)
    return sum(grad, axes, True).reshape(shape)


# ---- UNOWNED: elementwise math no kernel family provides yet -------------------------------------
# Plain array math. No fastnn layer, loss or optimizer uses these; they exist for user code
# (Tensor.exp(), a / b with a tensor divisor...). Each wants a kernel (glue-a/glue-b scope).

def _xp(a: Any):
    return np if _is_cpu(a) else backend.xp_for("cuda")


def _checked_float(op: str, a: Any) -> None:
    if np.dtype(a.dtype) not in (F32, F64):
        raise TypeError(f"{op}: expected a float32 array (float64 for gradient checks), got {a.dtype}")


def full_like(a, value):
    """Allocation, not math: an array of a's shape, dtype and device filled with value."""
    return _xp(a).full(a.shape, value, dtype=a.dtype)


def div(a, b):
    _checked_float("div", a)
    return (a / _scalar_like(b, a)).astype(a.dtype, copy=False)


def exp(a):
    _checked_float("exp", a)
    return _xp(a).exp(a)


def log(a):
    _checked_float("log", a)
    return _xp(a).log(a)


def sqrt(a):
    _checked_float("sqrt", a)
    return _xp(a).sqrt(a)


def pow(a, exponent):  # noqa: A001
    _checked_float("pow", a)
    return (a ** _scalar_like(exponent, a)).astype(a.dtype, copy=False)


def index_add(shape, index, values):
    """zeros(shape) with values scatter-added at ``index`` (repeated positions accumulate)."""
    xp = _xp(values)
    out = xp.zeros(shape, dtype=values.dtype)
    if xp is np:
        np.add.at(out, index, values)
    else:
        import cupyx

        cupyx.scatter_add(out, index, values)
    return out


