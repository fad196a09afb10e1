"""Whether operations record a graph: ``no_grad`` / ``enable_grad`` / ``set_grad_enabled``.

The flag is per thread (as in PyTorch), so a data-loading thread under no_grad never turns off
recording for the training thread.
"""
from __future__ import annotations

import functools
import threading

_state = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_state, "enabled", True)


def _set(mode: bool) -> None:
    _state.enabled = bool(mode)


class _GradModeContext:
    """Context manager and decorator that sets grad mode and restores the previous one."""

    _mode = True

    def __enter__(self):
        self._previous = is_grad_enabled()
        _set(self._mode)
        return self

    def __exit__(self, *exc):
        _set(self._previous)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):
    """Operations inside record no graph: outputs have requires_grad=False."""

    _mode = False


class enable_grad(_GradModeContext):
    """Turns recording back on inside a no_grad block."""

    _mode = True


class set_grad_enabled(_GradModeContext):
    """``with set_grad_enabled(False): ...`` or ``set_grad_enabled(True)`` as a plain call."""

    def __init__(self, mode: bool):
        self._mode = bool(mode)
        self._previous = is_grad_enabled()
        _set(self._mode)

    def __enter__(self):
        return self

    def __call__(self, fn):
        mode = self._mode
        _set(self._previous)  # used as a decorator: the constructor call must not stick

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper
