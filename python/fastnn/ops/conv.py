"""Convolutions on CPU (NumPy float32), PyTorch semantics and layouts; CUDA arrays (float32, float16,
bfloat16) are checked here and run by :mod:`fastnn.ops.cuda_conv`.

conv2d / conv1d: x (N, C, H, W) / (N, C, L), weight (K, C/groups, R, S) / (K, C/groups, Ks).
conv_transpose2d / conv_transpose1d: weight (C_in, C_out/groups, R, S) / (C_in, C_out/groups, Ks).
Backward functions return the gradients in input order: (grad_x, grad_weight, grad_bias), with
grad_bias None when bias is None.

Inputs may be any NumPy views; non-contiguous ones are copied once to C order (the kernels read
NCHW). Outputs are freshly allocated, or written into ``out=`` (float32, the result's shape).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from .._ext import _C
from .._validate import FLOAT32, check_dtype, check_ndim, check_out, may_overlap

ACTIVATIONS = ("relu", "gelu", "gelu_tanh", "sigmoid", "tanh", "silu")


# ---- argument parsing -----------------------------------------------------------------------

def _int(fn: str, arg: str, v: Any) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{fn}: {arg} must be an int, got {type(v).__name__}")
    return int(v)


def _tuple(fn: str, arg: str, v: Any, n: int, minimum: int) -> tuple[int, ...]:
    """An int or a length-n sequence of ints, each >= minimum."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        vals = (int(v),) * n
    elif isinstance(v, (tuple, list)):
        if len(v) == 1 and n > 1:
            v = tuple(v) * n
        if len(v) != n:
            raise ValueError(f"{fn}: {arg} must be an int or {n} ints, got {tuple(v)}")
        vals = tuple(_int(fn, arg, e) for e in v)
    else:
        raise TypeError(f"{fn}: {arg} must be an int or a tuple of {n} ints, got {type(v).__name__}")
    if any(e < minimum for e in vals):
        raise ValueError(f"{fn}: {arg} must be >= {minimum}, got {vals if n > 1 else vals[0]}")
    return vals


def _activation(fn: str, activation: Any) -> str:
    if activation is None:
        return "none"
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(f"{fn}: activation must be None or one of {', '.join(ACTIVATIONS)}, got {activation!r}")
    return activation


