"""Stand-in CUDA arrays for host-side tests of the CUDA op layer on machines without a GPU.

``FakeCudaArray`` wraps a NumPy array and exposes ``__cuda_array_interface__`` (host pointers:
the kernels must never run on them), so ``fastnn`` sees a CUDA array; ``FakeXp`` is the array
module the CUDA layer allocates with (NumPy underneath). The ``fake_cuda`` fixture patches
``fastnn.backend`` (CUDA reported available), ``fastnn.ops._cuda.xp`` and ``stream``. A call with
valid arguments then runs every Python and C++ check and stops at the first CUDA call of the
launcher with a RuntimeError (no driver); with ``recorder=True`` the kernels are replaced by a
recorder that keeps the calls instead. Skips where a GPU is usable (the real tests run there and
host pointers must never reach a kernel) or where fastnn was built without CUDA.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import fastnn


def _unwrap(v: Any) -> Any:
    if isinstance(v, FakeCudaArray):
        return v.a
    if isinstance(v, (list, tuple)):
        return type(v)(_unwrap(e) for e in v)
    return v


def _wrap(v: Any) -> Any:
    return FakeCudaArray(v) if isinstance(v, np.ndarray) else v


class FakeCudaArray:
    """A NumPy array that presents itself as a CUDA array (``__cuda_array_interface__``)."""

    def __init__(self, a: Any):
        self.a = np.asarray(a)

    @property
    def __cuda_array_interface__(self):
        ai = self.a.__array_interface__
        return {"shape": ai["shape"], "typestr": ai["typestr"], "data": ai["data"], "strides": ai["strides"],
                "version": 3}

    shape = property(lambda self: self.a.shape)
    dtype = property(lambda self: self.a.dtype)
    ndim = property(lambda self: self.a.ndim)
    size = property(lambda self: self.a.size)
    strides = property(lambda self: self.a.strides)
    flags = property(lambda self: self.a.flags)
    T = property(lambda self: FakeCudaArray(self.a.T))

    def __getitem__(self, k):
        return _wrap(self.a[_unwrap(k)])

    def __setitem__(self, k, v):
        self.a[_unwrap(k)] = _unwrap(v)

    def __getattr__(self, name):  # reshape, view, astype, transpose, swapaxes, ...
        attr = getattr(self.a, name)
        if callable(attr):
            return lambda *args, **kw: _wrap(attr(*_unwrap(args), **{k: _unwrap(v) for k, v in kw.items()}))
        return attr

    def __repr__(self):
        return f"FakeCudaArray({self.a.shape}, {self.a.dtype})"


class _FakeXp:
    """NumPy functions that take and return FakeCudaArrays."""

    ndarray = FakeCudaArray

    def __getattr__(self, name):
        attr = getattr(np, name)
        if callable(attr) and not isinstance(attr, type):
            return lambda *args, **kw: _wrap(attr(*_unwrap(args), **{k: _unwrap(v) for k, v in kw.items()}))
        return attr


FakeXp = _FakeXp()


class Recorder:
    """Stands in for fastnn._C_cuda: records (name, args) of every kernel call."""

    def __init__(self):
        self.calls: list[tuple[str, tuple, dict]] = []

    def __getattr__(self, name):
        def record(*args, **kw):
            self.calls.append((name, args, kw))
        return record

    def last(self, name: str):
        for n, a, k in reversed(self.calls):
            if n == name:
                return a, k
        raise AssertionError(f"no call to {name}; calls: {[c[0] for c in self.calls]}")


def fake(a: Any, dtype: Any = np.float32) -> FakeCudaArray:
    return FakeCudaArray(np.asarray(a, dtype=dtype))


def skip_reason() -> str | None:
    from fastnn._ext import _C_cuda

    if _C_cuda is None:
        return "fastnn was built without CUDA"
    count, _ = _C_cuda.device_count()
    if count > 0:
        return "a GPU is usable here: tests/cuda runs the real kernels (host pointers must not reach them)"
    return None


@pytest.fixture
def fake_cuda(monkeypatch):
    """Patches fastnn so FakeCudaArrays are CUDA arrays; returns a function enabling the recorder."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    from fastnn import backend
    from fastnn.ops import _cuda

    monkeypatch.setattr(backend, "_cuda_status", lambda: (True, "fake CUDA arrays (host-side test)"))
    monkeypatch.setattr(_cuda, "xp", lambda: FakeXp)
    monkeypatch.setattr(_cuda, "stream", lambda: 0)

    def use_recorder() -> Recorder:
        rec = Recorder()
        monkeypatch.setattr(_cuda, "kernels", lambda: rec)
        return rec

    return use_recorder


def launch_error():
    """What a valid call raises on a machine without a GPU: the launcher's first CUDA call fails."""
    return pytest.raises(RuntimeError, match="CUDA")


__all__ = ["FakeCudaArray", "FakeXp", "Recorder", "fake", "fake_cuda", "launch_error", "skip_reason", "fastnn"]
