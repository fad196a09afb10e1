"""CUDA side of the glue ops: activations, softmax, cross_entropy, layer/rms/batch norm,
embedding, dropout and the fused optimizer steps.

The public functions (``fastnn.relu``, ``fastnn.softmax``, ...) send CUDA arrays here; each
function below has the public function's arguments and semantics (see its CPU docstring) plus
``dtype=`` (``'bfloat16'`` marks uint16 arrays of bfloat16 bits). float32, float16 and bfloat16
run with FP32 math (optimizer steps: float32 only). Kernels launch on CuPy's current stream.
Row-wise kernels read C-contiguous arrays: other layouts are copied first.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .. import backend
from . import _cuda as C

ACT_KINDS = {"relu": 0, "leaky_relu": 1, "gelu": 2, "gelu_tanh": 3, "silu": 4, "sigmoid": 5, "tanh": 6,
             "softplus": 7}
_REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}


# ---- activations ------------------------------------------------------------------------------

def activation(fn: str, kind: str, x: Any, out: Any = None, *, negative_slope: float = 0.01, beta: float = 1.0,
               threshold: float = 20.0, dtype: str | None = None) -> Any:
    """y = act(x), any strides; out may be x itself."""
    C.check_dtype_arg(fn, dtype)
    X = C.operand(x, fn, "x", dtype=dtype)
    target, copy_to = C.out_arg(fn, out, X.shape, X.dtype, [X])
    if X.size:
        C.kernels().activation(ACT_KINDS[kind], X.desc(), target.desc(), negative_slope, beta, threshold, C.stream())
    return C.finish(target, copy_to, out, x)


def activation_backward(fn: str, kind: str, grad_out: Any, x: Any, out: Any = None, *, negative_slope: float = 0.01,
                        beta: float = 1.0, threshold: float = 20.0, dtype: str | None = None) -> Any:
    """grad_x from grad_out and the forward input x."""
    C.check_dtype_arg(fn, dtype)
    G, X = C.operand(grad_out, fn, "grad_out", dtype=dtype), C.operand(x, fn, "x", dtype=dtype)
    C.same_dtype(fn, grad_out=G, x=X)
    C.same_shape(fn, "x", X, grad_out=G)
    target, copy_to = C.out_arg(fn, out, X.shape, X.dtype, [G, X])
    if X.size:
        C.kernels().activation_backward(ACT_KINDS[kind], G.desc(), X.desc(), target.desc(), negative_slope, beta,
                                        threshold, C.stream())
    return C.finish(target, copy_to, out, x)


# ---- softmax ----------------------------------------------------------------------------------

def softmax(fn: str, x: Any, dim: int, out: Any = None, *, log: bool = False, dtype: str | None = None) -> Any:
    C.check_dtype_arg(fn, dtype)
    X = C.operand(x, fn, "x", dtype=dtype).contiguous()
    target, copy_to = C.out_arg(fn, out, X.shape, X.dtype, [X])
    if X.size:
        C.kernels().softmax(X.desc(), target.desc(), dim, log, C.stream())
    return C.finish(target, copy_to, out, x)


def softmax_backward(fn: str, grad_out: Any, y: Any, dim: int, out: Any = None, *, log: bool = False,
                     dtype: str | None = None) -> Any:
    C.check_dtype_arg(fn, dtype)
    G = C.operand(grad_out, fn, "grad_out", dtype=dtype).contiguous()
    Y = C.operand(y, fn, "y", dtype=dtype).contiguous()
    C.same_dtype(fn, grad_out=G, y=Y)
    C.same_shape(fn, "y", Y, grad_out=G)
    target, copy_to = C.out_arg(fn, out, Y.shape, Y.dtype, [G, Y])
    if Y.size:
        C.kernels().softmax_backward(G.desc(), Y.desc(), target.desc(), dim, log, C.stream())
    return C.finish(target, copy_to, out, grad_out, y)


# ---- cross entropy ------------------------------------------------------------------------------

def _ce_inputs(fn, logits, target, weight, ignore_index, label_smoothing, reduction, dtype):
    C.check_dtype_arg(fn, dtype)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    X = C.operand(logits, fn, "input", dtype=dtype)
    W = C.optional(weight, fn, "weight", dtype=dtype)
    C.same_dtype(fn, input=X, weight=W)
    t_name = np.dtype(getattr(target, "dtype", np.float32)).name if not C.is_torch(target) else None
    if t_name is not None and t_name not in C.INTS:
        if np.dtype(t_name).kind in "iu":
            raise TypeError(f"{fn}: target must be int64 or int32 on CUDA, got {t_name}")
        raise TypeError(f"{fn}: target must hold integer class indices (int64 or int32), got {t_name}"
                        " (class-probability targets are not supported)")
    T = C.operand(target, fn, "target", C.INTS)
    if X.ndim == 0:
        raise ValueError(f"{fn}: logits must have shape (C,), (N, C) or (N, C, d1, ...), got ()")
    unbatched = X.ndim == 1
    if unbatched:
        if T.ndim != 0:
            raise ValueError(f"{fn}: unbatched logits (C,) need a 0-d target, got shape {T.shape}")
        X, T = X.reshape(1, X.shape[0]), T.reshape(1)
    want = (X.shape[0],) + X.shape[2:]
    if T.shape != want:
        raise ValueError(f"{fn}: target must have shape {want} for logits {X.shape}, got {T.shape}")
    if W is not None and W.shape != (X.shape[1],):
        raise ValueError(f"{fn}: weight must have shape ({X.shape[1]},), one per class, got {W.shape}")
    ignore_index = C.int_scalar(fn, "ignore_index", ignore_index)
    try:
        eps = float(label_smoothing)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: label_smoothing must be a real number, got {type(label_smoothing).__name__}") from None
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"{fn}: label_smoothing must be in [0, 1], got {label_smoothing}")
    return X.contiguous(), T.contiguous(), None if W is None else W.contiguous(), ignore_index, eps, unbatched


def cross_entropy(input: Any, target: Any, weight: Any = None, *, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0, dtype: str | None = None) -> Any:
    """Loss in input's dtype: 0-d for 'mean' / 'sum', target's shape for 'none'."""
    fn = "cross_entropy"
    X, T, W, ignore_index, eps, unbatched = _ce_inputs(fn, input, target, weight, ignore_index, label_smoothing,
                                                       reduction, dtype)
    shape = T.shape if reduction == "none" else ()
    out = C.empty(shape, X.dtype, [X])
    if T.size == 0 and reduction != "none":  # PyTorch: mean of nothing is NaN, sum is 0
        nan = 0x7FC0 if X.dtype == "bfloat16" else np.nan  # bfloat16 is stored as its bits
        out.arr[...] = nan if reduction == "mean" else 0
    elif T.size or reduction != "none":
        C.kernels().cross_entropy(X.desc(), T.desc(), None if W is None else W.desc(), ignore_index, eps,
                                  _REDUCTIONS[reduction], out.desc(), C.stream())
    if unbatched and reduction == "none":
        out = out.reshape(())
    return C.result(out, input)


def cross_entropy_backward(grad_out: Any, input: Any, target: Any, weight: Any = None, *, ignore_index: int = -100,
                           reduction: str = "mean", label_smoothing: float = 0.0, out: Any = None,
                           dtype: str | None = None) -> Any:
    """Gradient w.r.t. the logits. grad_out: the loss's shape for 'none'; for 'mean' / 'sum' a
    number or a one-element CUDA array (read on the device: no synchronisation)."""
    fn = "cross_entropy_backward"
    X, T, W, ignore_index, eps, unbatched = _ce_inputs(fn, input, target, weight, ignore_index, label_smoothing,
                                                       reduction, dtype)
    g_desc, g_scalar = None, 1.0
    if reduction == "none":
        G = C.operand(grad_out, fn, "grad_out", dtype=dtype)
        want = () if unbatched else T.shape
        if G.shape != want:
            raise ValueError(f"{fn}: grad_out must have the loss's shape {want} for reduction='none', got {G.shape}")
        if G.dtype != X.dtype:
            raise TypeError(f"{fn}: grad_out must be {X.dtype}, got {G.dtype}")
        g_desc = G.contiguous().reshape(T.shape).desc()
    elif hasattr(grad_out, "__cuda_array_interface__") or C.is_torch(grad_out):
        G = C.operand(grad_out, fn, "grad_out", dtype=dtype if dtype else None)
        if G.size != 1:
            raise ValueError(f"{fn}: grad_out of a reduced loss must be a scalar, got shape {G.shape}")
        g_desc = G.desc()
    else:
        g = np.asarray(grad_out)
        if g.size != 1 or g.ndim > 1 or g.dtype.kind not in "fiu":
            raise ValueError(f"{fn}: grad_out of a reduced loss must be a scalar, got shape {g.shape} ({g.dtype})")
        g_scalar = float(g.reshape(()))
    full_shape = (X.shape[1],) if unbatched else X.shape
    target_arr, copy_to = C.out_arg(fn, out, full_shape, X.dtype, [X], in_place_ok=False)
    if X.size:
        C.kernels().cross_entropy_backward(g_desc, g_scalar, X.desc(), T.desc(), None if W is None else W.desc(),
                                           ignore_index, eps, _REDUCTIONS[reduction],
                                           target_arr.reshape(X.shape).desc(), C.stream())
    return C.finish(target_arr, copy_to, out, input)


# ---- layer_norm / rms_norm --------------------------------------------------------------------------

def _normalized(fn: str, shape_x: tuple[int, ...], normalized_shape: Any) -> tuple[tuple[int, ...], int, int]:
    if isinstance(normalized_shape, (int, np.integer)) and not isinstance(normalized_shape, bool):
        shape = (int(normalized_shape),)
    else:
        try:
            shape = tuple(int(s) for s in normalized_shape)
        except TypeError:
            raise TypeError(f"{fn}: normalized_shape must be an int or a sequence of ints, "
                            f"got {type(normalized_shape).__name__}") from None
    k = len(shape)
    if k == 0 or k > len(shape_x) or tuple(shape_x[len(shape_x) - k:]) != shape:
        raise ValueError(f"{fn}: normalized_shape {shape} must equal the trailing dimensions of x, "
                         f"got x of shape {tuple(shape_x)}")
    return shape, math.prod(shape_x[:len(shape_x) - k]), math.prod(shape)


def _param(fn: str, arg: str, v: Any, shape: tuple[int, ...], dt: str, dtype: str | None) -> C.Arr | None:
    if v is None:
        return None
    a = C.operand(v, fn, arg, dtype=dtype)
    if a.dtype != dt:
        raise TypeError(f"{fn}: {arg} must be {dt} (x's dtype), got {a.dtype}")
    if a.shape != tuple(shape):
        raise ValueError(f"{fn}: {arg} must have shape {tuple(shape)}, got {a.shape}")
    return a.contiguous().reshape(-1)


def _stat(fn: str, arg: str, v: Any, lead: tuple[int, ...]) -> C.Arr | None:
    if v is None:
        return None
    a = C.operand(v, fn, arg, ("float32",))
    if a.shape != tuple(lead):
        raise ValueError(f"{fn}: {arg} must have shape {tuple(lead)}, got {a.shape}")
    return a.contiguous().reshape(-1)


def _eps(fn: str, eps: Any) -> float:
    from .._validate import check_finite_scalar

    v = check_finite_scalar(fn, "eps", eps)
    if v < 0:
        raise ValueError(f"{fn}: eps must be >= 0, got {v}")
    return v


def _rms_eps(fn: str, eps: Any, dt: str) -> float:
    if eps is None:  # PyTorch: machine epsilon of the input dtype
        return {"float32": float(np.finfo(np.float32).eps), "float16": float(np.finfo(np.float16).eps),
                "bfloat16": 2.0 ** -7}[dt]
    return _eps(fn, eps)


def row_norm(fn: str, rms: bool, x: Any, normalized_shape: Any, weight: Any, bias: Any, eps: Any, *,
             return_stats: bool, out: Any, dtype: str | None) -> Any:
    C.check_dtype_arg(fn, dtype)
    X = C.operand(x, fn, "x", dtype=dtype)
    shape, rows, n = _normalized(fn, X.shape, normalized_shape)
    W = _param(fn, "weight", weight, shape, X.dtype, dtype)
    B = _param(fn, "bias", bias, shape, X.dtype, dtype)
    eps = _rms_eps(fn, eps, X.dtype) if rms else _eps(fn, eps)
    lead = X.shape[:X.ndim - len(shape)]
    Xc = X.contiguous()
    y, copy_to = C.out_arg(fn, out, X.shape, X.dtype, [Xc, W, B])
    mean = C.empty(lead, "float32") if return_stats and not rms else None
    rstd = C.empty(lead, "float32") if return_stats else None
    if rows and n:
        C.kernels().row_norm(rms, Xc.reshape(rows, n).desc(), None if W is None else W.desc(),
                             None if B is None else B.desc(), eps, y.reshape(rows, n).desc(),
                             None if mean is None else mean.reshape(-1).desc(),
                             None if rstd is None else rstd.reshape(-1).desc(), C.stream())
    res = C.finish(y, copy_to, out, x)
    if not return_stats:
        return res
    stats = (rstd.arr,) if rms else (mean.arr, rstd.arr)
    return (res, *stats)


def row_norm_backward(fn: str, rms: bool, grad_out: Any, x: Any, normalized_shape: Any, weight: Any, bias: Any,
                      eps: Any, *, mean: Any, rstd: Any, dtype: str | None) -> tuple:
    C.check_dtype_arg(fn, dtype)
    X = C.operand(x, fn, "x", dtype=dtype)
    G = C.operand(grad_out, fn, "grad_out", dtype=dtype)
    C.same_dtype(fn, x=X, grad_out=G)
    C.same_shape(fn, "x", X, grad_out=G)
    shape, rows, n = _normalized(fn, X.shape, normalized_shape)
    W = _param(fn, "weight", weight, shape, X.dtype, dtype)
    if bias is not None:
        _param(fn, "bias", bias, shape, X.dtype, dtype)
    eps = _rms_eps(fn, eps, X.dtype) if rms else _eps(fn, eps)
    if not rms and (mean is None) != (rstd is None):
        raise ValueError(f"{fn}: pass both mean and rstd (from layer_norm(..., return_stats=True)) or neither")
    lead = X.shape[:X.ndim - len(shape)]
    M = None if rms else _stat(fn, "mean", mean, lead)
    R = _stat(fn, "rstd", rstd, lead)
    like = [X, G]
    dx = C.empty(X.shape, X.dtype, like)
    dw = C.empty(shape, X.dtype, like) if weight is not None else None
    db = C.empty(shape, X.dtype, like) if (bias is not None and not rms) else None
    if rows and n:
        C.kernels().row_norm_backward(rms, G.contiguous().reshape(rows, n).desc(), X.contiguous().reshape(rows, n).desc(),
                                      None if W is None else W.desc(), None if M is None else M.desc(),
                                      None if R is None else R.desc(), eps, dx.reshape(rows, n).desc(),
                                      None if dw is None else dw.reshape(-1).desc(),
                                      None if db is None else db.reshape(-1).desc(), C.stream())
    else:
        for t in (dw, db):
            if t is not None:
                t.arr[...] = 0
    res = [C.result(dx, x), C.result(dw, x)]
    if not rms:
        res.append(C.result(db, x))
    return tuple(res)


# ---- batch_norm ---------------------------------------------------------------------------------

def _running(fn: str, arg: str, v: Any, c: int) -> C.Arr | None:
    if v is None:
        return None
    a = C.operand(v, fn, arg, ("float32",))
    if a.shape != (c,):
        raise ValueError(f"{fn}: {arg} must have shape ({c},), got {a.shape}")
    if not C._c_contiguous(a.arr):
        raise ValueError(f"{fn}: {arg} must be contiguous (it is updated in place)")
    return a


def batch_norm(x: Any, running_mean: Any, running_var: Any, weight: Any = None, bias: Any = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5, *, return_stats: bool = False,
               out: Any = None, dtype: str | None = None) -> Any:
    fn = "batch_norm"
    from .._validate import check_finite_scalar

    C.check_dtype_arg(fn, dtype)
    X = C.operand(x, fn, "x", dtype=dtype)
    if X.ndim < 2:
        raise ValueError(f"{fn}: x must have at least 2 dimension(s), got {X.ndim} (shape {X.shape})")
    c = X.shape[1]
    training = bool(training)
    RM, RV = _running(fn, "running_mean", running_mean, c), _running(fn, "running_var", running_var, c)
    W, B = _param(fn, "weight", weight, (c,), X.dtype, dtype), _param(fn, "bias", bias, (c,), X.dtype, dtype)
    momentum = check_finite_scalar(fn, "momentum", momentum)
    eps = _eps(fn, eps)
    if not training and (RM is None or RV is None):
        raise ValueError(f"{fn}: running_mean and running_var are required when training=False")
    if training and X.size and X.size // c <= 1:
        raise ValueError(f"{fn}: expected more than 1 value per channel when training, got input of shape {X.shape}")
    Xc = X.contiguous()
    y, copy_to = C.out_arg(fn, out, X.shape, X.dtype, [Xc, W, B])
    mean = C.empty((c,), "float32") if return_stats else None
    rstd = C.empty((c,), "float32") if return_stats else None
    if X.size:
        ncs = (X.shape[0], c, X.size // (X.shape[0] * c))
        C.kernels().batch_norm(Xc.reshape(ncs).desc(), None if RM is None else RM.desc(),
                               None if RV is None else RV.desc(), None if W is None else W.desc(),
                               None if B is None else B.desc(), training, momentum, eps, y.reshape(ncs).desc(),
                               None if mean is None else mean.desc(), None if rstd is None else rstd.desc(),
                               C.stream())
    res = C.finish(y, copy_to, out, x)
    return (res, mean.arr, rstd.arr) if return_stats else res


def batch_norm_backward(grad_out: Any, x: Any, weight: Any, bias: Any, running_mean: Any, running_var: Any,
                        training: bool, eps: float = 1e-5, *, mean: Any = None, rstd: Any = None,
                        dtype: str | None = None) -> tuple:
    fn = "batch_norm_backward"
    C.check_dtype_arg(fn, dtype)
    X = C.operand(x, fn, "x", dtype=dtype)
    if X.ndim < 2:
        raise ValueError(f"{fn}: x must have at least 2 dimension(s), got {X.ndim} (shape {X.shape})")
    G = C.operand(grad_out, fn, "grad_out", dtype=dtype)
    C.same_dtype(fn, x=X, grad_out=G)
    C.same_shape(fn, "x", X, grad_out=G)
    c = X.shape[1]
    training = bool(training)
    W = _param(fn, "weight", weight, (c,), X.dtype, dtype)
    if bias is not None:
        _param(fn, "bias", bias, (c,), X.dtype, dtype)
    RM, RV = _running(fn, "running_mean", running_mean, c), _running(fn, "running_var", running_var, c)
    eps = _eps(fn, eps)
    if (mean is None) != (rstd is None):
        raise ValueError(f"{fn}: pass both mean and rstd (from batch_norm(..., return_stats=True)) or neither")
    Mn, Rs = _stat(fn, "mean", mean, (c,)), _stat(fn, "rstd", rstd, (c,))
    if not training and Mn is None and (RM is None or RV is None):
        raise ValueError(f"{fn}: running_mean and running_var are required when training=False")
    like = [X, G]
    dx = C.empty(X.shape, X.dtype, like)
    dw = C.empty((c,), X.dtype, like) if weight is not None else None
    db = C.empty((c,), X.dtype, like) if bias is not None else None
    if X.size:
        ncs = (X.shape[0], c, X.size // (X.shape[0] * c))
        C.kernels().batch_norm_backward(G.contiguous().reshape(ncs).desc(), X.contiguous().reshape(ncs).desc(),
                                        None if W is None else W.desc(), None if RM is None else RM.desc(),
                                        None if RV is None else RV.desc(), training, eps,
                                        None if Mn is None else Mn.desc(), None if Rs is None else Rs.desc(),
                                        dx.reshape(ncs).desc(), None if dw is None else dw.desc(),
                                        None if db is None else db.desc(), C.stream())
    else:
        for t in (dw, db):
            if t is not None:
                t.arr[...] = 0
    return C.result(dx, x), C.result(dw, x), C.result(db, x)


# ---- embedding ----------------------------------------------------------------------------------

def _indices(fn: str, indices: Any) -> C.Arr:
    name = None if C.is_torch(indices) else np.dtype(getattr(indices, "dtype", np.float32)).name
    if name is not None and name not in C.INTS:
        raise TypeError(f"{fn}: indices must be int64 or int32, got {name}")
    return C.operand(indices, fn, "indices", C.INTS).contiguous()


def _padding_idx(fn: str, padding_idx: Any, num_embeddings: int) -> int:
    if padding_idx is None:
        return -1
    p = C.int_scalar(fn, "padding_idx", padding_idx)
    if not -num_embeddings <= p < num_embeddings:
        raise ValueError(f"{fn}: padding_idx must be within num_embeddings ({num_embeddings}), got {p}")
    return p + num_embeddings if p < 0 else p


def embedding(indices: Any, weight: Any, padding_idx: Any = None, *, out: Any = None, dtype: str | None = None) -> Any:
    fn = "embedding"
    C.check_dtype_arg(fn, dtype)
    Wt = C.operand(weight, fn, "weight", dtype=dtype)
    if Wt.ndim != 2:
        raise ValueError(f"{fn}: weight must have shape (num_embeddings, embedding_dim), got {Wt.shape}")
    idx = _indices(fn, indices)
    _padding_idx(fn, padding_idx, Wt.shape[0])
    Wc = Wt.contiguous()
    shape = idx.shape + (Wt.shape[1],)
    target, copy_to = C.out_arg(fn, out, shape, Wt.dtype, [Wc], in_place_ok=False)
    if idx.size and Wt.shape[1]:
        C.kernels().embedding(idx.desc(), Wc.desc(), target.reshape(idx.size, Wt.shape[1]).desc(), C.stream())
    return C.finish(target, copy_to, out, weight)


def embedding_backward(grad_out: Any, indices: Any, num_embeddings: int, padding_idx: Any = None, *, out: Any = None,
                       dtype: str | None = None) -> Any:
    fn = "embedding_backward"
    C.check_dtype_arg(fn, dtype)
    G = C.operand(grad_out, fn, "grad_out", dtype=dtype)
    idx = _indices(fn, indices)
    if isinstance(num_embeddings, bool) or not isinstance(num_embeddings, (int, np.integer)) or num_embeddings < 0:
        raise ValueError(f"{fn}: num_embeddings must be a non-negative int, got {num_embeddings!r}")
    if G.ndim != idx.ndim + 1 or G.shape[:-1] != idx.shape:
        raise ValueError(f"{fn}: grad_out must have shape indices.shape + (D,) = {idx.shape} + (D,), got {G.shape}")
    pad = _padding_idx(fn, padding_idx, int(num_embeddings))
    D = G.shape[-1]
    Gc = G.contiguous()
    target, copy_to = C.out_arg(fn, out, (int(num_embeddings), D), G.dtype, [Gc], in_place_ok=False)
    if int(num_embeddings) * D:
        C.kernels().embedding_backward(Gc.reshape(idx.size, D).desc(), idx.desc(), pad, target.desc(), C.stream())
    return C.finish(target, copy_to, out, grad_out)


# ---- dropout ------------------------------------------------------------------------------------

def dropout(x: Any, p: float, *, seed: int, offset: int, training: bool, return_mask: bool, out: Any = None,
            dtype: str | None = None) -> Any:
    """The CPU's stream: the same (seed, offset) gives the same mask on both devices."""
    fn = "dropout"
    C.check_dtype_arg(fn, dtype)
    X = C.operand(x, fn, "x", dtype=dtype)
    if not training:
        if return_mask:
            m = C.xp().ones(X.shape, dtype=np.bool_)
            return x, m
        return x
    target, copy_to = C.out_arg(fn, out, X.shape, X.dtype, [X])
    mask = C.Arr(C.xp().empty(X.shape, dtype=np.bool_), "bool") if return_mask else None
    if X.size:
        C.kernels().dropout(X.desc(), target.desc(), None if mask is None else mask.desc(), p, seed, offset, C.stream())
    y = C.finish(target, copy_to, out, x)
    return (y, mask.arr) if return_mask else y


