"""fastnn.Tensor: an array (NumPy on CPU, CuPy on CUDA) with reverse-mode autograd.

Every differentiable method is a :class:`fastnn.autograd.Function` whose math runs in fastnn's
kernels (see ``fastnn.autograd.kernels``). ``.data`` is the underlying array itself.
"""
from __future__ import annotations

import copy
import weakref
from typing import Any, Iterable, Sequence

import numpy as np

from . import backend
from .autograd import basic as B
from .autograd import shape as S
from .autograd.engine import run_backward
from .autograd.grad_mode import is_grad_enabled

_DEFAULT_FLOAT = np.dtype(np.float32)


def _as_array(data: Any, dtype: Any = None, device: str | None = None, copy_: bool = False) -> Any:
    """NumPy/CuPy array from an array, a DLPack object, a Tensor, a number or a nested list."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray) or hasattr(data, "__cuda_array_interface__"):
        arr = data
    elif hasattr(data, "__dlpack_device__"):
        arr = backend.as_array(data, "fastnn.tensor", "data")
    else:  # Python scalars / lists: floats default to float32, like PyTorch
        arr = np.asarray(data)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"fastnn.Tensor: expected a NumPy or CuPy array, a number or a nested list of "
                            f"numbers, got {type(data).__name__}")
        if dtype is None and arr.dtype == np.float64:
            arr = arr.astype(_DEFAULT_FLOAT)
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    if device is not None:
        arr = _to_device(arr, device)
    if copy_ and arr is data:
        arr = arr.copy()
    return arr


def _device_of(a: Any) -> str:
    return "cpu" if isinstance(a, np.ndarray) else "cuda"


def _to_device(a: Any, device: str) -> Any:
    device = str(device).split(":")[0]
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if _device_of(a) == device:
        return a
    if device == "cpu":
        return a.get()
    backend._require_cuda("Tensor.to")
    return backend.xp_for("cuda").asarray(a)


def _normalize_shape(shape: Sequence[Any]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


class Tensor:
    """An array with autograd. ``Tensor(data, requires_grad=False, dtype=None, device=None)``:
    arrays are wrapped without a copy; Python floats and lists become float32."""

    __slots__ = ("data", "_requires_grad", "grad", "grad_fn", "_output_nr", "__weakref__")
    __array_ufunc__ = None  # NumPy operators defer to Tensor's reflected methods

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None, device: str | None = None):
        self.data = _as_array(data, dtype, device)
        self.grad: Tensor | None = None
        self.grad_fn = None
        self._output_nr = 0
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array: Any, grad_fn: Any = None, output_nr: int = 0) -> "Tensor":
        t = Tensor.__new__(Tensor)
        t.data, t.grad, t.grad_fn, t._output_nr = array, None, grad_fn, output_nr
        t._requires_grad = grad_fn is not None
        return t

    # ---- autograd state ---------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if self.grad_fn is not None:
            if not requires_grad:
                raise RuntimeError("requires_grad can only be changed on leaf tensors; use .detach()")
            return self
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(f"only floating-point tensors can require gradients, got {self.data.dtype}")
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def detach(self) -> "Tensor":
        """A new leaf sharing this tensor's array, outside the graph."""
        return Tensor._wrap(self.data)

    def detach_(self) -> "Tensor":
        self.grad_fn, self._output_nr, self._requires_grad = None, 0, False
        return self

    def retain_grad(self) -> None:
        """Keep .grad for this non-leaf tensor on the next backward."""
        if self.grad_fn is None:
            return
        node = self.grad_fn
        if node.retained is None:
            node.retained = {}
        node.retained[self._output_nr] = weakref.ref(self)

    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        backward([self], None if gradient is None else [gradient], retain_graph=retain_graph)

    # ---- array facts ------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def dim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self) -> str:
        return _device_of(self.data)

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        if self.device != "cpu":
            raise TypeError("Tensor.numpy(): the tensor is on cuda; call .cpu() first")
        return self.data

    def item(self) -> Any:
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def __repr__(self) -> str:
        extra = f", grad_fn=<{self.grad_fn.name()}>" if self.grad_fn is not None else (
            ", requires_grad=True" if self.requires_grad else "")
        dev = "" if self.device == "cpu" else ", device='cuda'"
        return f"Tensor({self.data!r}{dev}{extra})"

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    def __deepcopy__(self, memo: dict) -> "Tensor":
        if self.grad_fn is not None:
            raise RuntimeError("only leaf tensors can be deep-copied (detach() first)")
        t = type(self).__new__(type(self))
        t.data = copy.deepcopy(self.data, memo)
        t.grad = None if self.grad is None else copy.deepcopy(self.grad, memo)
        t.grad_fn, t._output_nr, t._requires_grad = None, 0, self._requires_grad
        memo[id(self)] = t
        return t

    # ---- device / dtype ---------------------------------------------------------------------
    def to(self, *args: Any, **kwargs: Any) -> "Tensor":
        """``to(device)``, ``to(dtype)`` or both; differentiable for a dtype change."""
        device = kwargs.get("device")
        dtype = kwargs.get("dtype")
        for a in args:
            if isinstance(a, str):
                device = a
            else:
                dtype = a
        out = self
        if dtype is not None and np.dtype(dtype) != self.dtype:
            out = S.ToDtype.apply(out, np.dtype(dtype))
        if device is not None and _device_of(out.data) != str(device).split(":")[0]:
            moved = Tensor._wrap(_to_device(out.data, device))
            moved._requires_grad = out.requires_grad and out.is_leaf
            out = moved
        return out

    def cpu(self) -> "Tensor":
        return self.to("cpu")

    def cuda(self) -> "Tensor":
        return self.to("cuda")

    def float(self) -> "Tensor":
        return self.to(np.float32)

    def double(self) -> "Tensor":
        return self.to(np.float64)

    # ---- arithmetic -------------------------------------------------------------------------
    def _operand(self, other: Any) -> Any:
        """Tensors pass through; arrays become constant tensors of this dtype; numbers stay numbers."""
        if isinstance(other, Tensor):
            if other.dtype != self.dtype and other.dtype.kind == "f" and self.dtype.kind == "f":
                raise TypeError(f"dtype mismatch: {self.dtype} and {other.dtype} (cast one with .to())")
            return other
        if isinstance(other, (int, float, np.integer, np.floating)) and not isinstance(other, bool):
            return float(other)
        return Tensor._wrap(_as_array(other, self.dtype))

    def __add__(self, other):
        return B.Add.apply(self, self._operand(other))

    def __radd__(self, other):
        o = self._operand(other)
        return B.Add.apply(self, o) if not isinstance(o, Tensor) else B.Add.apply(o, self)

    def __sub__(self, other):
        return B.Sub.apply(self, self._operand(other))

    def __rsub__(self, other):
        o = self._operand(other)
        return B.RSub.apply(self, o) if not isinstance(o, Tensor) else B.Sub.apply(o, self)

    def __mul__(self, other):
        return B.Mul.apply(self, self._operand(other))

    def __rmul__(self, other):
        o = self._operand(other)
        return B.Mul.apply(self, o) if not isinstance(o, Tensor) else B.Mul.apply(o, self)

    def __truediv__(self, other):
        return B.Div.apply(self, self._operand(other))

    def __rtruediv__(self, other):
        o = self._operand(other)
        return B.RDiv.apply(self, o) if not isinstance(o, Tensor) else B.Div.apply(o, self)

    def __neg__(self):
        return B.Neg.apply(self)

    def __pos__(self):
        return self

    def __pow__(self, exponent):
        if not isinstance(exponent, (int, float)):
            raise TypeError("Tensor ** x supports a Python number exponent")
        return B.Pow.apply(self, float(exponent))

    def __matmul__(self, other):
        return B.MatMul.apply(self, self._operand(other))

    def __rmatmul__(self, other):
        return B.MatMul.apply(self._operand(other), self)

    def matmul(self, other):
        return self @ other

    def add(self, other):
        return self + other

    def sub(self, other):
        return self - other

    def mul(self, other):
        return self * other

    def div(self, other):
        return self / other

    def neg(self):
        return -self

    def pow(self, exponent):
        return self ** exponent

    def exp(self):
        return B.Exp.apply(self)

    def log(self):
        return B.Log.apply(self)

    def sqrt(self):
        return B.Sqrt.apply(self)

    # comparisons: constant bool tensors (no gradient); == and != keep identity semantics
    def _cmp(self, other, op):
        o = other.data if isinstance(other, Tensor) else other
        return Tensor._wrap(op(self.data, o))

    def __lt__(self, other):
        return self._cmp(other, lambda a, b: a < b)

    def __le__(self, other):
        return self._cmp(other, lambda a, b: a <= b)

    def __gt__(self, other):
        return self._cmp(other, lambda a, b: a > b)

    def __ge__(self, other):
        return self._cmp(other, lambda a, b: a >= b)

    def eq(self, other):
        return self._cmp(other, lambda a, b: a == b)

    def ne(self, other):
        return self._cmp(other, lambda a, b: a != b)

    __hash__ = object.__hash__

    # ---- activations (kernels) ----------------------------------------------------------------
    def relu(self):
        from .nn import functional as F

        return F.relu(self)

    def sigmoid(self):
        from .nn import functional as F

        return F.sigmoid(self)

    def tanh(self):
        from .nn import functional as F

        return F.tanh(self)

    def softmax(self, dim: int = -1):
        from .nn import functional as F

        return F.softmax(self, dim)

    def log_softmax(self, dim: int = -1):
        from .nn import functional as F

        return F.log_softmax(self, dim)

    # ---- reductions -------------------------------------------------------------------------
    def _float_or_plain(self, name: str):
        if self.dtype.kind in "fc":
            return None
        return getattr(backend.xp_for(self.device), name)  # integer/bool counts: not differentiable

    def sum(self, dim: Any = None, keepdim: bool = False):
        plain = self._float_or_plain("sum")
        if plain is not None:
            return Tensor._wrap(plain(self.data, axis=dim, keepdims=keepdim))
        return B.Sum.apply(self, axis=dim, keepdims=keepdim)

    def mean(self, dim: Any = None, keepdim: bool = False):
        return B.Mean.apply(self, axis=dim, keepdims=keepdim)

    def max(self, dim: int | None = None, keepdim: bool = False):
        """max() -> value; max(dim) -> (values, indices), as in PyTorch."""
        values, indices = B.Max.apply(self, axis=dim, keepdims=keepdim)
        return values if dim is None else (values, indices)

    def argmax(self, dim: int | None = None, keepdim: bool = False):
        xp = backend.xp_for(self.device)
        out = xp.argmax(self.data, axis=dim)
        if keepdim and dim is not None:
            out = xp.expand_dims(out, dim)
        return Tensor._wrap(out)

    # ---- shape --------------------------------------------------------------------------------
    def reshape(self, *shape):
        shape = _normalize_shape(shape)
        return self if shape == self.shape else S.Reshape.apply(self, shape)

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        nd = max(self.ndim, 1)
        s, e = start_dim % nd, end_dim % nd
        if self.ndim == 0 or s == e:
            return self.reshape(self.shape or (1,))
        return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1:])

    def permute(self, *dims):
        dims = tuple(d % self.ndim for d in _normalize_shape(dims))
        return S.Permute.apply(self, dims)

    def transpose(self, dim0: int, dim1: int):
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return S.Permute.apply(self, tuple(dims))

    @property
    def T(self):
        return S.Permute.apply(self, tuple(reversed(range(self.ndim))))

    def unsqueeze(self, dim: int):
        d = dim % (self.ndim + 1)
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self, dim: int | None = None):
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        d = dim % self.ndim
        return self.reshape(self.shape[:d] + self.shape[d + 1:]) if self.shape[d] == 1 else self

    def expand(self, *shape):
        shape = _normalize_shape(shape)
        lead = len(shape) - self.ndim
        full = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
        return S.Expand.apply(self, full)

    def contiguous(self):
        flags = self.data.flags
        return self if flags.c_contiguous else S.Contiguous.apply(self)

    def clone(self):
        return S.Clone.apply(self)

    def split(self, split_size: int | Sequence[int], dim: int = 0):
        n = self.shape[dim]
        sizes = [split_size] * (n // split_size) + ([n % split_size] if n % split_size else []) \
            if isinstance(split_size, int) else list(split_size)
        bounds = tuple(int(b) for b in np.cumsum(sizes))
        if bounds[-1] != n:
            raise ValueError(f"split sizes {sizes} do not sum to dimension {dim} of size {n}")
        return S.Split.apply(self, bounds, dim % self.ndim)

    def chunk(self, chunks: int, dim: int = 0):
        n = self.shape[dim]
        return self.split(-(-n // chunks), dim)

    def __getitem__(self, index):
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        return S.GetItem.apply(self, index)

    def masked_fill(self, mask, value: float):
        m = mask.data if isinstance(mask, Tensor) else mask
        return S.MaskedFill.apply(self, m, float(value))

    # ---- in place (no graph) --------------------------------------------------------------------
    def _check_inplace(self, what: str) -> None:
        if self.requires_grad and is_grad_enabled():
            raise RuntimeError(f"{what}: a tensor that requires grad cannot be modified in place "
                               "(use `with fastnn.no_grad():`)")

    def zero_(self) -> "Tensor":
        self._check_inplace("zero_")
        self.data[...] = 0
        return self

    def fill_(self, value: float) -> "Tensor":
        self._check_inplace("fill_")
        self.data[...] = value
        return self

    def copy_(self, src: Any) -> "Tensor":
        self._check_inplace("copy_")
        arr = _as_array(src.data if isinstance(src, Tensor) else src)
        self.data[...] = _to_device(arr, self.device)
        return self


# ---- module-level API ------------------------------------------------------------------------

def backward(tensors: Sequence[Tensor] | Tensor, grad_tensors: Any = None, retain_graph: bool = False) -> None:
    """Accumulate d(tensors)/d(leaf) into every leaf's .grad (grad_tensors weight each root)."""
    if isinstance(tensors, Tensor):
        tensors = [tensors]
        if grad_tensors is not None and not isinstance(grad_tensors, (list, tuple)):
            grad_tensors = [grad_tensors]
    tensors = list(tensors)
    grads = []
    for i, t in enumerate(tensors):
        if not t.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and has no grad_fn "
                               "(nothing to differentiate)")
        g = None if grad_tensors is None else grad_tensors[i]
        if g is None:
            if t.numel() != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs; got shape "
                                   f"{t.shape}: pass a gradient of that shape")
            g = backend.xp_for(t.device).ones(t.shape, dtype=t.dtype)
        else:
            g = _as_array(g.data if isinstance(g, Tensor) else g, t.dtype, t.device)
            if tuple(g.shape) != t.shape:
                raise RuntimeError(f"gradient has shape {tuple(g.shape)} but the tensor has shape {t.shape}")
        grads.append(g)
    run_backward(tensors, grads, retain_graph)


def tensor(data: Any, dtype: Any = None, device: str | None = None, requires_grad: bool = False) -> Tensor:
    """A new Tensor owning a copy of data (floats default to float32)."""
    arr = _as_array(data, dtype, device)
    if arr is data or (isinstance(data, Tensor) and arr is data.data):
        arr = arr.copy()
    return Tensor(arr, requires_grad=requires_grad)


def _filled(fill: str, shape, dtype, device, requires_grad) -> Tensor:
    xp = backend.xp_for(device or "cpu")
    arr = getattr(xp, fill)(_normalize_shape(shape), dtype=np.dtype(dtype or _DEFAULT_FLOAT))
    return Tensor(arr, requires_grad=requires_grad)


def zeros(*shape, dtype: Any = None, device: str | None = None, requires_grad: bool = False) -> Tensor:
    return _filled("zeros", shape, dtype, device, requires_grad)


def ones(*shape, dtype: Any = None, device: str | None = None, requires_grad: bool = False) -> Tensor:
    return _filled("ones", shape, dtype, device, requires_grad)


def cat(tensors: Iterable[Tensor], dim: int = 0) -> Tensor:
    tensors = list(tensors)
    return S.Cat.apply(*tensors, axis=dim % tensors[0].ndim)


def stack(tensors: Iterable[Tensor], dim: int = 0) -> Tensor:
    tensors = list(tensors)
    return S.Stack.apply(*tensors, axis=dim % (tensors[0].ndim + 1))
