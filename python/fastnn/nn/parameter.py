"""Parameter: a leaf Tensor that a Module registers as trainable."""
from __future__ import annotations

from typing import Any

from ..tensor import Tensor


class Parameter(Tensor):
    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True):
        if isinstance(data, Tensor):
            data = data.data
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


def empty_parameter(shape: tuple, dtype: Any = None, device: str | None = None) -> Parameter:
    """An uninitialised Parameter (float32 by default) on device (default CPU)."""
    import numpy as np

    from .. import backend

    xp = backend.xp_for(str(device or "cpu").split(":")[0])
    return Parameter(xp.empty(tuple(int(s) for s in shape), dtype=np.dtype(dtype or np.float32)))
