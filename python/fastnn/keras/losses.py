"""Keras loss names over fastnn.nn.functional losses.

Keras conventions: by default a model ends in sigmoid/softmax and the losses take probabilities
(`from_logits=False`). When the probabilities come from a fastnn.keras layer's sigmoid/softmax
activation, the loss is computed from the logits that layer kept (stable, and the fused
cross-entropy kernel is used); otherwise from the probabilities (logs kept finite). Models that return logits
(the fastnn.models zoo, PyTorch style) pass `from_logits=True`.

Targets: binary (N,) or (N, 1) of 0/1; categorical one-hot (N, C); sparse class ids (N,) — or
(N, L) ids against (N, L, C) outputs for sequence models (the class axis is the last).
"""
from __future__ import annotations

import functools
from typing import Callable

import numpy as np

from . import metrics as _metrics
from ._backend import F, is_tensor, to_array, to_tensor
from .layers import logits_of

__all__ = ["Loss", "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
           "MeanSquaredError", "LossFunctionWrapper", "get"]

_EPS = 1e-7  # keeps log(p) finite, as Keras' clamp does


def _safe_log(p):
    """log(p) kept finite at p = 0: log(eps + (1 - eps) p)."""
    return (p * (1.0 - _EPS) + _EPS).log()


class Loss:
    """Callable loss(y_true, y_pred) -> scalar Tensor. `accuracy_kind` picks the 'accuracy' metric."""

    name = "loss"
    accuracy_kind: Callable | None = None

    def __call__(self, y_true, y_pred):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}


def _targets(loss: str, y_true, kind: str = "float") -> np.ndarray:
    """y_true as a host array, checked to be numeric: a clear error instead of a cast of strings/objects."""
    y = np.asarray(to_array(y_true))
    if y.dtype.kind not in "biuf":
        raise TypeError(f"{loss}: y_true must be numeric ({'class ids' if kind == 'ids' else 'numbers'}), "
                        f"got dtype {y.dtype}")
    return y


def _same_size(loss: str, y: np.ndarray, y_pred) -> np.ndarray:
    """y_true reshaped to the output's shape; it may differ only in unit axes ((N,) vs (N, 1))."""
    shape = tuple(y_pred.shape)
    if y.ndim == 0 or y.size != int(np.prod(shape)) or y.shape[0] != shape[0]:
        raise ValueError(f"{loss}: y_true of shape {y.shape} does not match the model output of shape {shape} "
                         f"(one target per output value)")
    return y.reshape(shape)


def _class_ids(loss: str, y_true, y_pred, ignore_index: int) -> np.ndarray:
    """Sparse targets: integer class ids of shape y_pred.shape[:-1] (or with a trailing unit axis), in range."""
    y = _targets(loss, y_true, "ids")
    shape = tuple(y_pred.shape)
    want = shape[:-1]
    if y.shape != want and y.shape != want + (1,):
        hint = " (one-hot targets? use categorical_crossentropy)" if y.shape == shape else ""
        raise ValueError(f"{loss}: y_true must hold one class id per sample, shape {want} for outputs of shape "
                         f"{shape}, got {y.shape}{hint}")
    if y.dtype.kind in "fb":
        if y.dtype.kind == "f" and not np.all(np.isfinite(y) & (y == np.round(y))):
            raise TypeError(f"{loss}: y_true must be integer class ids, got non-integral values of dtype {y.dtype}")
    ids = y.astype(np.int64).reshape(-1)
    classes = shape[-1]
    bad = (ids != ignore_index) & ((ids < 0) | (ids >= classes))
    if bad.any():
        raise ValueError(f"{loss}: class ids must be in [0, {classes}) for {classes} outputs, got {ids[bad][:5].tolist()}")
    return ids


def _flat_classes(y_pred):
    """(N, ..., C) -> (M, C): fastnn's cross_entropy takes the class axis second, Keras puts it last."""
    if len(y_pred.shape) > 2:
        return y_pred.reshape(-1, y_pred.shape[-1])
    return y_pred


class BinaryCrossentropy(Loss):
    name = "binary_crossentropy"

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = from_logits
        threshold = 0.0 if from_logits else 0.5
        self.accuracy_kind = functools.partial(_metrics.BinaryAccuracy, threshold=threshold)

    def __call__(self, y_true, y_pred):
        y = _same_size(self.name, _targets(self.name, y_true), y_pred).astype(np.float32)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(f"{self.name}: y_true must be in [0, 1] (labels or probabilities), got values in "
                             f"[{y.min():g}, {y.max():g}]")
        target = to_tensor(y, y_pred.device)
        logits = y_pred if self.from_logits else logits_of(y_pred)
        if logits is not None:
            return F.binary_cross_entropy_with_logits(logits, target)
        return F.binary_cross_entropy(y_pred, target)  # its logs are clamped at -100

    def get_config(self):
        return {"from_logits": self.from_logits}


