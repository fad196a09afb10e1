"""Where arrays live and which kernels run: device detection, CUDA availability, threads, ISA.

CPU arrays are NumPy arrays; CUDA arrays are CuPy arrays or anything exposing
``__cuda_array_interface__``; DLPack objects (torch tensors, JAX arrays) are accepted and
viewed without a copy. Outputs live where the inputs live.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Any, Iterator

import numpy as np

from ._ext import CUDA_BUILD_ERROR, _C, _C_cuda

_DLPACK_CPU, _DLPACK_CUDA = 1, 2


# ---- CUDA availability ----------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _cuda_status() -> tuple[bool, str]:
    if _C_cuda is None:
        return False, CUDA_BUILD_ERROR or "CUDA extension missing"
    count, reason = _C_cuda.device_count()
    if count < 0:
        return False, f"CUDA runtime cannot be used: {reason}"
    if count == 0:
        return False, "no CUDA device found"
    try:
        import cupy  # noqa: F401
    except ImportError:
        return False, "CuPy is not installed (pip install cupy-cuda13x); fastnn allocates CUDA outputs with it"
    return True, f"{count} CUDA device(s)"


def cuda_available() -> bool:
    """True when the CUDA extension is built, a GPU and driver are usable, and CuPy imports."""
    return _cuda_status()[0]


def cuda_unavailable_reason() -> str | None:
    """Why cuda_available() is False (None when it is True)."""
    ok, why = _cuda_status()
    return None if ok else why


def _require_cuda(fn: str) -> None:
    ok, why = _cuda_status()
    if not ok:
        raise RuntimeError(f"{fn}: got a CUDA array but CUDA is unavailable: {why}")


# ---- arrays and devices ---------------------------------------------------------------------

def device_of(x: Any) -> str:
    """'cpu' or 'cuda' for a supported array, else raises TypeError."""
    if isinstance(x, np.ndarray):
        return "cpu"
    if hasattr(x, "__cuda_array_interface__"):
        return "cuda"
    if hasattr(x, "__dlpack_device__"):
        kind = x.__dlpack_device__()[0]
        if kind == _DLPACK_CPU:
            return "cpu"
        if kind == _DLPACK_CUDA:
            return "cuda"
        raise TypeError(f"unsupported DLPack device type {kind} (only CPU and CUDA)")
    raise TypeError(f"expected a NumPy or CuPy array (or a DLPack object), got {type(x).__name__}")


def as_array(x: Any, fn: str, arg: str) -> Any:
    """Returns x as a numpy.ndarray (CPU) or cupy.ndarray (CUDA), without copying."""
    if isinstance(x, np.ndarray):
        return x
    try:
        dev = device_of(x)
    except TypeError as exc:
        raise TypeError(f"{fn}: {arg}: {exc}") from None
    if dev == "cpu":
        return np.from_dlpack(x)
    _require_cuda(fn)
    import cupy

    if isinstance(x, cupy.ndarray):
        return x
    if hasattr(x, "__cuda_array_interface__"):
        return cupy.asarray(x)
    return cupy.from_dlpack(x)


def common_device(fn: str, **arrays: Any) -> str:
    """The one device all non-None arguments live on; ValueError naming them if they differ."""
    seen: dict[str, str] = {}
    for name, x in arrays.items():
        if x is not None:
            try:
                seen[name] = device_of(x)
            except TypeError as exc:
                raise TypeError(f"{fn}: {name}: {exc}") from None
    devices = set(seen.values())
    if len(devices) > 1:
        detail = ", ".join(f"{k} on {v}" for k, v in seen.items())
        raise ValueError(f"{fn}: all arrays must be on one device, got {detail}")
    dev = devices.pop() if devices else "cpu"
    if dev == "cuda":
        _require_cuda(fn)
    return dev


def xp_for(device: str):
    """The array module for a device: numpy or cupy."""
    if device == "cpu":
        return np
    import cupy

    return cupy


def cuda_descriptor(x: Any) -> tuple[int, tuple[int, ...], tuple[int, ...], str]:
    """(pointer, shape, strides in elements, dtype name) for the CUDA bindings."""
    iface = x.__cuda_array_interface__
    dtype = np.dtype(iface["typestr"])
    shape = tuple(iface["shape"])
    if iface.get("strides") is None:
        strides, step = [], 1
        for n in reversed(shape):
            strides.append(step)
            step *= max(n, 1)
        strides = tuple(reversed(strides))
    else:
        byte_strides = iface["strides"]
        if any(s % dtype.itemsize for s in byte_strides):
            raise ValueError("CUDA array strides are not multiples of the element size")
        strides = tuple(s // dtype.itemsize for s in byte_strides)
    return int(iface["data"][0]), shape, strides, dtype.name


def current_stream_ptr() -> int:
    import cupy

    return int(cupy.cuda.get_current_stream().ptr)


# ---- CPU threads and ISA --------------------------------------------------------------------

def set_num_threads(n: int) -> None:
    """Threads fastnn's CPU kernels may use (default: the cores available, or OMP_NUM_THREADS)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"set_num_threads: n must be an int, got {type(n).__name__}")
    _C.set_num_threads(int(n))


def get_num_threads() -> int:
    return _C.get_num_threads()


def available_isas() -> list[str]:
    """CPU instruction sets this machine and build support, best first (e.g. ['avx2', 'generic'])."""
    return list(_C.available_isas())


def get_isa() -> str:
    return _C.get_isa()


def set_isa(name: str) -> None:
    """Force a CPU kernel path: 'avx512', 'avx2' or 'generic' (ValueError if unsupported here)."""
    if not isinstance(name, str):
        raise TypeError(f"set_isa: isa must be a str, got {type(name).__name__}")
    _C.set_isa(name)


@contextlib.contextmanager
def use_isa(name: str) -> Iterator[None]:
    """Context manager running the enclosed kernels on the given ISA path."""
    previous = get_isa()
    set_isa(name)
    try:
        yield
    finally:
        set_isa(previous)
