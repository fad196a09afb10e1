"""Shared fixtures: every CPU test that takes `isa` runs once per ISA path this machine has;
CUDA tests skip with the reason CUDA is unavailable."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn


@pytest.fixture(params=fastnn.available_isas())
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
