"""Optimizers for compile(): a name ('adam', 'adamw', 'sgd', 'rmsprop'), a spec made here without
parameters (`Adam(learning_rate=3e-3)`, built when the model's parameters exist), or a
fastnn.optim instance already holding the parameters (PyTorch style)."""
from __future__ import annotations

from ._backend import optim

__all__ = ["OptimizerSpec", "Adam", "AdamW", "SGD", "RMSprop", "get"]

_DEFAULT_LR = {"Adam": 1e-3, "AdamW": 1e-3, "SGD": 1e-2, "RMSprop": 1e-3}


class OptimizerSpec:
    """fastnn.optim.<name>(params, lr=learning_rate, **kwargs), made by build(params)."""

    def __init__(self, name: str, learning_rate: float | None = None, **kwargs) -> None:
        if name not in _DEFAULT_LR:
            raise ValueError(f"optimizer: unknown {name!r}; known: {', '.join(_DEFAULT_LR)}")
        self.name = name
        self.learning_rate = _DEFAULT_LR[name] if learning_rate is None else float(learning_rate)
        if not self.learning_rate > 0:
            raise ValueError(f"optimizer {name}: learning_rate must be > 0, got {learning_rate}")
        self.kwargs = kwargs

    def build(self, params):
        cls = getattr(optim, self.name, None)
        if cls is None:
            raise ValueError(f"optimizer: fastnn.optim has no {self.name}")
        params = list(params)
        if not params:
            raise ValueError("optimizer: the model has no parameters (is it built? call it on data or give an Input)")
        return cls(params, lr=self.learning_rate, **self.kwargs)

    def get_config(self) -> dict:
        return {"name": self.name, "learning_rate": self.learning_rate, **self.kwargs}

    def __repr__(self) -> str:
        return f"{self.name}(learning_rate={self.learning_rate}{''.join(f', {k}={v!r}' for k, v in self.kwargs.items())})"


def Adam(learning_rate: float = 1e-3, **kwargs) -> OptimizerSpec:
    return OptimizerSpec("Adam", learning_rate, **kwargs)


def AdamW(learning_rate: float = 1e-3, **kwargs) -> OptimizerSpec:
    return OptimizerSpec("AdamW", learning_rate, **kwargs)


def SGD(learning_rate: float = 1e-2, **kwargs) -> OptimizerSpec:
    return OptimizerSpec("SGD", learning_rate, **kwargs)


def RMSprop(learning_rate: float = 1e-3, **kwargs) -> OptimizerSpec:
    return OptimizerSpec("RMSprop", learning_rate, **kwargs)


_BY_NAME = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop"}


def get(identifier):
    """An OptimizerSpec, or a ready optimizer instance (anything with step() and zero_grad()) as is."""
    if isinstance(identifier, OptimizerSpec):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            raise ValueError(f"compile: unknown optimizer {identifier!r}; known: {', '.join(_BY_NAME)}, "
                             f"fastnn.keras.optimizers.Adam(learning_rate=...), or a fastnn.optim instance")
        return OptimizerSpec(_BY_NAME[key])
    if hasattr(identifier, "step") and hasattr(identifier, "zero_grad"):
        return identifier
    raise TypeError(f"compile: optimizer must be a name, a fastnn.keras.optimizers spec or a fastnn.optim "
                    f"instance, got {type(identifier).__name__}")