def _pads(fn: str, padding: Any, kernel: tuple[int, ...], stride: tuple[int, ...],
          dilation: tuple[int, ...]) -> tuple[int, ...]:
    """(before, after) per spatial dim, flattened: 'same' puts the odd extra at the end (PyTorch)."""
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * (2 * n)
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{fn}: padding='same' is not supported for strided convolutions (stride={stride})")
            pads: list[int] = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
            return tuple(pads)
        raise ValueError(f"{fn}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
    p = _tuple(fn, "padding", padding, n, 0)
    return tuple(e for v in p for e in (v, v))


def _cpu(fn: str, **arrays: Any) -> dict[str, Any]:
    """Checks the arrays are on the CPU and float32; returns them as NumPy arrays (None kept)."""
    backend.common_device(fn, **arrays)  # CUDA arrays were dispatched by the callers
    out = {}
    for name, a in arrays.items():
        if a is None:
            out[name] = None
            continue
        a = backend.as_array(a, fn, name)
        check_dtype(fn, name, a)
        out[name] = a
    return out


def _cuda(fn: str, **arrays: Any) -> bool:
    """Whether the arrays live on the GPU (ValueError naming them if they are on different devices)."""
    return backend.common_device(fn, **arrays) == "cuda"


def _arrays(fn: str, **arrays: Any) -> dict[str, Any]:
    """The 1-D wrappers' arrays: CUDA arrays as they are (checked by the 2-D function), else _cpu."""
    if _cuda(fn, **arrays):
        return dict(arrays)
    return _cpu(fn, **arrays)


def _c(a: Any) -> Any:
    return None if a is None else np.ascontiguousarray(a)


def _check_bias(fn: str, bias: Any, n: int, what: str) -> None:
    if bias is None:
        return
    check_ndim(fn, "bias", bias, 1)
    if bias.shape[0] != n:
        raise ValueError(f"{fn}: bias must have shape ({n},) ({what}), got {tuple(bias.shape)}")


def _check_groups(fn: str, groups: Any, c_in: int, c_out: int) -> int:
    groups = _int(fn, "groups", groups)
    if groups < 1:
        raise ValueError(f"{fn}: groups must be >= 1, got {groups}")
    if c_in % groups or c_out % groups:
        raise ValueError(f"{fn}: groups={groups} must divide the input channels ({c_in}) "
                         f"and the output channels ({c_out})")
    return groups


def _out_size(fn: str, size: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
              pads: tuple[int, ...], dilation: tuple[int, ...]) -> tuple[int, ...]:
    out = []
    for i, (L, k, s, d) in enumerate(zip(size, kernel, stride, dilation)):
        span = L + pads[2 * i] + pads[2 * i + 1] - d * (k - 1) - 1
        if span < 0:
            raise ValueError(f"{fn}: input size {tuple(size)} (padded {L + pads[2 * i] + pads[2 * i + 1]} in dim "
                             f"{i}) is smaller than the dilated kernel ({d * (k - 1) + 1})")
        out.append(span // s + 1)
    return tuple(out)


def _result(fn: str, shape: tuple[int, ...], out: Any, *inputs: Any) -> tuple[np.ndarray, Any]:
    """(target the kernel writes, out or None): a temporary when out is missing, strided or aliased."""
    if out is None:
        return np.empty(shape, dtype=np.float32), None
    out = backend.as_array(out, fn, "out")
    check_out(fn, out, shape, FLOAT32, "cpu")
    if out.flags.c_contiguous and not may_overlap(out, *[a for a in inputs if a is not None]):
        return out, out
    return np.empty(shape, dtype=np.float32), out


def _needs(fn: str, needs_input_grad: Any, bias: Any) -> tuple[bool, bool, bool]:
    """(grad_x, grad_weight, grad_bias) wanted: None means all three (grad_bias only with a bias)."""
    if needs_input_grad is None:
        return True, True, bias is not None
    if not isinstance(needs_input_grad, (tuple, list)):
        raise TypeError(f"{fn}: needs_input_grad must be None or a tuple of 3 bools (x, weight, bias), "
                        f"got {type(needs_input_grad).__name__}")
    if len(needs_input_grad) != 3:
        raise ValueError(f"{fn}: needs_input_grad must have 3 entries (x, weight, bias), got {len(needs_input_grad)}")
    for v in needs_input_grad:
        if not isinstance(v, (bool, np.bool_)):
            raise TypeError(f"{fn}: needs_input_grad must hold bools, got {type(v).__name__}")
    nx, nw, nb = (bool(v) for v in needs_input_grad)
    return nx, nw, nb and bias is not None


def _masked(grads: tuple, need: tuple[bool, bool, bool]) -> tuple:
    return tuple(g if n else None for g, n in zip(grads, need))


def _finish(target: np.ndarray, out: Any) -> np.ndarray:
    if out is not None and target is not out:
        out[...] = target
        return out
    return target


# ---- conv2d ---------------------------------------------------------------------------------

def _conv2d_args(fn: str, x: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any, groups: Any):
    check_ndim(fn, "x", x, 4)
    check_ndim(fn, "weight", weight, 4)
    N, C, H, W = x.shape
    K, Cg, R, S = weight.shape
    groups = _check_groups(fn, groups, C, K)
    if Cg != C // groups or R < 1 or S < 1:
        raise ValueError(f"{fn}: weight must have shape (K, {C // groups}, R, S) with R, S >= 1 for x with {C} "
                         f"channels and groups={groups}, got {tuple(weight.shape)}")
    _check_bias(fn, bias, K, "one per output channel")
    stride = _tuple(fn, "stride", stride, 2, 1)
    dilation = _tuple(fn, "dilation", dilation, 2, 1)
    pads = _pads(fn, padding, (R, S), stride, dilation)
    Ho, Wo = _out_size(fn, (H, W), (R, S), stride, pads, dilation)
    return stride, pads, dilation, groups, (N, K, Ho, Wo)


def conv2d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           groups: int = 1, activation: str | None = None, out: Any = None) -> np.ndarray:
    """``activation(conv2d(x, weight) + bias)``, as ``torch.nn.functional.conv2d`` then the activation.

    x (N, C, H, W), weight (K, C/groups, R, S), bias (K,) or None → (N, K, Ho, Wo).
    padding: int, (ph, pw), 'valid', or 'same' (stride 1; an odd total puts the extra row/column
    at the bottom/right). activation: None, 'relu', 'gelu', 'gelu_tanh', 'sigmoid', 'tanh', 'silu',
    fused into the kernel's epilogue.
    """
    fn = "conv2d"
    if _cuda(fn, x=x, weight=weight, bias=bias, out=out):
        from . import cuda_conv

        stride, pads, dilation, groups, shape = _conv2d_args(fn, x, weight, bias, stride, padding, dilation, groups)
        return cuda_conv.conv2d(x, weight, bias, stride, pads, dilation, groups, _activation(fn, activation), shape,
                                out)
    a = _cpu(fn, x=x, weight=weight, bias=bias, out=None)
    x, weight, bias = a["x"], a["weight"], a["bias"]
    stride, pads, dilation, groups, shape = _conv2d_args(fn, x, weight, bias, stride, padding, dilation, groups)
    act = _activation(fn, activation)
    target, out = _result(fn, shape, out, x, weight, bias)
    if target.size:
        _C.conv2d(_c(x), _c(weight), _c(bias), stride, pads, dilation, groups, act, target)
    return _finish(target, out)


def conv2d_backward(grad_out: Any, x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                    dilation: Any = 1, groups: int = 1, activation: str | None = None,
                    needs_input_grad: Any = None):
    """Gradients of :func:`conv2d` (same arguments): ``(grad_x, grad_weight, grad_bias)``.

    grad_out (N, K, Ho, Wo). grad_bias is None when bias is None. With an activation, the
    pre-activation is recomputed from x, weight and bias. needs_input_grad: None (all), or 3 bools
    (x, weight, bias) as torch's ``ctx.needs_input_grad``: a gradient not wanted is not computed
    and comes back as None (a network's first layer needs no grad_x).
    """
    fn = "conv2d_backward"
    need = _needs(fn, needs_input_grad, bias)
    if _cuda(fn, grad_out=grad_out, x=x, weight=weight, bias=bias):
        from . import cuda_conv

        stride, pads, dilation, groups, shape = _conv2d_args(fn, x, weight, bias, stride, padding, dilation, groups)
        act = _activation(fn, activation)
        check_ndim(fn, "grad_out", grad_out, 4)
        if tuple(grad_out.shape) != shape:
            raise ValueError(f"{fn}: grad_out must have the output's shape {shape}, got {tuple(grad_out.shape)}")
        return _masked(cuda_conv.conv2d_backward(grad_out, x, weight, bias, stride, pads, dilation, groups, act), need)
    a = _cpu(fn, grad_out=grad_out, x=x, weight=weight, bias=bias)
    g, x, weight, bias = a["grad_out"], a["x"], a["weight"], a["bias"]
    stride, pads, dilation, groups, shape = _conv2d_args(fn, x, weight, bias, stride, padding, dilation, groups)
    act = _activation(fn, activation)
    check_ndim(fn, "grad_out", g, 4)
    if tuple(g.shape) != shape:
        raise ValueError(f"{fn}: grad_out must have the output's shape {shape}, got {tuple(g.shape)}")
    gx = np.empty(x.shape, dtype=np.float32) if need[0] else None
    gw = np.empty(weight.shape, dtype=np.float32) if need[1] else None
    gb = np.empty(bias.shape, dtype=np.float32) if need[2] else None
    if any(a is not None and a.size for a in (gx, gw, gb)):
        _C.conv2d_backward(_c(g), _c(x), _c(weight), _c(bias), stride, pads, dilation, groups, act,
                           *(a if a is not None and a.size else None for a in (gx, gw, gb)))
    return gx, gw, gb


# ---- conv_transpose2d -----------------------------------------------------------------------

def _convt2d_args(fn: str, x: Any, weight: Any, bias: Any, stride: Any, padding: Any, output_padding: Any,
                  groups: Any, dilation: Any):
    check_ndim(fn, "x", x, 4)
    check_ndim(fn, "weight", weight, 4)
    N, Cin, H, W = x.shape
    Cin_w, Coutg, R, S = weight.shape
    groups = _int(fn, "groups", groups)
    if groups < 1:
        raise ValueError(f"{fn}: groups must be >= 1, got {groups}")
    if Cin % groups:
        raise ValueError(f"{fn}: groups={groups} must divide the input channels ({Cin})")
    if Cin_w != Cin or R < 1 or S < 1:
        raise ValueError(f"{fn}: weight must have shape ({Cin}, C_out/groups, R, S) for x with {Cin} channels, "
                         f"got {tuple(weight.shape)}")
    Cout = Coutg * groups
    _check_bias(fn, bias, Cout, "one per output channel")
    stride = _tuple(fn, "stride", stride, 2, 1)
    dilation = _tuple(fn, "dilation", dilation, 2, 1)
    pad = _tuple(fn, "padding", padding, 2, 0)
    opad = _tuple(fn, "output_padding", output_padding, 2, 0)
    for i in range(2):
        if not (opad[i] < stride[i] or opad[i] < dilation[i]):
            raise ValueError(f"{fn}: output_padding must be smaller than either stride or dilation, got "
                             f"output_padding={opad}, stride={stride}, dilation={dilation}")
    Ho = (H - 1) * stride[0] - 2 * pad[0] + dilation[0] * (R - 1) + opad[0] + 1
    Wo = (W - 1) * stride[1] - 2 * pad[1] + dilation[1] * (S - 1) + opad[1] + 1
    if Ho < 1 or Wo < 1:
        raise ValueError(f"{fn}: output size ({Ho}, {Wo}) is not positive (input {(H, W)}, padding {pad})")
    return stride, pad, opad, dilation, groups, (N, Cout, Ho, Wo)


def conv_transpose2d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1, dilation: Any = 1, out: Any = None) -> np.ndarray:
    """``torch.nn.functional.conv_transpose2d``: the adjoint of conv2d, plus bias.

    x (N, C_in, H, W), weight (C_in, C_out/groups, R, S), bias (C_out,) or None →
    (N, C_out, (H-1)*stride - 2*padding + dilation*(R-1) + output_padding + 1, ...).
    """
    fn = "conv_transpose2d"
    if _cuda(fn, x=x, weight=weight, bias=bias, out=out):
        from . import cuda_conv

        stride, pad, opad, dilation, groups, shape = _convt2d_args(fn, x, weight, bias, stride, padding,
                                                                   output_padding, groups, dilation)
        return cuda_conv.conv_transpose2d(x, weight, bias, stride, pad, dilation, groups, shape, out)
    a = _cpu(fn, x=x, weight=weight, bias=bias)
    x, weight, bias = a["x"], a["weight"], a["bias"]
    stride, pad, opad, dilation, groups, shape = _convt2d_args(fn, x, weight, bias, stride, padding,
                                                               output_padding, groups, dilation)
    target, out = _result(fn, shape, out, x, weight, bias)
    if target.size:
        if x.size == 0 or weight.size == 0:  # no products: the output is the bias
            target[...] = 0 if bias is None else bias.reshape(1, -1, 1, 1)
        else:
            _C.conv_transpose2d(_c(x), _c(weight), _c(bias), stride, pad, opad, dilation, groups, target)
    return _finish(target, out)


def conv_transpose2d_backward(grad_out: Any, x: Any, weight: Any, bias: Any = None, stride: Any = 1,
                              padding: Any = 0, output_padding: Any = 0, groups: int = 1, dilation: Any = 1,
                              needs_input_grad: Any = None):
    """Gradients of :func:`conv_transpose2d`: ``(grad_x, grad_weight, grad_bias)``; needs_input_grad as in
    :func:`conv2d_backward`."""
    fn = "conv_transpose2d_backward"
    need = _needs(fn, needs_input_grad, bias)
    if _cuda(fn, grad_out=grad_out, x=x, weight=weight, bias=bias):
        from . import cuda_conv

        stride, pad, opad, dilation, groups, shape = _convt2d_args(fn, x, weight, bias, stride, padding,
                                                                   output_padding, groups, dilation)
        check_ndim(fn, "grad_out", grad_out, 4)
        if tuple(grad_out.shape) != shape:
            raise ValueError(f"{fn}: grad_out must have the output's shape {shape}, got {tuple(grad_out.shape)}")
        return _masked(cuda_conv.conv_transpose2d_backward(grad_out, x, weight, bias, stride, pad, dilation, groups),
                       need)
    a = _cpu(fn, grad_out=grad_out, x=x, weight=weight, bias=bias)
    g, x, weight, bias = a["grad_out"], a["x"], a["weight"], a["bias"]
    stride, pad, opad, dilation, groups, shape = _convt2d_args(fn, x, weight, bias, stride, padding,
                                                               output_padding, groups, dilation)
    check_ndim(fn, "grad_out", g, 4)
    if tuple(g.shape) != shape:
        raise ValueError(f"{fn}: grad_out must have the output's shape {shape}, got {tuple(g.shape)}")
    gx = np.empty(x.shape, dtype=np.float32) if need[0] else None
    gw = np.empty(weight.shape, dtype=np.float32) if need[1] else None
    gb = np.empty(bias.shape, dtype=np.float32) if need[2] else None
    if x.size == 0 or weight.size == 0:
        for a in (gx, gw):
            if a is not None:
                a[...] = 0
        if gb is not None:
            gb[...] = g.sum(axis=(0, 2, 3), dtype=np.float64)
        return gx, gw, gb
    if any(a is not None for a in (gx, gw, gb)):
        _C.conv_transpose2d_backward(_c(g), _c(x), _c(weight), stride, pad, opad, dilation, groups,
                                     gx, gw, gb if gb is not None and gb.size else None)
    return gx, gw, gb