def dropout_backward(grad_out: Any, p: float, *, seed: int, offset: int, out: Any = None,
                     dtype: str | None = None) -> Any:
    fn = "dropout_backward"
    C.check_dtype_arg(fn, dtype)
    G = C.operand(grad_out, fn, "grad_out", dtype=dtype)
    target, copy_to = C.out_arg(fn, out, G.shape, G.dtype, [G])
    if G.size:
        C.kernels().dropout(G.desc(), target.desc(), None, p, seed, offset, C.stream())
    return C.finish(target, copy_to, out, grad_out)


def dropout_mask(shape: tuple[int, ...], p: float, *, seed: int, offset: int) -> Any:
    """The keep-mask (CuPy bool) dropout uses for an array of this shape."""
    mask = C.Arr(C.xp().empty(shape, dtype=np.bool_), "bool")
    if mask.size:
        C.kernels().dropout(None, None, mask.desc(), p, seed, offset, C.stream())
    return mask.arr


# ---- optimizer steps ------------------------------------------------------------------------------

def _buffer(fn: str, arg: str, x: Any, shape: tuple[int, ...] | None) -> C.Arr:
    a = C.operand(x, fn, arg, ("float32",))
    if shape is not None and a.shape != shape:
        raise ValueError(f"{fn}: {arg} must have param's shape {shape}, got {a.shape}")
    if not C._c_contiguous(a.arr):
        raise ValueError(f"{fn}: {arg} must be C-contiguous (it is updated in place / read as one buffer)")
    return a


