"""CUDA matmul parity (skips with the reason when no GPU is usable)."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import reference as ref
from fastnn.testing import assert_close, rand


@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (7, 13, 5), (65, 63, 129), (300, 257, 1000)])
def test_cuda_matmul_odd_sizes(cupy, gen, m, n, k):
    a, b = rand((m, k), gen=gen), rand((k, n), gen=gen)
    got = fastnn.matmul(cupy.asarray(a), cupy.asarray(b))
    assert isinstance(got, cupy.ndarray)
    assert_close(got.get(), ref.gemm.matmul(a, b), k=k)


def test_cuda_matmul_transposed_batched_broadcast(cupy, gen):
    a, b = rand((3, 1, 40, 33), gen=gen), rand((5, 50, 33), gen=gen)
    bt = np.swapaxes(b, -1, -2)
    got = fastnn.matmul(cupy.asarray(a), cupy.swapaxes(cupy.asarray(b), -1, -2))
    assert_close(got.get(), ref.gemm.matmul(a, bt), k=33)


def test_cuda_matmul_out_and_mixed_devices(cupy, gen):
    a, b = rand((20, 30), gen=gen), rand((30, 10), gen=gen)
    out = cupy.full((20, 10), cupy.nan, dtype=cupy.float32)
    fastnn.matmul(cupy.asarray(a), cupy.asarray(b), out=out)
    assert_close(out.get(), ref.gemm.matmul(a, b), k=30)
    with pytest.raises(ValueError, match="one device"):
        fastnn.matmul(cupy.asarray(a), b)
