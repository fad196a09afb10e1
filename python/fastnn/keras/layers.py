"""Keras-style layers: sizes are inferred from the input the first time a layer sees it.

Each layer is a fastnn.nn.Module that builds PyTorch-convention modules (nn.Linear, nn.Conv2d,
nn.LSTM, ...) when its input shape is known, so `Dense(64)` needs no input size. Layouts are
fastnn's (PyTorch's): images NCHW, sequences (N, L, F) — not Keras' NHWC.

Calling a layer on a symbolic `Input(...)` builds it and returns a symbolic output (the functional
API: `Model(inputs, outputs)`); calling it on a Tensor computes. Merge layers (`Add`,
`Concatenate`) take a list of inputs, so graphs can branch and join (a residual block:
`Add()([x, Dense(n)(x)])`).
"""
from __future__ import annotations

import itertools
import re
import weakref
from typing import Sequence

import numpy as np

import fastnn

from ._backend import F, device_of_module, eval_mode, nn, no_grad, to_tensor

__all__ = ["Layer", "Input", "KerasTensor", "Dense", "Activation", "Dropout", "Flatten", "Conv2D",
           "MaxPooling2D", "GlobalAveragePooling2D", "Embedding", "LSTM", "GRU", "BatchNormalization",
           "LayerNormalization", "Add", "Concatenate", "get_activation", "LAYERS"]

LAYERS: dict[str, type] = {}
_counters: dict[str, itertools.count] = {}


def _auto_name(prefix: str) -> str:
    n = next(_counters.setdefault(prefix, itertools.count()))
    return prefix if n == 0 else f"{prefix}_{n}"


def _snake(name: str) -> str:
    """MaxPooling2D -> max_pooling2d, CharGPT -> char_gpt, MLP -> mlp."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z0-9])(?=[A-Z][a-z])", "_", name).lower()


# ---------------------------------------------------------------------------
# activations by name
# ---------------------------------------------------------------------------
def _softmax(x):
    return F.softmax(x, -1)


_ACTIVATIONS = {name: getattr(F, name, None) for name in
                ("relu", "sigmoid", "tanh", "gelu", "silu", "leaky_relu", "elu", "softplus")}
_ACTIVATIONS.update({"softmax": _softmax, "swish": _ACTIVATIONS["silu"],
                     "log_softmax": lambda x: F.log_softmax(x, -1)})
_FUSABLE = ("sigmoid", "softmax")  # the loss can use the logits instead
_EPILOGUE = ("relu", "gelu", "silu", "tanh")  # nn.Linear fuses these into its GEMM epilogue
# sigmoid/softmax output -> its logits, for as long as the output lives (Tensor has __slots__)
_LOGITS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def logits_of(y_pred):
    """The pre-activation of a fastnn.keras sigmoid/softmax output, or None."""
    try:
        return _LOGITS.get(y_pred)
    except TypeError:  # not weak-referenceable
        return None


def get_activation(name):
    """The function for an activation name ('relu', 'sigmoid', 'softmax', 'tanh', 'gelu', ...), None or 'linear'
    for identity, or a callable as is."""
    if name is None or name == "linear":
        return None
    if callable(name):
        return name
    fn = _ACTIVATIONS.get(name)
    if fn is None:
        known = sorted(k for k, v in _ACTIVATIONS.items() if v is not None)
        raise ValueError(f"unknown activation {name!r}; known: linear, {', '.join(known)}")
    return fn


def _apply_activation(name, fn, z):
    if fn is None:
        return z
    out = fn(z)
    if name in _FUSABLE:  # let the loss use the logits (stable; fused kernels)
        _LOGITS[out] = z
    return out


# ---------------------------------------------------------------------------
# symbolic tensors (functional API)
# ---------------------------------------------------------------------------
class KerasTensor:
    """A symbolic value of known per-sample shape: an `Input`, or the output of a layer called on one."""

    def __init__(self, shape: tuple, dtype: str, layer=None, inputs: Sequence["KerasTensor"] = (), name: str = ""):
        self.shape = tuple(shape)  # without the batch axis
        self.dtype = dtype
        self.layer = layer
        self.inputs = list(inputs)
        self.name = name

    def __repr__(self) -> str:
        return f"KerasTensor(shape=(None, {', '.join(map(str, self.shape))}), dtype={self.dtype}, name={self.name!r})"


def Input(shape, dtype: str = "float32", name: str | None = None) -> KerasTensor:
    """A model input of per-sample `shape` (the batch axis is implicit): Input(shape=(3,)), Input((1, 28, 28))."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if not all(isinstance(d, int) and d > 0 for d in shape):
        raise ValueError(f"Input: shape must be positive ints (without the batch axis), got {shape}")
    np.dtype(dtype)  # raises on nonsense
    return KerasTensor(shape, str(np.dtype(dtype)), name=name or _auto_name("input"))