def _disjoint(fn: str, **bufs: C.Arr | None) -> None:
    items = [(k, v) for k, v in bufs.items() if v is not None]
    for i, (na, a) in enumerate(items):
        for nb, b in items[i + 1:]:
            if C.may_share(a, b):
                raise ValueError(f"{fn}: {na} and {nb} share memory; every buffer must be distinct")


def sgd_step_(fn: str, param: Any, grad: Any, momentum_buf: Any, *, lr: float, momentum: float, dampening: float,
              weight_decay: float, nesterov: bool, maximize: bool, first_step: bool) -> Any:
    P = _buffer(fn, "param", param, None)
    G = _buffer(fn, "grad", grad, P.shape)
    Bf = _buffer(fn, "momentum_buf", momentum_buf, P.shape) if momentum != 0 else None
    _disjoint(fn, param=P, grad=G, momentum_buf=Bf)
    if P.size:
        C.kernels().sgd_step(P.desc(), G.desc(), None if Bf is None else Bf.desc(), lr, momentum, dampening,
                             weight_decay, nesterov, maximize, first_step, C.stream())
    return param


def adam_step_(fn: str, decoupled: bool, param: Any, grad: Any, exp_avg: Any, exp_avg_sq: Any, *, step: int,
               lr: float, beta1: float, beta2: float, eps: float, weight_decay: float, amsgrad: bool,
               max_exp_avg_sq: Any, maximize: bool) -> Any:
    P = _buffer(fn, "param", param, None)
    G = _buffer(fn, "grad", grad, P.shape)
    M1 = _buffer(fn, "exp_avg", exp_avg, P.shape)
    M2 = _buffer(fn, "exp_avg_sq", exp_avg_sq, P.shape)
    VM = _buffer(fn, "max_exp_avg_sq", max_exp_avg_sq, P.shape) if amsgrad else None
    _disjoint(fn, param=P, grad=G, exp_avg=M1, exp_avg_sq=M2, max_exp_avg_sq=VM)
    if P.size:
        C.kernels().adam_step(P.desc(), G.desc(), M1.desc(), M2.desc(), None if VM is None else VM.desc(), int(step),
                              lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled, C.stream())
    return param


