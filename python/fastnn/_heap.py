"""Keep freed memory in the process heap while training (glibc's malloc; elsewhere a no-op).

A training step frees and re-allocates the same multi-MiB activation arrays every step. glibc
gives the top of its heap back to the OS once more than M_TRIM_THRESHOLD bytes of it are free (by
default twice the largest block freed lately), so the next step faults every page back in and the
kernel zeroes it: on the bench/train.py CNN (batch 64, 28x28) that was ~4,700 page faults and
~19 ms of system time per 60 ms step (37-42 ms per step without them; 2-core Zen 3). Setting both
thresholds (setting either one turns glibc's dynamic adjustment off) keeps blocks up to 32 MiB in
the heap and the heap's freed top for reuse: the process keeps its peak heap size instead of
returning it between steps, as tcmalloc or jemalloc would. FASTNN_RETAIN_HEAP=0 leaves malloc alone.
"""
from __future__ import annotations

import ctypes
import os
import threading

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # <malloc.h>
MMAP_THRESHOLD = 32 << 20  # glibc's largest accepted value (HEAP_MAX_SIZE / 2 on 64-bit)
TRIM_THRESHOLD = 1 << 30
_lock = threading.Lock()
_state: bool | None = None  # None: not tried yet


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (ValueError, OSError, AttributeError):
        return False


def retain_freed_memory() -> bool:
    """Sets glibc's mmap and trim thresholds once per process (fit() calls this); returns whether they are
    in effect (False off glibc, with FASTNN_RETAIN_HEAP=0, or if mallopt refused)."""
    global _state
    with _lock:
        if _state is None:
            _state = False
            if os.environ.get("FASTNN_RETAIN_HEAP", "1") != "0" and _glibc():
                try:
                    mallopt = ctypes.CDLL(None).mallopt
                    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
                    _state = (mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                              and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1)
                except (OSError, AttributeError):
                    _state = False
        return _state