# ---------------------------------------------------------------------------
# base layer
# ---------------------------------------------------------------------------
class Layer(nn.Module):
    """Base: subclasses implement `build(input_shape)` (create modules; shape without batch axis) and
    `call(x)`; `get_config()` returns the constructor arguments (JSON) for saving."""

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        LAYERS[cls.__name__] = cls

    def __init__(self, name: str | None = None, input_shape=None) -> None:
        super().__init__()
        self.name = name or _auto_name(_snake(type(self).__name__))
        self.built = False
        self.input_shape = None if input_shape is None else tuple(
            (input_shape,) if isinstance(input_shape, int) else input_shape)
        self.output_shape = None

    def build(self, input_shape: tuple) -> None:  # noqa: B027  (stateless layers build nothing)
        pass

    def call(self, x):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"name": self.name}

    def build_for(self, input_shape: tuple, dtype: str = "float32") -> tuple:
        """Build for per-sample `input_shape`, then find the output shape by running one zero sample."""
        if not self.built:
            self.input_shape = tuple(input_shape)
            self.build(self.input_shape)
            self.built = True
        probe = np.zeros((1, *input_shape), dtype=dtype)
        with no_grad(), eval_mode(self):
            out = self.forward(to_tensor(probe, device_of_module(self)))
        self.output_shape = tuple(out.shape[1:])
        return self.output_shape

    def forward(self, x):
        if not self.built:
            self.build_for(tuple(x.shape[1:]), str(_dtype_of(x)))
        return self.call(x)

    def __call__(self, *args, **kw):
        if args and isinstance(args[0], (list, tuple)):
            raise TypeError(f"{type(self).__name__} ({self.name}) takes one input, got a list of {len(args[0])}; "
                            f"merge several with Add()([...]) or Concatenate()([...]) first")
        if args and isinstance(args[0], KerasTensor):
            if len(args) != 1:
                raise TypeError(f"{type(self).__name__} ({self.name}) takes one input, got {len(args)}")
            (x,) = args
            shape = self.build_for(x.shape, x.dtype)
            return KerasTensor(shape, "float32", layer=self, inputs=[x], name=self.name)
        return super().__call__(*args, **kw)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")


def _dtype_of(x):
    return getattr(x, "dtype", np.float32)


# ---------------------------------------------------------------------------
# layers
# ---------------------------------------------------------------------------
class Dense(Layer):
    """units outputs from the last axis: activation(x @ W.T + b), W of shape (units, in) as nn.Linear."""

    def __init__(self, units: int, activation=None, use_bias: bool = True, name: str | None = None, input_shape=None):
        super().__init__(name, input_shape)
        if not isinstance(units, int) or units < 1:
            raise ValueError(f"Dense: units must be a positive int, got {units!r}")
        self.units, self.activation, self.use_bias = units, activation, use_bias
        self._act = get_activation(activation)

    def build(self, input_shape):
        self._fused = self.activation if self.activation in _EPILOGUE else None
        self.linear = nn.Linear(input_shape[-1], self.units, bias=self.use_bias, activation=self._fused)

    def call(self, x):
        if self._fused:
            return self.linear(x)
        return _apply_activation(self.activation, self._act, self.linear(x))

    def get_config(self):
        return {"units": self.units, "activation": self.activation, "use_bias": self.use_bias, "name": self.name}


class Activation(Layer):
    def __init__(self, activation, name: str | None = None, input_shape=None):
        super().__init__(name, input_shape)
        self.activation = activation
        self._act = get_activation(activation)

    def call(self, x):
        return _apply_activation(self.activation, self._act, x)

    def get_config(self):
        return {"activation": self.activation, "name": self.name}


class Dropout(Layer):
    """Zeroes a fraction `rate` of the values while training (scaled by 1/(1-rate)); identity in eval."""

    def __init__(self, rate: float, name: str | None = None, input_shape=None):
        super().__init__(name, input_shape)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.dropout = nn.Dropout(self.rate)

    def call(self, x):
        return self.dropout(x)

    def get_config(self):
        return {"rate": self.rate, "name": self.name}


