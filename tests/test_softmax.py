"""softmax / log_softmax: forward and backward (from the forward output) against the float64
oracles on every ISA path, along every dim, in every layout; NaN/inf rows; finite differences."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn.reference import softmax as rsm
from fastnn.testing import assert_close, empty_poisoned, layouts, rand, tolerance

FWD = {False: (fastnn.softmax, rsm.softmax), True: (fastnn.log_softmax, rsm.log_softmax)}
BWD = {False: (fastnn.softmax_backward, rsm.softmax_backward), True: (fastnn.log_softmax_backward,
                                                                      rsm.log_softmax_backward)}


def check(x, dim, log, gen, x_ref=None, **kw):
    x_ref = x if x_ref is None else x_ref
    f, rf = FWD[log]
    C = x.shape[dim] if x.ndim else 1
    y = f(x, dim, **kw)
    assert_close(y, rf(x_ref, dim), k=C, name=f"{'log_' if log else ''}softmax dim={dim}")
    g = rand(x.shape, gen=gen)
    b, rb = BWD[log]
    dx = b(g, y, dim)
    name = f"{'log_' if log else ''}softmax_backward dim={dim}"
    # The kernel's own error: the formula evaluated in float64 on the float32 y it was given ...
    y64, g64 = y.astype(np.float64), g.astype(np.float64)
    if log:
        want = g64 - np.exp(y64) * np.sum(g64, axis=dim, keepdims=True)
    else:
        want = y64 * (g64 - np.sum(g64 * y64, axis=dim, keepdims=True))
    assert_close(dx, want, k=C, name=name)
    # ... and end to end against the oracle from x, where y's rounding is amplified by the
    # cancellation in g - sum(g y): a few times the forward tolerance.
    assert_close(dx, rb(g, x_ref, dim), rtol=4 * tolerance(np.float32, C), name=name)
    return y


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("C", [1, 7, 13, 33, 127, 129, 1000, 4099])
def test_rows_odd_lengths(isa, gen, log, C):
    x = rand((5, C), gen=gen, low=-10, high=10)
    check(x, -1, log, gen)


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("shape", [(3, 7, 5), (2, 33, 129), (4, 13, 2, 70), (1, 1000, 3)])
def test_every_dim(isa, gen, log, shape):
    x = rand(shape, gen=gen, low=-6, high=6)
    for dim in range(-x.ndim, x.ndim):
        check(x, dim, log, gen)


@pytest.mark.parametrize("log", [False, True])
def test_layouts(isa, gen, log):
    x0 = rand((37, 45), gen=gen, low=-5, high=5)
    for name, x in layouts(x0):
        for dim in (0, 1):
            check(x, dim, log, gen, x_ref=x0)


@pytest.mark.parametrize("log", [False, True])
def test_gather_path(isa, gen, log):
    """No dimension with unit stride anywhere: slices are gathered."""
    base = rand((20, 14, 30), gen=gen, low=-5, high=5)
    x = base[::2, ::2, ::3]
    for dim in range(3):
        check(x, dim, log, gen)


@pytest.mark.parametrize("log", [False, True])
def test_out_poisoned_strided_and_in_place(isa, gen, log):
    f, rf = FWD[log]
    x = rand((33, 70), gen=gen, low=-5, high=5)
    big = empty_poisoned((33, 140))
    res = f(x, 1, out=big[:, ::2])
    assert_close(big[:, ::2], rf(x, 1), k=70)
    assert np.isnan(big[:, 1::2]).all()
    assert res.base is big or res is not None
    want = rf(x, 0)
    assert f(x, 0, out=x) is x
    assert_close(x, want, k=33)


@pytest.mark.parametrize("log", [False, True])
def test_nan_and_inf_slices(isa, log):
    x = np.zeros((6, 20), np.float32) + np.linspace(-1, 1, 20, dtype=np.float32)
    x[1, 3] = np.nan
    x[2, 5] = np.inf
    x[3, :] = -np.inf
    x[4, 7] = -np.inf  # a single -inf is fine: probability 0 (log: -inf)
    x[5, :] = 1e30  # huge but finite
    f, rf = FWD[log]
    with np.errstate(all="ignore"):
        want = rf(x, -1)
    for dim_view in (x, np.asfortranarray(x)):  # row kernel and column kernel
        assert_close(f(dim_view, -1), want, k=20)
    assert_close(f(np.ascontiguousarray(x.T), 0), want.T, k=20)


@pytest.mark.parametrize("log", [False, True])
def test_streaming_store_path(isa, gen, log):
    """Row kernels with non-temporal stores (forced on small arrays), misaligned rows included."""
    fastnn._C.set_stream_threshold(0)
    try:
        for C in (1, 7, 33, 129):
            x = rand((5, C), gen=gen, low=-6, high=6)
            check(x, -1, log, gen)
            big = empty_poisoned((5, C + 3))
            FWD[log][0](x, -1, out=big[:, 1:C + 1])
            assert_close(big[:, 1:C + 1], FWD[log][1](x, -1), k=C)
            assert np.isnan(big[:, 0]).all() and np.isnan(big[:, C + 1:]).all()
    finally:
        fastnn._C.set_stream_threshold(-1)


def test_large_rows_and_many_rows(isa, gen):
    x = rand((3, 40_001), gen=gen, low=-30, high=30)
    check(x, 1, False, gen)
    x = rand((50_000, 3), gen=gen, low=-30, high=30)
    check(x, 1, True, gen)


def test_zero_dim_and_empty(isa):
    one = np.array(2.5, np.float32)
    assert fastnn.softmax(one, 0) == 1.0
    assert fastnn.log_softmax(one, -1) == 0.0
    assert fastnn.softmax(np.zeros((0, 4), np.float32), 1).shape == (0, 4)
    assert fastnn.softmax(np.zeros((3, 0), np.float32), 1).shape == (3, 0)


def test_threads_do_not_change_results(gen):
    x = rand((257, 1025), gen=gen, low=-5, high=5)
    n0 = fastnn.get_num_threads()
    try:
        fastnn.set_num_threads(1)
        a, c = fastnn.softmax(x, 1), fastnn.log_softmax(x, 0)
        fastnn.set_num_threads(3)
        b, d = fastnn.softmax(x, 1), fastnn.log_softmax(x, 0)
    finally:
        fastnn.set_num_threads(n0)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(c, d)


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dim", [0, 1])
def test_backward_matches_float64_finite_differences(isa, gen, log, dim):
    x = rand((4, 5), gen=gen, low=-2, high=2)
    G = rand((4, 5), gen=gen)
    f, rf = FWD[log]
    b, _ = BWD[log]
    h = 1e-6
    num = np.zeros((4, 5))
    x64 = x.astype(np.float64)
    for i in np.ndindex(x.shape):
        xp, xm = x64.copy(), x64.copy()
        xp[i] += h
        xm[i] -= h
        num[i] = (np.sum(G * rf(xp, dim)) - np.sum(G * rf(xm, dim))) / (2 * h)
    np.testing.assert_allclose(b(G, f(x, dim), dim), num, rtol=1e-4, atol=2e-6)


def test_bad_arguments():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="softmax: dim 2 is out of range for an array with 2 dimensions"):
        fastnn.softmax(x, 2)
    with pytest.raises(TypeError, match="log_softmax: dim must be an int"):
        fastnn.log_softmax(x, 1.0)
    with pytest.raises(TypeError, match="softmax: x must be float32, got float64"):
        fastnn.softmax(np.ones((2, 3)))
    with pytest.raises(ValueError, match="softmax_backward: grad_out must have the shape of y"):
        fastnn.softmax_backward(np.ones((3, 2), np.float32), x)
    with pytest.raises(ValueError, match="out must have shape"):
        fastnn.log_softmax(x, out=np.ones(6, np.float32))


def test_cpp_validates_too():
    C = fastnn._C
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="softmax: dim -3 is out of range"):
        C.softmax(x, np.empty_like(x), -3)
    with pytest.raises(ValueError, match="log_softmax: out must have shape"):
        C.softmax(x, np.ones((3, 2), np.float32), 0, True)
    with pytest.raises(ValueError, match="softmax_backward: grad_out must have shape"):
        C.softmax_backward(np.ones(3, np.float32), x, np.empty_like(x), 0)
    with pytest.raises(TypeError, match="softmax_backward: y must be float32"):
        C.softmax_backward(x, np.ones((2, 3)), np.empty_like(x), 0)