# ---- 1-D versions: H = 1 views of the 2-D kernels --------------------------------------------

def _pads1d(fn: str, padding: Any) -> Any:
    if isinstance(padding, str):
        return padding
    return (0, _tuple(fn, "padding", padding, 1, 0)[0])


def _one(fn: str, arg: str, v: Any, minimum: int) -> tuple[int, int]:
    return (1, _tuple(fn, arg, v, 1, minimum)[0])


def _check3(fn: str, **arrays: Any) -> None:
    for name, a in arrays.items():
        if a is not None:
            check_ndim(fn, name, a, 3)


def _renamed(fn: str, exc: Exception) -> Exception:
    """Re-raises a 2-D error under the 1-D function's name."""
    return type(exc)(str(exc).replace(fn.replace("1d", "2d"), fn, 1))


def conv1d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           groups: int = 1, activation: str | None = None, out: Any = None) -> np.ndarray:
    """``activation(conv1d(x, weight) + bias)``: x (N, C, L), weight (K, C/groups, Ks) → (N, K, Lo).
    padding: int, 'valid' or 'same'."""
    fn = "conv1d"
    a = _arrays(fn, x=x, weight=weight, bias=bias)
    _check3(fn, x=a["x"], weight=a["weight"])
    if out is not None:
        out = backend.as_array(out, fn, "out")
        check_ndim(fn, "out", out, 3)
        out = out[:, :, None, :]
    try:
        y = conv2d(a["x"][:, :, None, :], a["weight"][:, :, None, :], a["bias"], _one(fn, "stride", stride, 1),
                   _pads1d(fn, padding), _one(fn, "dilation", dilation, 1), groups, activation, out)
    except (ValueError, TypeError) as exc:
        raise _renamed(fn, exc) from None
    return y[:, :, 0, :]


