"""CUDA side of the GEMM family: matmul, linear and linear_backward on CUDA arrays.

``fastnn.matmul`` (ops/gemm.py) sends CUDA arrays here; ``linear`` / ``linear_backward`` call
:func:`linear` / :func:`linear_backward` for CUDA inputs. Kernels launch on CuPy's current stream.

dtypes: float32 (exact FP32 SIMT kernels; ``allow_tf32=True`` lets tensor cores run it as tf32),
float16 and bfloat16 (tensor cores, FP32 accumulation, result rounded to the input dtype).
CuPy has no bfloat16 dtype of its own, so bfloat16 comes in three forms:

* torch (or any DLPack) CUDA tensors of dtype bfloat16 → the result is a torch bfloat16 tensor;
* CuPy arrays whose dtype is ``ml_dtypes.bfloat16``, where CuPy accepts that dtype → CuPy result;
* CuPy ``uint16`` arrays holding bfloat16 bit patterns with ``dtype="bfloat16"`` → a ``uint16``
  CuPy array of bfloat16 bits (:func:`to_bf16_bits` / :func:`from_bf16_bits` convert).

Every other result is a CuPy array. ``kernel=`` forces a kernel family ('simt_general', 'simt',
'mma_sync', 'wgmma'; ValueError when it cannot run the problem) and :func:`last_kernel` says which
one ran, so tests can check the fast path was taken.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from .._ext import _C_cuda

KERNELS = ("auto", "simt_general", "simt", "mma_sync", "wgmma")
ACTIVATIONS = {None: 0, "identity": 0, "relu": 1, "gelu": 2, "gelu_tanh": 3, "sigmoid": 4, "tanh": 5, "silu": 6}
_DTYPES = ("float32", "float16", "bfloat16")


# ---- bfloat16 bit patterns (NumPy or CuPy arrays) -------------------------------------------

def to_bf16_bits(x: Any) -> Any:
    """float32 array → uint16 array of bfloat16 bits, rounded to nearest even (NaN kept NaN)."""
    xp = np if isinstance(x, np.ndarray) else backend.xp_for("cuda")
    u = xp.ascontiguousarray(x, dtype=xp.float32).view(xp.uint32)
    rounded = (u + xp.uint32(0x7FFF) + ((u >> xp.uint32(16)) & xp.uint32(1))) >> xp.uint32(16)
    nan = (u & xp.uint32(0x7FFFFFFF)) > xp.uint32(0x7F800000)
    return xp.where(nan, (u >> xp.uint32(16)) | xp.uint32(0x40), rounded).astype(xp.uint16)


def from_bf16_bits(bits: Any) -> Any:
    """uint16 array of bfloat16 bits → float32 array (exact)."""
    xp = np if isinstance(bits, np.ndarray) else backend.xp_for("cuda")
    return (xp.ascontiguousarray(bits).astype(xp.uint32) << xp.uint32(16)).view(xp.float32)


# ---- operands -------------------------------------------------------------------------------

class _Operand:
    """A CUDA array as the bindings see it: a CuPy array (bf16 as 16-bit integers) plus the
    logical dtype name, and where it came from (to hand results back in the same form)."""

    __slots__ = ("arr", "dtype", "torch")

    def __init__(self, arr: Any, dtype: str, torch: bool):
        self.arr, self.dtype, self.torch = arr, dtype, torch

    @property
    def shape(self):
        return self.arr.shape

    @property
    def ndim(self):
        return self.arr.ndim

    def desc(self):
        ptr, shape, strides, _ = backend.cuda_descriptor(self.arr)
        return ptr, shape, strides, self.dtype

    def view(self, arr: Any) -> "_Operand":
        return _Operand(arr, self.dtype, self.torch)


def _is_torch(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def _operand(x: Any, fn: str, arg: str, dtype: str | None) -> _Operand:
    cp = backend.xp_for("cuda")
    if _is_torch(x) and str(getattr(x, "dtype", "")) == "torch.bfloat16":
        import torch

        if x.device.type != "cuda":
            raise ValueError(f"{fn}: {arg} is on {x.device}, expected a CUDA tensor")
        arr = cp.from_dlpack(x.view(torch.int16))
        return _Operand(arr, "bfloat16", True)
    arr = backend.as_array(x, fn, arg)
    name = np.dtype(arr.dtype).name
    if name == "bfloat16":  # ml_dtypes.bfloat16 through CuPy
        return _Operand(arr.view(cp.uint16), "bfloat16", False)
    if dtype == "bfloat16" and name in ("uint16", "int16"):
        return _Operand(arr, "bfloat16", False)
    if name not in ("float32", "float16"):
        hint = " (bfloat16 bits in a uint16 array need dtype='bfloat16')" if name in ("uint16", "int16") else ""
        raise TypeError(f"{fn}: {arg} must be float32, float16 or bfloat16 on CUDA, got {name}{hint}")
    if dtype is not None and dtype != name:
        raise TypeError(f"{fn}: {arg} is {name} but dtype={dtype!r} was given")
    return _Operand(arr, name, _is_torch(x))


def _check_dtype_arg(fn: str, dtype: str | None) -> None:
    if dtype is not None and dtype not in _DTYPES:
        raise ValueError(f"{fn}: dtype must be None or one of {_DTYPES}, got {dtype!r}")


def _same_dtype(fn: str, **ops: _Operand | None) -> str:
    named = {k: v for k, v in ops.items() if v is not None}
    dts = {v.dtype for v in named.values()}
    if len(dts) > 1:
        detail = ", ".join(f"{k} {v.dtype}" for k, v in named.items())
        raise TypeError(f"{fn}: all arrays must have one dtype, got {detail}")
    return dts.pop()


def _empty(shape, dtype: str, like: list[_Operand]) -> _Operand:
    cp = backend.xp_for("cuda")
    if dtype == "bfloat16":
        torch_in = any(o.torch for o in like)
        return _Operand(cp.empty(shape, dtype=cp.int16 if torch_in else cp.uint16), dtype, torch_in)
    return _Operand(cp.empty(shape, dtype=dtype), dtype, False)


def _result(out: _Operand, ml_bf16: Any = None) -> Any:
    """The user-facing form of a computed output (see the module docstring)."""
    if out.dtype == "bfloat16" and out.torch:
        import torch

        return torch.from_dlpack(out.arr).view(torch.bfloat16)
    if out.dtype == "bfloat16" and ml_bf16 is not None:
        return out.arr.view(ml_bf16)
    return out.arr


def _ml_bf16_of(*xs: Any) -> Any:
    """The ml_dtypes bfloat16 dtype if any input is a CuPy array of it (so outputs match)."""
    for x in xs:
        if x is not None and not _is_torch(x) and getattr(getattr(x, "dtype", None), "name", "") == "bfloat16":
            return x.dtype
    return None


def _check_kernel(fn: str, kernel: str) -> None:
    if kernel not in KERNELS:
        raise ValueError(f"{fn}: kernel must be one of {KERNELS}, got {kernel!r}")


def _gemm(a: _Operand, b: _Operand, out: _Operand, *, bias: _Operand | None = None, aux: _Operand | None = None,
          activation: int = 0, act_backward: bool = False, allow_tf32: bool = False, kernel: str = "auto") -> None:
    _C_cuda.gemm(a.desc(), b.desc(), out.desc(), None if bias is None else bias.desc(),
                 None if aux is None else aux.desc(), activation, act_backward, False, bool(allow_tf32), kernel,
                 backend.current_stream_ptr())


def _overlaps(out: _Operand, *ins: _Operand | None) -> bool:
    cp = backend.xp_for("cuda")
    return any(x is not None and cp.may_share_memory(out.arr, x.arr) for x in ins)


def last_kernel() -> str:
    """'<family>:<dtype>' of the CUDA GEMM kernel this thread launched last (e.g. 'wgmma:bf16')."""
    return _C_cuda.last_kernel()


# ---- matmul -----------------------------------------------------------------------------------

def matmul(a: Any, b: Any, out: Any = None, *, allow_tf32: bool = False, dtype: str | None = None,
           kernel: str = "auto") -> Any:
    """``a @ b`` on CUDA with NumPy's matmul rules (1-D promotion, broadcast batch dims, any strides).

    a: (..., M, K) or (K,)    b: (..., K, N) or (K,)    →  (..., M, N)
    """
    fn = "matmul"
    _check_dtype_arg(fn, dtype)
    _check_kernel(fn, kernel)
    A, B = _operand(a, fn, "a", dtype), _operand(b, fn, "b", dtype)
    dt = _same_dtype(fn, a=A, b=B)
    for name, x in (("a", A), ("b", B)):
        if x.ndim < 1:
            raise ValueError(f"{fn}: {name} must have at least 1 dimension(s), got 0 (shape {tuple(x.shape)})")
    cp = backend.xp_for("cuda")
    A2 = A.view(A.arr[None, :]) if A.ndim == 1 else A
    B2 = B.view(B.arr[:, None]) if B.ndim == 1 else B
    M, K = A2.shape[-2:]
    K2, N = B2.shape[-2:]
    if K != K2:
        raise ValueError(f"{fn}: inner dimensions differ: a is {tuple(A.shape)} (K={K}), b is {tuple(B.shape)} (K={K2})")
    try:
        batch = np.broadcast_shapes(A2.shape[:-2], B2.shape[:-2])
    except ValueError:
        raise ValueError(f"{fn}: batch dimensions {A2.shape[:-2]} and {B2.shape[:-2]} do not broadcast") from None
    shape = [*batch, M, N]
    if B.ndim == 1:
        shape.pop(-1)
    if A.ndim == 1:
        shape.pop(-2 if B.ndim != 1 else -1)
    shape = tuple(shape)

    O = None
    if out is not None:
        O = _operand(out, fn, "out", dt)
        if O.dtype != dt:
            raise TypeError(f"{fn}: out must be {dt}, got {O.dtype}")
        if tuple(O.shape) != shape:
            raise ValueError(f"{fn}: out must have shape {shape}, got {tuple(O.shape)}")
    target = O if O is not None and not _overlaps(O, A, B) else _empty(shape, dt, [A, B])
    full = target.arr
    if A.ndim == 1:
        full = cp.expand_dims(full, -1 if B.ndim == 1 else -2)
    if B.ndim == 1:
        full = cp.expand_dims(full, -1)
    if full.size and K == 0:
        full[...] = 0
    elif full.size:
        _gemm(A2, B2, target.view(full), allow_tf32=allow_tf32, kernel=kernel)
    if O is not None:
        if target is not O:
            O.arr[...] = target.arr
        return out
    return _result(target, _ml_bf16_of(a, b))


# ---- linear -----------------------------------------------------------------------------------

def _activation_code(fn: str, activation: Any) -> int:
    if activation not in ACTIVATIONS:
        names = sorted(k for k in ACTIVATIONS if k is not None)
        raise ValueError(f"{fn}: activation must be None or one of {names} on CUDA, got {activation!r}")
    return ACTIVATIONS[activation]


def _rows(x: _Operand) -> _Operand:
    """(..., F) → (R, F) as a view when the leading dims merge (else a copy)."""
    return x.view(x.arr.reshape(-1, x.shape[-1]))


def _linear_operands(fn, x, weight, bias, dtype):
    X, W = _operand(x, fn, "x", dtype), _operand(weight, fn, "weight", dtype)
    Bi = None if bias is None else _operand(bias, fn, "bias", dtype)
    dt = _same_dtype(fn, x=X, weight=W, bias=Bi)
    if X.ndim < 1:
        raise ValueError(f"{fn}: x must have at least 1 dimension, got 0")
    if W.ndim != 2:
        raise ValueError(f"{fn}: weight must have 2 dimensions (out_features, in_features), got shape {tuple(W.shape)}")
    if X.shape[-1] != W.shape[1]:
        raise ValueError(f"{fn}: x has {X.shape[-1]} features but weight expects {W.shape[1]} (weight shape {tuple(W.shape)})")
    if Bi is not None and tuple(Bi.shape) != (W.shape[0],):
        raise ValueError(f"{fn}: bias must have shape ({W.shape[0]},), got {tuple(Bi.shape)}")
    if W.shape[1] == 0:
        raise ValueError(f"{fn}: in_features must be > 0 on CUDA")
    return X, W, Bi, dt


def linear(x: Any, weight: Any, bias: Any = None, activation: str | None = None, out: Any = None, *,
           allow_tf32: bool = False, dtype: str | None = None, kernel: str = "auto") -> Any:
    """y = act(x @ weight.T + bias) in one GEMM with a fused epilogue.

    x: (..., in), weight: (out, in), bias: (out,) or None  →  y: (..., out)
    """
    fn = "linear"
    _check_dtype_arg(fn, dtype)
    _check_kernel(fn, kernel)
    code = _activation_code(fn, activation)
    X, W, Bi, dt = _linear_operands(fn, x, weight, bias, dtype)
    shape = (*X.shape[:-1], W.shape[0])
    O = None
    if out is not None:
        O = _operand(out, fn, "out", dt)
        if O.dtype != dt or tuple(O.shape) != shape:
            raise ValueError(f"{fn}: out must be {dt} with shape {shape}, got {O.dtype} {tuple(O.shape)}")
    # Written in place only when C-contiguous (then the (rows, out) reshape is a view).
    direct = O is not None and O.arr.flags.c_contiguous and not _overlaps(O, X, W, Bi)
    target = O if direct else _empty(shape, dt, [X, W])
    X2 = _rows(X)
    if X2.shape[0]:
        target2 = target.view(target.arr.reshape(-1, shape[-1]))
        _gemm(X2, W.view(W.arr.T), target2, bias=Bi, activation=code, allow_tf32=allow_tf32, kernel=kernel)
    if O is not None:
        if target is not O:
            O.arr[...] = target.arr
        return out
    return _result(target, _ml_bf16_of(x, weight))


def linear_backward(grad_out: Any, x: Any, weight: Any, bias: Any = None, activation: str | None = None, *,
                    allow_tf32: bool = False, dtype: str | None = None, kernel: str = "auto"):
    """→ (grad_x (..., in), grad_weight (out, in), grad_bias (out,) or None).

    With an activation, dZ = grad_out · act'(x @ weight.T + bias) comes from one GEMM whose
    epilogue recomputes the pre-activation; then grad_x = dZ @ weight, grad_weight = dZᵀ @ x
    (transposed operands are layout flags, not copies) and grad_bias = column sums of dZ.
    """
    fn = "linear_backward"
    _check_dtype_arg(fn, dtype)
    _check_kernel(fn, kernel)
    code = _activation_code(fn, activation)
    X, W, Bi, dt = _linear_operands(fn, x, weight, bias, dtype)
    G = _operand(grad_out, fn, "grad_out", dt)
    if G.dtype != dt:
        raise TypeError(f"{fn}: grad_out must be {dt}, got {G.dtype}")
    out_shape = (*X.shape[:-1], W.shape[0])
    if tuple(G.shape) != out_shape:
        raise ValueError(f"{fn}: grad_out must have shape {out_shape}, got {tuple(G.shape)}")
    X2, G2 = _rows(X), _rows(G)
    R, (N, F) = X2.shape[0], W.shape
    like = [X, W, G]
    if code == 0:
        dZ = G2
    else:
        dZ = _empty((R, N), dt, like)
        if R:
            _gemm(X2, W.view(W.arr.T), dZ, bias=Bi, aux=G2, activation=code, act_backward=True,
                  allow_tf32=allow_tf32, kernel=kernel)
    gx = _empty((R, F), dt, like)
    gw = _empty((N, F), dt, like)
    if R:
        _gemm(dZ, W, gx, allow_tf32=allow_tf32, kernel=kernel)
        _gemm(dZ.view(dZ.arr.T), X2, gw, allow_tf32=allow_tf32, kernel=kernel)
    else:
        gw.arr[...] = 0
    gb = None
    if Bi is not None:
        gb = _empty((N,), dt, like)
        _C_cuda.column_sum(dZ.desc(), gb.desc(), backend.current_stream_ptr())
    ml = _ml_bf16_of(grad_out, x, weight)
    grad_x = _result(gx.view(gx.arr.reshape(X.shape)), ml)
    return grad_x, _result(gw, ml), None if gb is None else _result(gb, ml)