# ---- broadcasting add / mul, sums and means ---------------------------------------------------------

_BINOPS = {"add": 0, "mul": 1}


def _arr_or_scalar(fn: str, arg: str, v: Any, dtype: str | None, like: C.Arr | None) -> C.Arr:
    """An array operand, or a Python number as a 0-d CUDA array of like's dtype."""
    if isinstance(v, (int, float, np.generic)) and not isinstance(v, (bool, np.bool_)):
        v = float(v)
        dt = like.dtype if like is not None else "float32"
        if dt == "bfloat16":
            from .cuda_gemm import to_bf16_bits

            return C.Arr(to_bf16_bits(C.xp().asarray(np.float32(v))).reshape(()), "bfloat16")
        return C.Arr(C.xp().asarray(np.dtype(dt).type(v)), dt)
    return C.operand(v, fn, arg, dtype=dtype)


def binary(fn: str, a: Any, b: Any, out: Any = None, *, dtype: str | None = None) -> Any:
    """a + b or a * b with NumPy broadcasting; out may be a or b (in place)."""
    C.check_dtype_arg(fn, dtype)
    a_scalar = isinstance(a, (int, float, np.generic))
    A = None if a_scalar else C.operand(a, fn, "a", dtype=dtype)
    Bv = _arr_or_scalar(fn, "b", b, dtype, A)
    A = A if A is not None else _arr_or_scalar(fn, "a", a, dtype, Bv)
    C.same_dtype(fn, a=A, b=Bv)
    try:
        shape = np.broadcast_shapes(A.shape, Bv.shape)
    except ValueError:
        raise ValueError(f"{fn}: shapes {A.shape} and {Bv.shape} do not broadcast") from None
    target, copy_to = C.out_arg(fn, out, shape, A.dtype, [A, Bv])
    _launch_binary(_BINOPS[fn], A, Bv, target)
    return C.finish(target, copy_to, out, b if a_scalar else a)


