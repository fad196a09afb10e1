"""Embedding lookup and scatter-add backward against the float64 oracle on every ISA path:
duplicates, padding_idx, int32/int64 and strided indices, strided weights, out-of-range errors,
determinism across thread counts, float64 finite differences."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn.reference import embedding as remb
from fastnn.testing import assert_close, rand


@pytest.mark.parametrize("V,D", [(1, 1), (7, 13), (50, 129), (1000, 64), (33, 3)])
@pytest.mark.parametrize("ishape", [(1,), (13,), (5, 7), (2, 3, 11)])
@pytest.mark.parametrize("dtype", [np.int64, np.int32])
def test_forward_backward(isa, gen, V, D, ishape, dtype):
    w = rand((V, D), gen=gen)
    idx = gen.integers(0, V, ishape).astype(dtype)
    out = fastnn.embedding(idx, w)
    np.testing.assert_array_equal(out, w[idx])  # a copy: exact
    g = rand(ishape + (D,), gen=gen)
    n = max(1, int(np.max(np.bincount(idx.ravel(), minlength=V))))
    assert_close(fastnn.embedding_backward(g, idx, V), remb.embedding_backward(g, idx, V), k=n)


@pytest.mark.parametrize("padding_idx", [0, 4, -1, -7])
def test_padding_idx_and_duplicates(isa, gen, padding_idx):
    V, D = 7, 70
    idx = np.array([[4, 4, 4, 1], [0, 6, 4, 1]])
    g = rand((2, 4, D), gen=gen)
    got = fastnn.embedding_backward(g, idx, V, padding_idx=padding_idx)
    want = remb.embedding_backward(g, idx, V, padding_idx)
    assert_close(got, want, k=4)
    p = padding_idx % V
    np.testing.assert_array_equal(got[p], 0.0)
    w = rand((V, D), gen=gen)
    np.testing.assert_array_equal(fastnn.embedding(idx, w, padding_idx=padding_idx), w[idx])  # forward unaffected


def test_many_duplicates_threaded_and_deterministic(gen):
    V, D = 10, 256
    idx = gen.integers(0, V, (20000,))
    g = rand((20000, D), gen=gen)
    want = remb.embedding_backward(g, idx, V)
    n0 = fastnn.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            fastnn.set_num_threads(threads)
            results.append(fastnn.embedding_backward(g, idx, V))
            assert_close(results[-1], want, k=int(np.bincount(idx).max()))
        # narrow rows take the row-ownership path
        gn = np.ascontiguousarray(g[:, :8])
        narrow = []
        for threads in (1, 3):
            fastnn.set_num_threads(threads)
            narrow.append(fastnn.embedding_backward(gn, idx, V))
    finally:
        fastnn.set_num_threads(n0)
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])
    np.testing.assert_array_equal(narrow[0], narrow[1])


def test_strided_indices_weight_and_grad(isa, gen):
    V, D = 40, 33
    w0 = rand((V, D), gen=gen)
    wT = np.asfortranarray(w0)  # column stride != 1
    idx = gen.integers(0, V, (9, 14))[:, ::2]
    np.testing.assert_array_equal(fastnn.embedding(idx, wT), w0[idx])
    np.testing.assert_array_equal(fastnn.embedding(idx.T, w0[::-1]), w0[::-1][idx.T])
    g0 = rand((9, 7, D), gen=gen)
    g = np.asfortranarray(g0)
    assert_close(fastnn.embedding_backward(g, idx, V), remb.embedding_backward(g0, idx, V), k=9 * 7)


@pytest.mark.parametrize("bad", [-1, 5, 1 << 40])
def test_out_of_range_index_names_it(isa, gen, bad):
    w = rand((5, 4), gen=gen)
    idx = np.array([[0, 1, 2], [3, bad, 4]], np.int64)
    with pytest.raises(ValueError, match=rf"embedding: indices\[1, 1\] = {bad} is out of range for 5 embeddings"):
        fastnn.embedding(idx, w)
    with pytest.raises(ValueError, match=rf"embedding_backward: indices\[1, 1\] = {bad} is out of range"):
        fastnn.embedding_backward(rand((2, 3, 4), gen=gen), idx, 5)


def test_first_bad_index_is_reported(gen):
    w = rand((10, 8), gen=gen)
    idx = gen.integers(0, 10, (100_000,))
    idx[70_000] = 10
    idx[90_000] = -3
    with pytest.raises(ValueError, match=r"indices\[70000\] = 10"):
        fastnn.embedding(idx, w)


def test_out_argument(isa, gen):
    w = rand((20, 9), gen=gen)
    idx = gen.integers(0, 20, (4, 6))
    out = np.full((4, 6, 9), np.nan, np.float32)
    assert fastnn.embedding(idx, w, out=out) is out
    np.testing.assert_array_equal(out, w[idx])
    g = rand((4, 6, 9), gen=gen)
    gw = np.full((20, 9), np.nan, np.float32)  # overwritten, not accumulated into
    assert fastnn.embedding_backward(g, idx, 20, out=gw) is gw
    np.testing.assert_array_equal(gw, fastnn.embedding_backward(g, idx, 20))


def test_empty(isa, gen):
    w = rand((5, 4), gen=gen)
    assert fastnn.embedding(np.zeros((0, 3), np.int64), w).shape == (0, 3, 4)
    gw = fastnn.embedding_backward(np.zeros((0, 4), np.float32), np.zeros(0, np.int64), 5)
    np.testing.assert_array_equal(gw, np.zeros((5, 4), np.float32))


def test_backward_matches_float64_finite_differences(isa, gen):
    V, D = 4, 3
    idx = np.array([1, 3, 1, 0])
    w = rand((V, D), gen=gen)
    G = rand((4, D), gen=gen)
    h = 1e-6
    num = np.zeros((V, D))
    for i in np.ndindex(w.shape):
        wp, wm = w.astype(np.float64), w.astype(np.float64)
        wp[i] += h
        wm[i] -= h
        num[i] = (np.sum(G * remb.embedding(idx, wp)) - np.sum(G * remb.embedding(idx, wm))) / (2 * h)
    np.testing.assert_allclose(fastnn.embedding_backward(G, idx, V), num, rtol=1e-5, atol=1e-6)


def test_bad_arguments(gen):
    w = rand((5, 4), gen=gen)
    with pytest.raises(TypeError, match="embedding: indices must be int64 or int32, got float32"):
        fastnn.embedding(np.zeros(3, np.float32), w)
    with pytest.raises(TypeError, match="embedding: weight must be float32, got float64"):
        fastnn.embedding(np.zeros(3, np.int64), np.ones((5, 4)))
    with pytest.raises(ValueError, match=r"embedding: weight must have shape \(num_embeddings, embedding_dim\)"):
        fastnn.embedding(np.zeros(3, np.int64), np.ones(5, np.float32))
    with pytest.raises(ValueError, match="padding_idx must be within num_embeddings"):
        fastnn.embedding(np.zeros(3, np.int64), w, padding_idx=5)
    with pytest.raises(ValueError, match=r"embedding_backward: grad_out must have shape indices.shape \+ \(D,\)"):
        fastnn.embedding_backward(np.ones((3, 4), np.float32), np.zeros(2, np.int64), 5)


def test_cpp_validates_too(gen):
    C = fastnn._C
    w = rand((5, 4), gen=gen)
    idx = np.zeros(3, np.int64)
    with pytest.raises(ValueError, match=r"embedding: out must have shape indices.shape \+ \(4,\)"):
        C.embedding(idx, w, np.empty((3, 5), np.float32))
    with pytest.raises(TypeError, match="embedding: indices must be int64 or int32"):
        C.embedding(idx.astype(np.uint8), w, np.empty((3, 4), np.float32))
    with pytest.raises(ValueError, match=r"padding_idx must be in \[0, 5\) or -1, got 7"):
        C.embedding_backward(np.ones((3, 4), np.float32), idx, 7, np.empty((5, 4), np.float32))
    with pytest.raises(ValueError, match="grad_out must have shape"):
        C.embedding_backward(np.ones((3, 5), np.float32), idx, -1, np.empty((5, 4), np.float32))
