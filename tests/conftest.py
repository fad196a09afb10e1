"""Shared fixtures: every CPU test that takes `isa` runs once per ISA path this machine has;
CUDA tests skip with the reason CUDA is unavailable."""
from __future__ import annotations

import os

import numpy as np
import pytest

import fastnn


def _test_isas() -> list[str]:
    """available_isas(), or the ones FASTNN_TEST_ISAS names (comma-separated, e.g. 'avx512' for the
    SIMDe-emulated AVX-512 run of tools/avx512_emulation/run_suite.sh); naming one this build lacks
    is an error, never a silently smaller run."""
    isas = fastnn.available_isas()
    wanted = [s.strip() for s in os.environ.get("FASTNN_TEST_ISAS", "").split(",") if s.strip()]
    missing = [s for s in wanted if s not in isas]
    if missing:
        raise pytest.UsageError(f"FASTNN_TEST_ISAS names {missing}, not available in this build/CPU (available: {isas})")
    return wanted or isas


@pytest.fixture(params=_test_isas())
def isa(request):
    """Runs the test on one CPU kernel path (avx512 / avx2 / generic), restoring the previous one."""
    with fastnn.use_isa(request.param):
        yield request.param


@pytest.fixture
def gen():
    return np.random.default_rng(1234)


def _cuda_skip_reason():
    return None if fastnn.cuda_available() else f"CUDA unavailable: {fastnn.cuda_unavailable_reason()}"


requires_cuda = pytest.mark.skipif(not fastnn.cuda_available(), reason=_cuda_skip_reason() or "")


@pytest.fixture
def cupy():
    """The cupy module, or a skip saying why CUDA cannot be tested here."""
    reason = _cuda_skip_reason()
    if reason:
        pytest.skip(reason)
    import cupy as cp

    return cp