def _launch_binary(op: int, A: C.Arr, B: C.Arr, target: C.Arr) -> C.Arr:
    if target.size:
        xp = C.xp()
        C.kernels().binary(op, A.view(xp.broadcast_to(A.arr, target.shape)).desc(),
                           B.view(xp.broadcast_to(B.arr, target.shape)).desc(), 1.0, target.desc(), C.stream())
    return target


def _sum_to(fn: str, g: C.Arr, shape: tuple[int, ...]) -> C.Arr:
    """g (the broadcast shape) summed down to `shape`; g itself when nothing is summed."""
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    if not axes:
        return g if g.shape == shape else g.reshape(shape)
    kept = tuple(n for d, n in enumerate(g.shape) if d not in axes)
    out = C.empty(kept, g.dtype, [g])
    C.kernels().reduce_sum(g.desc(), sum(1 << d for d in axes), 1.0, out.desc(), C.stream())
    return out.reshape(shape)


def add_backward(grad_out: Any, shape_a: tuple[int, ...], shape_b: tuple[int, ...], *,
                 dtype: str | None = None) -> tuple[Any, Any]:
    fn = "add_backward"
    G = C.operand(grad_out, fn, "grad_out", dtype=dtype)
    _check_grad_shape(fn, G, shape_a, shape_b)
    return C.result(_sum_to(fn, G, shape_a), grad_out), C.result(_sum_to(fn, G, shape_b), grad_out)


