"""sum / mean / max over axes and their backwards: every axis subset of odd shapes on every ISA
path, every layout, keepdims, ties and NaN, long-reduction accuracy, empty inputs, bad input."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import fastnn
from fastnn.reference import reduce as rr
from fastnn.testing import assert_close, layouts, rand
from fd_check import check_grads

SHAPES = [(1,), (7,), (129,), (7, 13), (33, 1), (1, 127), (3, 5, 7), (2, 1, 33, 4), (130, 3), (3, 4100)]


def _axis_choices(ndim):
    yield None
    for r in range(1, ndim + 1):
        for axes in itertools.combinations(range(ndim), r):
            yield axes if r > 1 else axes[0]


def _k(shape, axis):
    axes = range(len(shape)) if axis is None else ([axis] if isinstance(axis, int) else axis)
    return int(np.prod([shape[a] for a in axes]))


@pytest.mark.parametrize("shape", SHAPES)
def test_reductions_every_axis_subset(isa, gen, shape):
    x = rand(shape, gen=gen)
    for axis in _axis_choices(len(shape)):
        for keepdims in (False, True):
            k = _k(shape, axis)
            assert_close(fastnn.sum(x, axis, keepdims), rr.sum(x, axis, keepdims), k=k, name=f"sum {axis}")
            assert_close(fastnn.mean(x, axis, keepdims), rr.mean(x, axis, keepdims), k=k, name=f"mean {axis}")
            v, i = fastnn.max(x, axis, keepdims)
            rv, ri = rr.max(x, axis, keepdims)
            np.testing.assert_array_equal(v, rv.astype(np.float32))
            np.testing.assert_array_equal(i, ri)
            assert i.dtype == np.int64 and v.shape == rv.shape


@pytest.mark.parametrize("layout", ["contiguous", "fortran", "strided", "negative"])
def test_reductions_any_layout(isa, gen, layout):
    x0 = rand((9, 17, 5), gen=gen)
    x = dict(layouts(x0))[layout]
    for axis in [None, 0, 1, 2, (0, 1), (0, 2), (1, 2)]:
        k = _k(x0.shape, axis)
        assert_close(fastnn.sum(x, axis), rr.sum(x0, axis), k=k)
        v, i = fastnn.max(x, axis)
        np.testing.assert_array_equal(i, rr.max(x0, axis)[1])
    # a broadcast view (zero strides) is read in place
    b = np.broadcast_to(x0[:, :1, :], (9, 40, 5))
    assert_close(fastnn.mean(b, (0, 1)), rr.mean(b, (0, 1)), k=360)


def test_reduction_scalar_and_negative_axes(isa, gen):
    x = rand((4, 6), gen=gen)
    assert fastnn.sum(np.float32(3.5)).shape == ()
    assert_close(fastnn.sum(x, -1), rr.sum(x, 1), k=6)
    assert_close(fastnn.mean(x, (-2, -1), keepdims=True), rr.mean(x, None, True), k=24)
    assert fastnn.sum(x, ()).shape == (4, 6)  # nothing reduced: a copy
    np.testing.assert_array_equal(fastnn.sum(x, ()), x)


def test_max_ties_first_occurrence_and_nan(isa):
    x = np.array([[1, 3, 3, 2], [5, 5, 5, 5], [-np.inf] * 4, [1, np.nan, 7, np.nan]], np.float32)
    v, i = fastnn.max(x, 1)
    np.testing.assert_array_equal(i, [1, 0, 0, 1])
    assert np.isnan(v[3]) and v[2] == -np.inf
    v, i = fastnn.max(x, 0)  # column mode
    np.testing.assert_array_equal(i, [1, 3, 3, 3])
    # long rows: ties across vector lanes and across threads' chunks still give the first index
    y = np.zeros(1 << 20, np.float32)
    y[[1000, 5000, 900_000]] = 2.0
    assert fastnn.max(y)[1] == 1000
    y[777_777] = np.nan
    y[888_888] = np.nan
    assert fastnn.max(y)[1] == 777_777
    z = np.zeros((1 << 17, 3), np.float32)
    z[[5, 70_000, 100_000], 1] = 1.0
    np.testing.assert_array_equal(fastnn.max(z, 0)[1], [0, 5, 0])


def test_long_sums_stay_accurate(isa, gen):
    """4M values with a large offset: a running float32 sum would lose ~3 digits."""
    x = (1000.0 + rand(1 << 22, gen=gen)).astype(np.float32)
    assert_close(fastnn.sum(x), rr.sum(x), rtol=1e-6)
    assert_close(fastnn.mean(x), rr.mean(x), rtol=1e-6)
    cols = (1000.0 + rand((1 << 20, 4), gen=gen)).astype(np.float32)  # column mode, reduced rows
    assert_close(fastnn.sum(cols, 0), rr.sum(cols, 0), rtol=1e-6)
    rows = (1000.0 + rand((4, 1 << 20), gen=gen)).astype(np.float32)  # few outputs, split rows
    assert_close(fastnn.sum(rows, 1), rr.sum(rows, 1), rtol=1e-6)


def test_empty_reductions(isa):
    e = np.zeros((0, 3), np.float32)
    np.testing.assert_array_equal(fastnn.sum(e, 0), np.zeros(3))
    assert np.isnan(fastnn.mean(e, 0)).all()
    assert fastnn.sum(e, 1).shape == (0,)
    assert fastnn.max(e, 1)[0].shape == (0,)
    with pytest.raises(ValueError, match="max: zero-size reduction has no maximum"):
        fastnn.max(e, 0)


@pytest.mark.parametrize("shape", [(7, 13), (3, 5, 7), (130, 3)])
def test_reduction_backwards(isa, gen, shape):
    x = rand(shape, gen=gen)
    for axis in _axis_choices(len(shape)):
        for keepdims in (False, True):
            g = rand(np.shape(rr.sum(x, axis, keepdims)), gen=gen)
            assert_close(fastnn.sum_backward(g, x, axis, keepdims), rr.sum_backward(g, x, axis, keepdims))
            assert_close(fastnn.mean_backward(g, x.shape, axis, keepdims), rr.mean_backward(g, x, axis, keepdims))
            want = rr.max_backward(g, x, axis, keepdims)
            np.testing.assert_array_equal(fastnn.max_backward(g, x, axis, keepdims), want)
            _, idx = fastnn.max(x, axis, keepdims)
            np.testing.assert_array_equal(fastnn.max_backward(g, x.shape, axis, keepdims, indices=idx), want)


def test_reduction_grads_match_finite_differences(isa, gen):
    x = rand((3, 4, 2), gen=gen)
    for axis in [None, 1, (0, 2)]:
        g = rand(np.shape(rr.sum(x, axis)), gen=gen)
        check_grads(lambda x_: rr.sum(x_, axis), [fastnn.sum_backward(g, x, axis)], g, [x], [(0, 0)], k=4)
        check_grads(lambda x_: rr.mean(x_, axis), [fastnn.mean_backward(g, x, axis)], g, [x], [(0, 0)], k=4)
        check_grads(lambda x_: rr.max(x_, axis)[0], [fastnn.max_backward(g, x, axis)], g, [x], [(0, 0)], k=1)


def test_reduce_errors():
    x = np.ones((3, 4), np.float32)
    with pytest.raises(TypeError, match="sum: x must be float32, got float64"):
        fastnn.sum(np.ones((3, 4)))
    with pytest.raises(ValueError, match="mean: axis 2 is out of range for an array of rank 2"):
        fastnn.mean(x, 2)
    with pytest.raises(ValueError, match="max: repeated axis"):
        fastnn.max(x, (1, -1))
    with pytest.raises(TypeError, match="sum: axis must be None, an int or a tuple of ints"):
        fastnn.sum(x, 1.5)
    with pytest.raises(ValueError, match="sum_backward: grad_out must have shape \\(3,\\)"):
        fastnn.sum_backward(np.ones(4, np.float32), x, 1)
    with pytest.raises(ValueError, match="max_backward: pass x itself"):
        fastnn.max_backward(np.ones(3, np.float32), (3, 4), 1)
    with pytest.raises(TypeError, match="max_backward: indices must be int64"):
        fastnn.max_backward(np.ones(3, np.float32), x, 1, indices=np.zeros(3, np.int32))
    C = fastnn._C
    with pytest.raises(ValueError, match="sum: out must have rank 1"):
        C.sum(x, 1, np.ones((3, 1), np.float32))
    with pytest.raises(ValueError, match="axes mask 4 names axes beyond"):
        C.sum(x, 4, np.ones((3, 4), np.float32))
    with pytest.raises(TypeError, match="max: indices must be int64"):
        C.max(x, 2, np.ones(3, np.float32), np.ones(3, np.int32))
    with pytest.raises(ValueError, match="max_backward: index 9 out of range"):
        C.max_backward(np.ones(3, np.float32), np.full(3, 9, np.int64), 2, np.ones((3, 4), np.float32))


def test_many_small_column_tasks(isa, gen):
    """Column mode with a 3-wide unit-stride kept axis and 20k outer outputs."""
    x = rand((20001, 5, 3), gen=gen)
    for axis in (1, (0, 1)):
        assert_close(fastnn.sum(x, axis), rr.sum(x, axis), k=_k(x.shape, axis))
        v, i = fastnn.max(x, axis)
        np.testing.assert_array_equal(i, rr.max(x, axis)[1])


@pytest.mark.parametrize("threads", [1, 3])
def test_reductions_any_thread_count(gen, threads):
    x = rand((513, 1031), gen=gen)
    before = fastnn.get_num_threads()
    fastnn.set_num_threads(threads)
    try:
        got = [fastnn.sum(x), fastnn.sum(x, 0), fastnn.mean(x, 1), *fastnn.max(x, 0), *fastnn.max(x)]
    finally:
        fastnn.set_num_threads(before)
    want = [rr.sum(x), rr.sum(x, 0), rr.mean(x, 1), *rr.max(x, 0), *rr.max(x)]
    for a, b in zip(got, want):
        if a.dtype == np.int64:
            np.testing.assert_array_equal(a, b)
        else:
            assert_close(a, b, k=x.size if a.ndim == 0 else 1031)


@pytest.mark.parametrize("shape,axis", [((6, 5, 40), (0, 2)), ((40, 3, 33), (0, 2)), ((9, 4, 7, 20), (0, 2, 3)),
                                        ((50, 20), 0), ((20, 50), 1), ((7, 300), None)])
def test_max_ties_every_path(isa, gen, shape, axis):
    """Small integers tie everywhere: the index must be the first occurrence on every path
    (memory-order rows, split rows, columns)."""
    from fastnn.testing import randint
    x = randint(shape, gen=gen, low=-2, high=3)
    v, i = fastnn.max(x, axis)
    rv, ri = rr.max(x, axis)
    np.testing.assert_array_equal(i, ri)
    np.testing.assert_array_equal(v, rv)
    x[(0,) * x.ndim] = np.nan
    np.testing.assert_array_equal(fastnn.max(x, axis)[1], rr.max(x, axis)[1])