class Flatten(Layer):
    def call(self, x):
        return x.reshape(x.shape[0], -1)


class Conv2D(Layer):
    """2-D convolution on NCHW input: `filters` output channels, padding 'valid' or 'same' (odd kernels)."""

    def __init__(self, filters: int, kernel_size, strides=1, padding: str = "valid", activation=None,
                 use_bias: bool = True, name: str | None = None, input_shape=None):
        super().__init__(name, input_shape)
        if padding not in ("valid", "same"):
            raise ValueError(f"Conv2D: padding must be 'valid' or 'same', got {padding!r}")
        ks = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        if padding == "same" and (strides != 1 or any(k % 2 == 0 for k in ks)):
            raise ValueError(f"Conv2D: padding='same' needs stride 1 and odd kernels, got kernel {ks}, stride {strides}")
        self.filters, self.kernel_size, self.strides, self.padding = filters, list(ks), strides, padding
        self.activation, self.use_bias = activation, use_bias
        self._act = get_activation(activation)

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"Conv2D: input must be (C, H, W) per sample (NCHW), got {input_shape}")
        pad = tuple(k // 2 for k in self.kernel_size) if self.padding == "same" else 0
        self.conv = nn.Conv2d(input_shape[0], self.filters, tuple(self.kernel_size), stride=self.strides,
                              padding=pad, bias=self.use_bias)

    def call(self, x):
        return _apply_activation(self.activation, self._act, self.conv(x))

    def get_config(self):
        return {"filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "activation": self.activation, "use_bias": self.use_bias, "name": self.name}


class MaxPooling2D(Layer):
    def __init__(self, pool_size=2, strides=None, name: str | None = None, input_shape=None):
        super().__init__(name, input_shape)
        self.pool_size, self.strides = pool_size, strides

    def call(self, x):
        return F.max_pool2d(x, self.pool_size, self.strides or self.pool_size)

    def get_config(self):
        return {"pool_size": self.pool_size, "strides": self.strides, "name": self.name}


class GlobalAveragePooling2D(Layer):
    def call(self, x):
        return x.mean((2, 3))


class BatchNormalization(Layer):
    """Batch norm over the channel axis 1 (features for (N, F), channels for NCHW)."""

    def __init__(self, momentum: float = 0.1, epsilon: float = 1e-5, name: str | None = None, input_shape=None):
        super().__init__(name, input_shape)
        self.momentum, self.epsilon = momentum, epsilon

    def build(self, input_shape):
        cls = nn.BatchNorm2d if len(input_shape) == 3 else nn.BatchNorm1d
        self.bn = cls(input_shape[0], eps=self.epsilon, momentum=self.momentum)

    def call(self, x):
        return self.bn(x)

    def get_config(self):
        return {"momentum": self.momentum, "epsilon": self.epsilon, "name": self.name}


class LayerNormalization(Layer):
    def __init__(self, epsilon: float = 1e-5, name: str | None = None, input_shape=None):
        super().__init__(name, input_shape)
        self.epsilon = epsilon

    def build(self, input_shape):
        self.ln = nn.LayerNorm(input_shape[-1], eps=self.epsilon)

    def call(self, x):
        return self.ln(x)

    def get_config(self):
        return {"epsilon": self.epsilon, "name": self.name}


class Embedding(Layer):
    """Integer ids (N, L) -> vectors (N, L, output_dim)."""

    def __init__(self, input_dim: int, output_dim: int, name: str | None = None, input_shape=None):
        super().__init__(name, input_shape)
        self.input_dim, self.output_dim = input_dim, output_dim
        self.embedding = nn.Embedding(input_dim, output_dim)
        self.built = True

    def build_for(self, input_shape, dtype="int64"):
        return super().build_for(input_shape, "int64")

    def call(self, x):
        return self.embedding(x)

    def get_config(self):
        return {"input_dim": self.input_dim, "output_dim": self.output_dim, "name": self.name}


class _Recurrent(Layer):
    _module = ""

    def __init__(self, units: int, return_sequences: bool = False, name: str | None = None, input_shape=None):
        super().__init__(name, input_shape)
        self.units, self.return_sequences = units, return_sequences

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"{type(self).__name__}: input must be (L, F) per sample, got {input_shape}")
        self.rnn = getattr(nn, self._module)(input_shape[-1], self.units, batch_first=True)

    def call(self, x):
        out = self.rnn(x)[0]  # (N, L, units)
        return out if self.return_sequences else out[:, -1]

    def get_config(self):
        return {"units": self.units, "return_sequences": self.return_sequences, "name": self.name}


class LSTM(_Recurrent):
    _module = "LSTM"


class GRU(_Recurrent):
    _module = "GRU"


# ---------------------------------------------------------------------------
# merge layers: several inputs, one output
# ---------------------------------------------------------------------------
class _Merge(Layer):
    """Base of layers called on a list of inputs: `layer([a, b, ...])` (or `layer(a, b, ...)` on Tensors).
    Subclasses implement `merge_shape(shapes)` (per-sample shapes -> output shape, raising on a
    mismatch) and `merge(tensors)`."""

    def merge_shape(self, shapes: list[tuple]) -> tuple:
        raise NotImplementedError

    def merge(self, xs: list):
        raise NotImplementedError

    def _inputs(self, args) -> list:
        xs = list(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) else list(args)
        if len(xs) < 2:
            raise ValueError(f"{type(self).__name__} ({self.name}): needs a list of at least 2 inputs, got {len(xs)}")
        return xs

    def build_for(self, input_shapes, dtype: str = "float32") -> tuple:
        shapes = [tuple(s) for s in input_shapes]
        out = self.merge_shape(shapes)
        self.input_shape = shapes
        self.built = True
        self.output_shape = out
        return out

    def __call__(self, *args, **kw):
        xs = self._inputs(args)
        symbolic = [isinstance(x, KerasTensor) for x in xs]
        if any(symbolic):
            if not all(symbolic):
                raise TypeError(f"{type(self).__name__} ({self.name}): mix of symbolic (Input) and concrete inputs")
            shape = self.build_for([x.shape for x in xs])
            return KerasTensor(shape, "float32", layer=self, inputs=xs, name=self.name)
        return super().__call__(*xs, **kw)

    def forward(self, *xs):
        xs = self._inputs(xs)
        self.merge_shape([tuple(x.shape[1:]) for x in xs])  # same checks as when building
        if len({x.shape[0] for x in xs}) != 1:
            raise ValueError(f"{type(self).__name__} ({self.name}): inputs have different batch sizes "
                             f"{[x.shape[0] for x in xs]}")
        return self.merge(xs)


class Add(_Merge):
    """Elementwise sum of inputs of one shape: `Add()([x, Dense(n)(x)])` is a residual connection."""

    def merge_shape(self, shapes):
        if any(s != shapes[0] for s in shapes):
            raise ValueError(f"Add ({self.name}): inputs must have the same shape, got "
                             f"{[(None, *s) for s in shapes]}")
        return shapes[0]

    def merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Concatenate(_Merge):
    """Joins inputs along `axis` (Keras counting: the batch axis is 0, so -1 or 1.. ; the other axes
    must agree): `Concatenate()([a, b])` of (None, 3) and (None, 5) is (None, 8)."""

    def __init__(self, axis: int = -1, name: str | None = None, input_shape=None):
        super().__init__(name, input_shape)
        if not isinstance(axis, int) or axis == 0:
            raise ValueError(f"Concatenate: axis must be a nonzero int (0 is the batch axis), got {axis!r}")
        self.axis = axis

    def _axis(self, ndim: int) -> int:
        """The axis within a per-sample shape of `ndim` axes."""
        a = self.axis - 1 if self.axis > 0 else ndim + self.axis
        if not 0 <= a < ndim:
            raise ValueError(f"Concatenate ({self.name}): axis {self.axis} is out of range for inputs of "
                             f"{ndim + 1} axes (batch included)")
        return a

    def merge_shape(self, shapes):
        ranks = {len(s) for s in shapes}
        if len(ranks) != 1:
            raise ValueError(f"Concatenate ({self.name}): inputs must have the same rank, got "
                             f"{[(None, *s) for s in shapes]}")
        a = self._axis(ranks.pop())
        rest = {s[:a] + s[a + 1:] for s in shapes}
        if len(rest) != 1:
            raise ValueError(f"Concatenate ({self.name}): inputs must agree on every axis but axis {self.axis}, got "
                             f"{[(None, *s) for s in shapes]}")
        return shapes[0][:a] + (sum(s[a] for s in shapes),) + shapes[0][a + 1:]

    def merge(self, xs):
        return fastnn.cat(xs, dim=1 + self._axis(len(xs[0].shape) - 1))

    def get_config(self):
        return {"axis": self.axis, "name": self.name}