def mul_backward(grad_out: Any, a: Any, b: Any, *, dtype: str | None = None) -> tuple[Any, Any]:
    fn = "mul_backward"
    G = C.operand(grad_out, fn, "grad_out", dtype=dtype)
    A = _arr_or_scalar(fn, "a", a, dtype, G)
    Bv = _arr_or_scalar(fn, "b", b, dtype, G)
    _check_grad_shape(fn, G, A.shape, Bv.shape)
    C.same_dtype(fn, grad_out=G, a=A, b=Bv)
    ga = _launch_binary(_BINOPS["mul"], G, Bv, C.empty(G.shape, G.dtype, [G]))
    gb = _launch_binary(_BINOPS["mul"], G, A, C.empty(G.shape, G.dtype, [G]))
    return C.result(_sum_to(fn, ga, A.shape), grad_out), C.result(_sum_to(fn, gb, Bv.shape), grad_out)


def _check_grad_shape(fn: str, G: C.Arr, sa: tuple[int, ...], sb: tuple[int, ...]) -> None:
    try:
        shape = np.broadcast_shapes(tuple(sa), tuple(sb))
    except ValueError:
        raise ValueError(f"{fn}: shapes {tuple(sa)} and {tuple(sb)} do not broadcast") from None
    if G.shape != shape:
        raise ValueError(f"{fn}: grad_out must have the broadcast shape {shape}, got {G.shape}")


