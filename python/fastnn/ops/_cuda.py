"""Plumbing shared by the CUDA op modules (cuda_glue, cuda_attention, cuda_conv): CUDA arrays in,
descriptors to ``fastnn._C_cuda`` out, outputs allocated here, results handed back in the form the
inputs came in.

Arrays: anything with ``__cuda_array_interface__`` (CuPy) is read through that interface; torch /
DLPack CUDA tensors go through CuPy's DLPack import. dtypes float32, float16 and bfloat16 (FP32 math
inside every kernel). CuPy has no bfloat16 of its own, so bfloat16 arrives as a torch bfloat16
tensor (result: torch bfloat16), a CuPy array of ``ml_dtypes.bfloat16`` (result: the same dtype), or
a ``uint16`` CuPy array of bfloat16 bits with ``dtype="bfloat16"`` given to the CUDA module's
function (result: uint16 bits) — the conventions of :mod:`fastnn.ops.cuda_gemm`.

``xp()`` (the array module) and ``stream()`` are looked up at call time, so host-side tests can run
the whole validation path with stand-in arrays on a machine without a GPU.
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from .. import backend
from .._ext import _C_cuda

FLOATS = ("float32", "float16", "bfloat16")
INTS = ("int32", "int64")


def xp():
    """The CUDA array module (CuPy)."""
    return backend.xp_for("cuda")


def stream() -> int:
    """Pointer of CuPy's current stream (the kernels launch on it)."""
    return backend.current_stream_ptr()


def kernels():
    """The compiled CUDA extension (RuntimeError when this build has none)."""
    if _C_cuda is None:
        raise RuntimeError(f"fastnn's CUDA extension is not available: {backend.cuda_unavailable_reason()}")
    return _C_cuda


class Arr:
    """A CUDA array as the kernels see it: the array (bfloat16 as 16-bit integers), its logical
    dtype name, and whether it came from torch (results go back the same way)."""

    __slots__ = ("arr", "dtype", "torch")

    def __init__(self, arr: Any, dtype: str, torch: bool = False):
        self.arr, self.dtype, self.torch = arr, dtype, torch

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.arr.shape)

    @property
    def ndim(self) -> int:
        return len(self.arr.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.arr.shape, dtype=np.int64))

    def desc(self):
        ptr, shape, strides, _ = backend.cuda_descriptor(self.arr)
        return ptr, shape, strides, self.dtype

    def view(self, arr: Any) -> "Arr":
        return Arr(arr, self.dtype, self.torch)

    def reshape(self, *shape) -> "Arr":
        return self.view(self.arr.reshape(*shape))

    def contiguous(self) -> "Arr":
        """C-contiguous (a copy only when needed)."""
        if _c_contiguous(self.arr):
            return self
        return self.view(xp().ascontiguousarray(self.arr))


def _c_contiguous(a: Any) -> bool:
    flags = getattr(a, "flags", None)
    if flags is not None:
        return bool(flags.c_contiguous)
    _, shape, strides, _ = backend.cuda_descriptor(a)
    step = 1
    for n, s in zip(reversed(shape), reversed(strides)):
        if n != 1 and s != step:
            return False
        step *= n
    return True


