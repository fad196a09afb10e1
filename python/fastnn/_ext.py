"""Loads the compiled extensions: ``_C`` (CPU, always built) and ``_C_cuda`` (optional)."""
from __future__ import annotations

from . import _C  # noqa: F401  (re-exported for the rest of the package)

# A bad FASTNN_ISA must fail at import with a clear message, not at the first kernel call.
_C.init_isa_from_env()

try:
    from . import _C_cuda  # type: ignore[attr-defined]

    CUDA_BUILD_ERROR: str | None = None
except ImportError as exc:  # built without CUDA, or the module cannot load
    _C_cuda = None
    CUDA_BUILD_ERROR = (
        "fastnn was built without CUDA (FASTNN_CUDA=OFF or no nvcc at build time)"
        if "_C_cuda" in str(exc)
        else f"the CUDA extension failed to load: {exc}"
    )