def reduce(fn: str, x: Any, axes: tuple[int, ...], keepdims: bool, *, mean: bool, dtype: str | None = None) -> Any:
    """sum / mean of x over the (normalised) axes."""
    C.check_dtype_arg(fn, dtype)
    X = C.operand(x, fn, "x", dtype=dtype)
    kept = tuple(n for d, n in enumerate(X.shape) if d not in axes)
    keep = tuple(1 if d in axes else n for d, n in enumerate(X.shape))
    count = math.prod(X.shape[a] for a in axes)
    out = C.empty(kept, X.dtype, [X])
    if out.size:
        scale = (1.0 / count if count else float("nan")) if mean else 1.0
        C.kernels().reduce_sum(X.desc(), sum(1 << d for d in axes), scale, out.desc(), C.stream())
    return C.result(out.reshape(keep) if keepdims else out, x)


def reduce_backward(fn: str, grad_out: Any, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool, *,
                    mean: bool, dtype: str | None = None) -> Any:
    """grad_out (· 1/count for mean) broadcast back to the input's shape."""
    G = C.operand(grad_out, fn, "grad_out", dtype=dtype)
    kept = tuple(n for d, n in enumerate(shape) if d not in axes)
    keep = tuple(1 if d in axes else n for d, n in enumerate(shape))
    want = keep if keepdims else kept
    if G.shape != want:
        raise ValueError(f"{fn}: grad_out must have shape {want} (x {shape}, axis {axes}, keepdims={keepdims}), "
                         f"got {G.shape}")
    count = math.prod(shape[a] for a in axes)
    scale = (1.0 / count if count else float("nan")) if mean else 1.0
    out = C.empty(tuple(shape), G.dtype, [G])
    if out.size:
        src = G.view(C.xp().broadcast_to(G.arr.reshape(keep), tuple(shape)))
        C.kernels().binary(2, src.desc(), None, scale, out.desc(), C.stream())
    return C.result(out, grad_out)


def device_of_any(fn: str, **arrays: Any) -> str:
    """'cuda' when the arrays live on the GPU (ValueError if they are on different devices)."""
    return backend.common_device(fn, **arrays)


__all__: Sequence[str] = ()