def is_torch(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def _name(dt: Any) -> str:
    return np.dtype(dt).name


def _alternatives(names: tuple[str, ...]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def operand(x: Any, fn: str, arg: str, allowed: Iterable[str] = FLOATS, dtype: str | None = None) -> Arr:
    """x as an Arr of one of the `allowed` dtypes (TypeError naming fn and arg otherwise)."""
    allowed = tuple(allowed)
    if x is None:
        raise TypeError(f"{fn}: {arg} must be an array, got None")
    if is_torch(x):
        if x.device.type != "cuda":
            raise ValueError(f"{fn}: {arg} is on {x.device}, expected a CUDA tensor")
        import torch

        if x.dtype == torch.bfloat16:
            if "bfloat16" not in allowed:
                raise TypeError(f"{fn}: {arg} must be {_alternatives(allowed)}, got bfloat16")
            return Arr(xp().from_dlpack(x.view(torch.int16)), "bfloat16", True)
        arr = xp().from_dlpack(x)
        torch_in = True
    elif hasattr(x, "__cuda_array_interface__"):
        arr, torch_in = x, False
    elif hasattr(x, "__dlpack_device__"):
        arr, torch_in = xp().from_dlpack(x), False
    else:
        raise TypeError(f"{fn}: {arg} must be a CUDA array, got {type(x).__name__}")
    name = _name(arr.dtype)
    if name == "bfloat16" and "bfloat16" in allowed:  # ml_dtypes.bfloat16 through CuPy
        return Arr(arr.view(xp().uint16), "bfloat16", torch_in)
    if dtype == "bfloat16" and name in ("uint16", "int16") and "bfloat16" in allowed:
        return Arr(arr, "bfloat16", torch_in)
    if name not in allowed:
        hint = " (bfloat16 bits in a uint16 array need dtype='bfloat16')" if name in ("uint16", "int16") else ""
        raise TypeError(f"{fn}: {arg} must be {_alternatives(allowed)} on CUDA, got {name}{hint}")
    if dtype is not None and dtype != name:
        raise TypeError(f"{fn}: {arg} is {name} but dtype={dtype!r} was given")
    return Arr(arr, name, torch_in)


def optional(x: Any, fn: str, arg: str, allowed: Iterable[str] = FLOATS, dtype: str | None = None) -> Arr | None:
    return None if x is None else operand(x, fn, arg, allowed, dtype)


def check_dtype_arg(fn: str, dtype: str | None) -> None:
    if dtype is not None and dtype not in FLOATS:
        raise ValueError(f"{fn}: dtype must be None or one of {FLOATS}, got {dtype!r}")


def same_dtype(fn: str, **ops: Arr | None) -> str:
    named = {k: v for k, v in ops.items() if v is not None}
    dts = {v.dtype for v in named.values()}
    if len(dts) > 1:
        detail = ", ".join(f"{k} {v.dtype}" for k, v in named.items())
        raise TypeError(f"{fn}: all arrays must have one dtype, got {detail}")
    return dts.pop()


def same_shape(fn: str, ref_name: str, ref: Arr, **others: Arr | None) -> None:
    for name, a in others.items():
        if a is not None and a.shape != ref.shape:
            raise ValueError(f"{fn}: {name} must have the shape of {ref_name} {ref.shape}, got {a.shape}")


def empty(shape: tuple[int, ...], dtype: str, like: Iterable[Arr | None] = ()) -> Arr:
    """A new C-contiguous CUDA array; bfloat16 is stored as 16-bit integers (int16 when an input
    came from torch, so the result converts back to a torch bfloat16 tensor)."""
    torch_in = any(a is not None and a.torch for a in like)
    if dtype == "bfloat16":
        return Arr(xp().empty(shape, dtype=np.int16 if torch_in else np.uint16), "bfloat16", torch_in)
    return Arr(xp().empty(shape, dtype=np.dtype(dtype)), dtype, torch_in)


def zeros(shape: tuple[int, ...], dtype: str, like: Iterable[Arr | None] = ()) -> Arr:
    a = empty(shape, dtype, like)
    a.arr[...] = 0
    return a


def ml_bf16_of(*xs: Any) -> Any:
    """The ml_dtypes bfloat16 dtype if an input is a CuPy array of it (outputs then match)."""
    for x in xs:
        if x is not None and not is_torch(x) and getattr(getattr(x, "dtype", None), "name", "") == "bfloat16":
            return x.dtype
    return None


def result(a: Arr | None, *inputs: Any) -> Any:
    """The user-facing form of an output Arr (see the module docstring)."""
    if a is None:
        return None
    if a.torch:
        import torch

        t = torch.from_dlpack(a.arr)
        return t.view(torch.bfloat16) if a.dtype == "bfloat16" else t
    if a.dtype == "bfloat16":
        ml = ml_bf16_of(*inputs)
        if ml is not None:
            return a.arr.view(ml)
    return a.arr


def out_arg(fn: str, out: Any, shape: tuple[int, ...], dtype: str, inputs: Iterable[Arr | None],
            in_place_ok: bool = True) -> tuple[Arr, Arr | None]:
    """(array the kernel writes, user's out to copy into afterwards or None).

    The kernel writes ``out`` itself when it is C-contiguous and overlaps no input, or (with
    ``in_place_ok``) is exactly one of the inputs; otherwise it writes a temporary that is copied.
    """
    if out is None:
        return empty(shape, dtype, inputs), None
    o = operand(out, fn, "out", FLOATS, dtype)
    if o.dtype != dtype:
        raise TypeError(f"{fn}: out must be {dtype}, got {o.dtype}")
    if o.shape != tuple(shape):
        raise ValueError(f"{fn}: out must have shape {tuple(shape)}, got {o.shape}")
    clash = False
    for a in inputs:
        if a is None:
            continue
        if in_place_ok and same_view(o, a):
            continue
        if may_share(o, a):
            clash = True
    if _c_contiguous(o.arr) and not clash:
        return o, None
    return empty(shape, dtype, inputs), o


def finish(target: Arr, copy_to: Arr | None, user_out: Any, *inputs: Any) -> Any:
    if copy_to is None:
        return user_out if user_out is not None else result(target, *inputs)
    copy_to.arr[...] = target.arr
    return user_out


def same_view(a: Arr, b: Arr) -> bool:
    da, db = a.desc(), b.desc()
    return da[0] == db[0] and da[1] == db[1] and da[2] == db[2]


def may_share(a: Arr, b: Arr) -> bool:
    """Conservative overlap test on the byte ranges the two views span."""
    def span(x: Arr) -> tuple[int, int]:
        ptr, shape, strides, _ = x.desc()
        item = 2 if x.dtype in ("float16", "bfloat16") else np.dtype(_name(x.arr.dtype)).itemsize
        if any(n == 0 for n in shape):
            return ptr, ptr
        lo = ptr + sum((n - 1) * s for n, s in zip(shape, strides) if s < 0) * item
        hi = ptr + (sum((n - 1) * s for n, s in zip(shape, strides) if s > 0) + 1) * item
        return lo, hi

    (a0, a1), (b0, b1) = span(a), span(b)
    return a0 < b1 and b0 < a1


def int_scalar(fn: str, arg: str, v: Any) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{fn}: {arg} must be an int, got {type(v).__name__}")
    return int(v)
