"""matmul: parity with the float64 oracle on every ISA path, NumPy semantics, layouts, edges."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import reference as ref
from fastnn.testing import assert_close, empty_poisoned, layouts, rand, randint

ODD = [1, 7, 13, 31, 33, 127, 129]


@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (7, 13, 5), (33, 31, 129), (127, 129, 1), (129, 7, 300), (1, 1000, 33),
                                   (1000, 1, 17), (200, 300, 513)])
def test_matmul_odd_sizes(isa, gen, m, n, k):
    a, b = rand((m, k), gen=gen), rand((k, n), gen=gen)
    assert_close(fastnn.matmul(a, b), ref.gemm.matmul(a, b), k=k)


@pytest.mark.parametrize("size", ODD)
def test_matmul_bit_exact_small_integers(isa, gen, size):
    a, b = randint((size, 2 * size + 1), gen=gen), randint((2 * size + 1, size + 2), gen=gen)
    np.testing.assert_array_equal(fastnn.matmul(a, b), (a.astype(np.int64) @ b.astype(np.int64)).astype(np.float32))


@pytest.mark.parametrize("la", ["contiguous", "fortran", "strided", "negative"])
@pytest.mark.parametrize("lb", ["contiguous", "fortran", "strided", "negative"])
def test_matmul_layouts(isa, gen, la, lb):
    a0, b0 = rand((37, 45), gen=gen), rand((45, 29), gen=gen)
    a = dict(layouts(a0))[la]
    b = dict(layouts(b0))[lb]
    assert_close(fastnn.matmul(a, b), ref.gemm.matmul(a0, b0), k=45)


@pytest.mark.parametrize("shape_a,shape_b", [
    ((5,), (5,)), ((5,), (5, 3)), ((4, 5), (5,)), ((2, 3, 4, 5), (5,)), ((5,), (2, 5, 3)),
    ((2, 3, 4, 5), (2, 3, 5, 6)), ((3, 1, 4, 5), (2, 5, 6)), ((1, 4, 5), (7, 5, 6)), ((4, 5), (3, 5, 6)),
])
def test_matmul_numpy_semantics(isa, gen, shape_a, shape_b):
    a, b = rand(shape_a, gen=gen), rand(shape_b, gen=gen)
    want = np.matmul(a, b)
    got = fastnn.matmul(a, b)
    assert np.shape(got) == np.shape(want)
    assert_close(got, ref.gemm.matmul(a, b), k=shape_a[-1])


def test_matmul_broadcast_views_have_zero_strides(isa, gen):
    a = np.broadcast_to(rand((1, 6, 5), gen=gen), (4, 6, 5))
    b = rand((4, 5, 3), gen=gen)
    assert_close(fastnn.matmul(a, b), ref.gemm.matmul(a, b), k=5)


def test_matmul_out_poisoned_and_in_place(isa, gen):
    a, b = rand((65, 70), gen=gen), rand((70, 33), gen=gen)
    out = empty_poisoned((65, 33))
    res = fastnn.matmul(a, b, out=out)
    assert res is out
    assert_close(out, ref.gemm.matmul(a, b), k=70)
    # a non-contiguous out is written through its strides
    big = empty_poisoned((65, 66))
    fastnn.matmul(a, b, out=big[:, ::2])
    assert_close(big[:, ::2], ref.gemm.matmul(a, b), k=70)
    assert np.isnan(big[:, 1::2]).all()


def test_matmul_out_overlapping_input(isa, gen):
    a = rand((16, 16), gen=gen)
    want = ref.gemm.matmul(a, a)
    fastnn.matmul(a, a, out=a)
    assert_close(a, want, k=16)


@pytest.mark.parametrize("shape_a,shape_b,shape_out", [((0, 5), (5, 3), (0, 3)), ((4, 0), (0, 3), (4, 3)),
                                                       ((4, 5), (5, 0), (4, 0)), ((0, 4, 5), (5, 2), (0, 4, 2))])
def test_matmul_empty(isa, gen, shape_a, shape_b, shape_out):
    a, b = rand(shape_a, gen=gen), rand(shape_b, gen=gen)
    got = fastnn.matmul(a, b)
    assert got.shape == shape_out
    np.testing.assert_array_equal(got, np.zeros(shape_out, np.float32))


def test_matmul_nan_inf_propagate_like_numpy(isa, gen):
    a, b = rand((9, 8), gen=gen), rand((8, 10), gen=gen)
    a[2, 3] = np.nan
    a[5, 1] = np.inf
    b[4, 7] = -np.inf
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    got = fastnn.matmul(a, b)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = np.isfinite(want)
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    assert_close(got[finite], want[finite], k=8)


def test_matmul_large_threaded(isa, gen):
    a, b = rand((517, 611), gen=gen), rand((611, 263), gen=gen)
    assert_close(fastnn.matmul(a, b), ref.gemm.matmul(a, b), k=611)


def test_matmul_accepts_dlpack_objects(gen):
    torch = pytest.importorskip("torch")
    a, b = rand((6, 7), gen=gen), rand((7, 5), gen=gen)
    got = fastnn.matmul(torch.from_numpy(a), torch.from_numpy(b))
    assert isinstance(got, np.ndarray)
    assert_close(got, ref.gemm.matmul(a, b), k=7)


@pytest.mark.parametrize("m,n,k", [(1, 1000, 300), (5, 257, 1030), (24, 1000, 33), (64, 129, 700), (65, 40, 5),
                                   (300, 16, 2000), (1000, 1, 17)])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_matmul_skinny_transposed(isa, gen, m, n, k, ta, tb):
    """Inference (small M: column schedule), K-heavy and N-small shapes (A read in place)."""
    a = rand((k, m), gen=gen).T if ta else rand((m, k), gen=gen)
    b = rand((n, k), gen=gen).T if tb else rand((k, n), gen=gen)
    assert_close(fastnn.matmul(a, b), ref.gemm.matmul(a, b), k=k)


def test_matmul_batched_small(isa, gen):
    a, b = rand((32, 128, 64), gen=gen), rand((32, 64, 128), gen=gen)
    assert_close(fastnn.matmul(a, b), ref.gemm.matmul(a, b), k=64)
    a, b = randint((7, 13, 33), gen=gen), randint((33, 9), gen=gen)
    want = (a.astype(np.int64) @ b.astype(np.int64)).astype(np.float32)
    np.testing.assert_array_equal(fastnn.matmul(a, b), want)
