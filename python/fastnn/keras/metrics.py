"""Streaming metrics for fit/evaluate. They read model outputs as arrays (no gradients) and
accumulate sums over batches, so an epoch's value is exact, not a mean of batch means.

Names accepted by `compile(metrics=[...])`: 'accuracy' / 'acc' (resolved from the loss like Keras:
binary, categorical or sparse categorical), 'binary_accuracy', 'categorical_accuracy',
'sparse_categorical_accuracy', 'mse' / 'mean_squared_error', 'mae' / 'mean_absolute_error', a
Metric instance, or a function fn(y_true, y_pred) -> per-sample values.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["Metric", "MeanMetricWrapper", "Mean", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError", "get"]


def _host(a) -> np.ndarray:
    if hasattr(a, "numpy") and not isinstance(a, np.ndarray):  # a fastnn / torch Tensor
        a = a.numpy()
    if hasattr(a, "get") and not isinstance(a, np.ndarray):  # CuPy
        a = a.get()
    return np.asarray(a)


class Metric:
    """update_state(y_true, y_pred) per batch, result() for the value so far, reset_state()."""

    name = "metric"

    def update_state(self, y_true, y_pred) -> None:
        raise NotImplementedError

    def result(self) -> float:
        raise NotImplementedError

    def reset_state(self) -> None:
        raise NotImplementedError


class Mean(Metric):
    """Weighted mean of the values given to update_state(values, weight)."""

    def __init__(self, name: str = "mean") -> None:
        self.name = name
        self.reset_state()

    def reset_state(self) -> None:
        self.total, self.count = 0.0, 0.0

    def update_state(self, values, weight: float | None = None) -> None:  # type: ignore[override]
        v = _host(values).astype(np.float64)
        if weight is None:
            self.total += float(v.sum())
            self.count += v.size
        else:
            self.total += float(v.mean()) * weight
            self.count += weight

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0


class MeanMetricWrapper(Mean):
    """Mean over samples of fn(y_true, y_pred) -> per-sample values."""

    def __init__(self, fn: Callable, name: str) -> None:
        super().__init__(name)
        self.fn = fn

    def update_state(self, y_true, y_pred) -> None:  # type: ignore[override]
        super().update_state(self.fn(_host(y_true), _host(y_pred)))


def binary_accuracy(y_true, y_pred, threshold: float = 0.5) -> np.ndarray:
    y_pred = y_pred.reshape(y_true.shape) if y_pred.size == y_true.size else y_pred
    return ((y_pred > threshold) == (y_true > 0.5)).astype(np.float64)


def categorical_accuracy(y_true, y_pred) -> np.ndarray:
    return (np.argmax(y_pred, axis=-1) == np.argmax(y_true, axis=-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred) -> np.ndarray:
    y_true = y_true.reshape(y_pred.shape[:-1]) if y_true.size == y_pred[..., 0].size else y_true
    return (np.argmax(y_pred, axis=-1) == y_true.astype(np.int64)).astype(np.float64)


def mean_squared_error(y_true, y_pred) -> np.ndarray:
    y_true = y_true.reshape(y_pred.shape) if y_true.size == y_pred.size else y_true
    return (y_pred.astype(np.float64) - y_true) ** 2


def mean_absolute_error(y_true, y_pred) -> np.ndarray:
    y_true = y_true.reshape(y_pred.shape) if y_true.size == y_pred.size else y_true
    return np.abs(y_pred.astype(np.float64) - y_true)


class BinaryAccuracy(MeanMetricWrapper):
    """Fraction of outputs on the right side of `threshold` (0.5: probabilities; use 0.0 for logits)."""

    def __init__(self, name: str = "binary_accuracy", threshold: float = 0.5) -> None:
        super().__init__(lambda t, p: binary_accuracy(t, p, threshold), name)


class CategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name: str = "categorical_accuracy") -> None:
        super().__init__(categorical_accuracy, name)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name: str = "sparse_categorical_accuracy") -> None:
        super().__init__(sparse_categorical_accuracy, name)


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name: str = "mse") -> None:
        super().__init__(mean_squared_error, name)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name: str = "mae") -> None:
        super().__init__(mean_absolute_error, name)


_BY_NAME = {
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
}


def get(identifier, loss=None) -> Metric:
    """A Metric from a name, instance or function. 'accuracy' picks its kind from `loss` (a Loss)."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier in ("accuracy", "acc"):
            kind = getattr(loss, "accuracy_kind", None)
            if kind is None:
                raise ValueError(f"metrics: 'accuracy' needs a classification loss to choose binary, categorical or "
                                 f"sparse categorical accuracy (got loss {loss!r}); name one of those instead")
            metric = kind()
            metric.name = identifier
            return metric
        if identifier in _BY_NAME:
            return _BY_NAME[identifier]()
        raise ValueError(f"metrics: unknown metric {identifier!r}; known: accuracy, {', '.join(_BY_NAME)}, "
                         f"a Metric instance or a function fn(y_true, y_pred)")
    if callable(identifier):
        return MeanMetricWrapper(identifier, getattr(identifier, "__name__", "metric"))
    raise TypeError(f"metrics: each metric must be a name, a Metric or a function, got {type(identifier).__name__}")