def conv1d_backward(grad_out: Any, x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                    dilation: Any = 1, groups: int = 1, activation: str | None = None,
                    needs_input_grad: Any = None):
    """Gradients of :func:`conv1d`: ``(grad_x, grad_weight, grad_bias)``; needs_input_grad as in
    :func:`conv2d_backward`."""
    fn = "conv1d_backward"
    a = _arrays(fn, grad_out=grad_out, x=x, weight=weight, bias=bias)
    _check3(fn, grad_out=a["grad_out"], x=a["x"], weight=a["weight"])
    try:
        gx, gw, gb = conv2d_backward(a["grad_out"][:, :, None, :], a["x"][:, :, None, :],
                                     a["weight"][:, :, None, :], a["bias"], _one(fn, "stride", stride, 1),
                                     _pads1d(fn, padding), _one(fn, "dilation", dilation, 1), groups, activation,
                                     needs_input_grad)
    except (ValueError, TypeError) as exc:
        raise _renamed(fn, exc) from None
    return (None if gx is None else gx[:, :, 0, :]), (None if gw is None else gw[:, :, 0, :]), gb


def conv_transpose1d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1, dilation: Any = 1, out: Any = None) -> np.ndarray:
    """``torch.nn.functional.conv_transpose1d``: x (N, C_in, L), weight (C_in, C_out/groups, Ks)."""
    fn = "conv_transpose1d"
    a = _arrays(fn, x=x, weight=weight, bias=bias)
    _check3(fn, x=a["x"], weight=a["weight"])
    if out is not None:
        out = backend.as_array(out, fn, "out")
        check_ndim(fn, "out", out, 3)
        out = out[:, :, None, :]
    try:
        y = conv_transpose2d(a["x"][:, :, None, :], a["weight"][:, :, None, :], a["bias"],
                             _one(fn, "stride", stride, 1), (0, _tuple(fn, "padding", padding, 1, 0)[0]),
                             (0, _tuple(fn, "output_padding", output_padding, 1, 0)[0]), groups,
                             _one(fn, "dilation", dilation, 1), out)
    except (ValueError, TypeError) as exc:
        raise _renamed(fn, exc) from None
    return y[:, :, 0, :]


def conv_transpose1d_backward(grad_out: Any, x: Any, weight: Any, bias: Any = None, stride: Any = 1,
                              padding: Any = 0, output_padding: Any = 0, groups: int = 1, dilation: Any = 1):
    """Gradients of :func:`conv_transpose1d`: ``(grad_x, grad_weight, grad_bias)``."""
    fn = "conv_transpose1d_backward"
    a = _arrays(fn, grad_out=grad_out, x=x, weight=weight, bias=bias)
    _check3(fn, grad_out=a["grad_out"], x=a["x"], weight=a["weight"])
    try:
        gx, gw, gb = conv_transpose2d_backward(
            a["grad_out"][:, :, None, :], a["x"][:, :, None, :], a["weight"][:, :, None, :], a["bias"],
            _one(fn, "stride", stride, 1), (0, _tuple(fn, "padding", padding, 1, 0)[0]),
            (0, _tuple(fn, "output_padding", output_padding, 1, 0)[0]), groups, _one(fn, "dilation", dilation, 1))
    except (ValueError, TypeError) as exc:
        raise _renamed(fn, exc) from None
    return gx[:, :, 0, :], gw[:, :, 0, :], gb