class SparseCategoricalCrossentropy(Loss):
    name = "sparse_categorical_crossentropy"
    accuracy_kind = _metrics.SparseCategoricalAccuracy

    def __init__(self, from_logits: bool = False, ignore_index: int = -100) -> None:
        self.from_logits = from_logits
        self.ignore_index = ignore_index

    def __call__(self, y_true, y_pred):
        ids = _class_ids(self.name, y_true, y_pred, self.ignore_index)
        target = to_tensor(ids, y_pred.device)
        logits = y_pred if self.from_logits else logits_of(y_pred)
        if logits is not None:
            return F.cross_entropy(_flat_classes(logits), target, ignore_index=self.ignore_index)
        logp = _safe_log(_flat_classes(y_pred))
        keep = ids != self.ignore_index
        one_hot = np.zeros(tuple(logp.shape), np.float32)
        one_hot[np.flatnonzero(keep), ids[keep]] = 1.0 / max(1, int(keep.sum()))
        return -(logp * to_tensor(one_hot, y_pred.device)).sum()

    def get_config(self):
        return {"from_logits": self.from_logits, "ignore_index": self.ignore_index}


class CategoricalCrossentropy(Loss):
    name = "categorical_crossentropy"
    accuracy_kind = _metrics.CategoricalAccuracy

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = from_logits

    def __call__(self, y_true, y_pred):
        y = _targets(self.name, y_true).astype(np.float32)
        if y.shape != tuple(y_pred.shape):
            raise ValueError(f"categorical_crossentropy: y_true must be one-hot of the output's shape "
                             f"{tuple(y_pred.shape)}, got {y.shape} (class ids? use sparse_categorical_crossentropy)")
        y = y.reshape(-1, y.shape[-1])
        logits = y_pred if self.from_logits else logits_of(y_pred)
        one_hot = bool(np.all((y == 0) | (y == 1)) and np.all(y.sum(-1) == 1))
        if logits is not None and one_hot:  # the fused kernel takes class ids
            return F.cross_entropy(_flat_classes(logits), to_tensor(y.argmax(-1).astype(np.int64), y_pred.device))
        if logits is not None:
            logp = F.log_softmax(_flat_classes(logits), -1)
        else:
            logp = _safe_log(_flat_classes(y_pred))
        return -(logp * to_tensor(y, y_pred.device)).sum(-1).mean()

    def get_config(self):
        return {"from_logits": self.from_logits}


class MeanSquaredError(Loss):
    name = "mse"
    accuracy_kind = None

    def __call__(self, y_true, y_pred):
        target = to_tensor(_same_size(self.name, _targets(self.name, y_true), y_pred).astype(np.float32), y_pred.device)
        return F.mse_loss(y_pred, target)


class LossFunctionWrapper(Loss):
    """A user function fn(y_true, y_pred) -> scalar Tensor; y_true arrives as a Tensor."""

    def __init__(self, fn: Callable, name: str | None = None) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "loss")

    def __call__(self, y_true, y_pred):
        return self.fn(y_true if is_tensor(y_true) else to_tensor(y_true, y_pred.device), y_pred)


_BY_NAME = {
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
}


def get(identifier) -> Loss:
    """A Loss from a Keras name, a Loss instance or a function fn(y_true, y_pred) -> Tensor."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        try:
            return _BY_NAME[identifier]()
        except KeyError:
            raise ValueError(f"compile: unknown loss {identifier!r}; known: {', '.join(_BY_NAME)}, a Loss instance "
                             f"or a function fn(y_true, y_pred)") from None
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise TypeError(f"compile: loss must be a name, a Loss or a function, got {type(identifier).__name__}")


def to_config(loss: Loss) -> dict | None:
    """JSON for a built-in loss (None for user functions)."""
    for name, cls in _BY_NAME.items():
        if type(loss) is cls:
            return {"class_name": cls.__name__, "config": loss.get_config()}
    return None


def from_config(cfg: dict) -> Loss:
    classes = {c.__name__: c for c in _BY_NAME.values()}
    return classes[cfg["class_name"]](**cfg.get("config", {}))
