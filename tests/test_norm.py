"""layer_norm, rms_norm, batch_norm: forward and backward against the float64 oracles on every
ISA path, saved statistics, layouts, long rows, NaN/Inf, float64 finite differences, bad input."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn.reference import norm as rn
from fastnn.testing import assert_close, layouts, rand
from fd_check import check_grads

F32_EPS = float(np.finfo(np.float32).eps)

# (x shape, number of normalized trailing dims): odd sizes, a row of 1, multi-dim normalized shapes
ROW_CASES = [((7, 13), 1), ((1, 1), 1), ((3, 1), 1), ((2, 3, 129), 1), ((5, 33), 1), ((4, 127), 1),
             ((2, 1000), 1), ((3, 4097), 1), ((2, 5, 7, 3), 2), ((6, 2, 3, 4), 3), ((64,), 1)]


def _affine(gen, shape, with_w, with_b):
    return (rand(shape, gen=gen) if with_w else None), (rand(shape, gen=gen) if with_b else None)


@pytest.mark.parametrize("shape,k", ROW_CASES)
@pytest.mark.parametrize("affine", [(True, True), (True, False), (False, True), (False, False)])
def test_layer_norm(isa, gen, shape, k, affine):
    x, go = rand(shape, gen=gen), rand(shape, gen=gen)
    ns = shape[len(shape) - k:]
    n = int(np.prod(ns))
    w, b = _affine(gen, ns, *affine)
    y, mean, rstd = fastnn.layer_norm(x, ns, w, b, return_stats=True)
    assert_close(y, rn.layer_norm(x, ns, w, b), k=n)
    x64 = x.astype(np.float64).reshape(-1, n)
    assert_close(mean, x64.mean(axis=1).reshape(shape[:len(shape) - k]), k=n)
    assert_close(rstd, (1 / np.sqrt(x64.var(axis=1) + 1e-5)).reshape(shape[:len(shape) - k]), k=n)
    gx, gw, gb = fastnn.layer_norm_backward(go, x, ns, w, b, mean=mean, rstd=rstd)
    rx, rw, rb = rn.layer_norm_backward(go, x, ns, w, b)
    # n == 1: grad_x is exactly 0 in exact arithmetic; judge it at the scale of g*w*rstd instead.
    assert_close(gx, rx, k=n, name="grad_x") if n > 1 else np.testing.assert_allclose(gx, 0, atol=1e-5 * rstd.max())
    rows = x.size // n
    assert (gw is None) == (w is None) and (gb is None) == (b is None)
    if w is not None:
        assert_close(gw, rw, k=rows, name="grad_weight")
    if b is not None:
        assert_close(gb, rb, k=rows, name="grad_bias")
    # Without saved statistics the backward recomputes the same ones: identical gradients.
    gx2, gw2, gb2 = fastnn.layer_norm_backward(go, x, ns, w, b)
    np.testing.assert_array_equal(gx2, gx)
    if w is not None:
        np.testing.assert_array_equal(gw2, gw)


@pytest.mark.parametrize("shape,k", ROW_CASES)
@pytest.mark.parametrize("with_w", [True, False])
@pytest.mark.parametrize("eps", [None, 1e-6])
def test_rms_norm(isa, gen, shape, k, with_w, eps):
    x, go = rand(shape, gen=gen), rand(shape, gen=gen)
    ns = shape[len(shape) - k:]
    n = int(np.prod(ns))
    w = rand(ns, gen=gen) if with_w else None
    y, rstd = fastnn.rms_norm(x, ns, w, eps=eps, return_stats=True)
    eps64 = F32_EPS if eps is None else eps  # PyTorch: eps=None is the input dtype's epsilon
    assert_close(y, rn.rms_norm(x, ns, w, eps=eps64), k=n)
    gx, gw = fastnn.rms_norm_backward(go, x, ns, w, eps=eps, rstd=rstd)
    rx, rw = rn.rms_norm_backward(go, x, ns, w, eps=eps64)
    if n > 1:
        assert_close(gx, rx, k=n, name="grad_x")
    else:  # r gw (1 - x^2 r^2): cancellation in float32; judge at the scale of r gw
        np.testing.assert_allclose(gx, rx, atol=1e-6 * np.abs(rstd).max())
    if with_w:
        assert_close(gw, rw, k=x.size // n, name="grad_weight")
    else:
        assert gw is None
    gx2, _ = fastnn.rms_norm_backward(go, x, ns, w, eps=eps)
    np.testing.assert_array_equal(gx2, gx)


def test_rms_norm_default_eps_is_float32_epsilon(gen):
    x = rand((4, 8), gen=gen) * 1e-4  # small enough that eps matters
    assert_close(fastnn.rms_norm(x, 8), rn.rms_norm(x.astype(np.float32), 8), k=8)
    assert_close(fastnn.rms_norm(x, 8), rn.rms_norm(x, 8, eps=F32_EPS), k=8)


@pytest.mark.parametrize("layout", ["contiguous", "fortran", "strided", "negative"])
def test_row_norms_any_layout(isa, gen, layout):
    x0, g0 = rand((9, 37), gen=gen), rand((9, 37), gen=gen)
    w, b = rand(37, gen=gen), rand(37, gen=gen)
    x, g = dict(layouts(x0))[layout], dict(layouts(g0))[layout]
    assert_close(fastnn.layer_norm(x, 37, w, b), rn.layer_norm(x0, 37, w, b), k=37)
    assert_close(fastnn.layer_norm_backward(g, x, 37, w, b)[0], rn.layer_norm_backward(g0, x0, 37, w, b)[0], k=37)
    assert_close(fastnn.rms_norm(x, 37, w), rn.rms_norm(x0, 37, w, eps=F32_EPS), k=37)
    # A view with contiguous rows and a row stride is read in place.
    big = rand((9, 50), gen=gen)
    assert_close(fastnn.layer_norm(big[:, 3:40], 37), rn.layer_norm(big[:, 3:40], 37), k=37)


def test_layer_norm_long_rows_with_offset(isa, gen):
    """A large common offset: E[x^2] - E[x]^2 would lose every digit; two passes keep them."""
    x = (1000.0 + rand((2, 1 << 20), gen=gen)).astype(np.float32)
    y, mean, rstd = fastnn.layer_norm(x, x.shape[-1], return_stats=True)
    x64 = x.astype(np.float64)
    assert_close(rstd, 1 / np.sqrt(x64.var(axis=1) + 1e-5), k=x.shape[1], name="rstd")
    assert_close(y, rn.layer_norm(x, x.shape[-1]), k=x.shape[1])
    assert_close(mean, x64.mean(axis=1), rtol=1e-6, name="mean")


def test_row_norms_nan_inf_stay_in_their_row(isa, gen):
    x = rand((4, 40), gen=gen)
    x[1, 7] = np.nan
    x[2, 3] = np.inf
    for y in (fastnn.layer_norm(x, 40), fastnn.rms_norm(x, 40)):
        assert np.isnan(y[1]).all() and not np.isfinite(y[2]).all()
        assert np.isfinite(y[[0, 3]]).all()
    assert_close(fastnn.layer_norm(x, 40)[[0, 3]], rn.layer_norm(x[[0, 3]], 40), k=40)


def test_row_norms_large_threaded(isa, gen):
    x, g = rand((257, 1031), gen=gen), rand((257, 1031), gen=gen)
    w, b = rand(1031, gen=gen), rand(1031, gen=gen)
    gx, gw, gb = fastnn.layer_norm_backward(g, x, 1031, w, b)
    rx, rw, rb = rn.layer_norm_backward(g, x, 1031, w, b)
    assert_close(gx, rx, k=1031)
    assert_close(gw, rw, k=257)
    assert_close(gb, rb, k=257)


def test_row_norm_weight_grads_over_many_rows(gen):
    """grad_weight sums over 100k rows: blocked + compensated accumulation stays accurate."""
    x, g = rand((100_000, 8), gen=gen), rand((100_000, 8), gen=gen, low=0.0, high=1.0)
    w = rand(8, gen=gen)
    _, gw, gb = fastnn.layer_norm_backward(g, x, 8, w, w)
    _, rw, rb = rn.layer_norm_backward(g, x, 8, w, w)
    assert_close(gb, rb, rtol=1e-6, name="grad_bias")
    assert_close(gw, rw, k=100, name="grad_weight")


# ---- batch_norm ---------------------------------------------------------------------------

# Column mode (spatial < 32), plane mode, and planes split into chunks (> 8192).
BN_SHAPES = [(8, 3), (3, 1), (13, 7), (4, 5, 7), (3, 4, 5, 3), (2, 3, 40, 41), (3, 2, 9000), (2, 3, 129),
             (1, 2, 17000), (129, 33)]


@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm(isa, gen, shape, training, affine):
    c = shape[1]
    x = (3 * rand(shape, gen=gen) + 1).astype(np.float32)
    go = rand(shape, gen=gen)
    w, b = _affine(gen, (c,), affine, affine)
    rm, rv = rand((c,), gen=gen), rand((c,), gen=gen, low=0.5, high=2.0)
    rm1, rv1 = rm.copy(), rv.copy()
    y, mean, rstd = fastnn.batch_norm(x, rm1, rv1, w, b, training=training, momentum=0.3, return_stats=True)
    yr, nrm, nrv = rn.batch_norm(x, rm, rv, w, b, training=training, momentum=0.3)
    count = x.size // c
    assert_close(y, yr, k=count)
    assert_close(rm1, nrm, k=count, name="running_mean")
    assert_close(rv1, nrv, k=count, name="running_var")
    gx, gw, gb = fastnn.batch_norm_backward(go, x, w, b, rm, rv, training, mean=mean, rstd=rstd)
    rx, rw, rb = rn.batch_norm_backward(go, x, w, b, rm, rv, training)
    assert_close(gx, rx, k=count, name="grad_x")
    if affine:
        assert_close(gw, rw, k=count, name="grad_weight")
        assert_close(gb, rb, k=count, name="grad_bias")
    else:
        assert gw is None and gb is None
    gx2, _, _ = fastnn.batch_norm_backward(go, x, w, b, rm, rv, training)
    assert_close(gx2, rx, k=count, name="grad_x (recomputed stats)")


def test_batch_norm_training_without_running_stats(isa, gen):
    x = rand((6, 4, 5), gen=gen)
    y = fastnn.batch_norm(x, None, None, training=True)
    assert_close(y, rn.batch_norm(x, None, None, training=True)[0], k=30)


def test_batch_norm_large_offset_many_values(isa, gen):
    """Per-channel variance over 1M values with a large offset (Welford / two-pass chunks)."""
    for shape in [(1 << 17, 8), (16, 4, 1 << 14)]:
        x = (500.0 + rand(shape, gen=gen)).astype(np.float32)
        c = shape[1]
        rm, rv = np.zeros(c, np.float32), np.ones(c, np.float32)
        _, mean, rstd = fastnn.batch_norm(x, rm, rv, training=True, momentum=1.0, return_stats=True)
        axes = (0,) + tuple(range(2, x.ndim))
        x64 = x.astype(np.float64)
        assert_close(mean, x64.mean(axis=axes), rtol=1e-6, name="mean")
        assert_close(rstd, 1 / np.sqrt(x64.var(axis=axes) + 1e-5), k=x.size // c, name="rstd")
        n = x.size // c
        assert_close(rv, x64.var(axis=axes) * n / (n - 1), k=n, name="running_var (unbiased)")


def test_batch_norm_nan_stays_in_its_channel(isa, gen):
    x = rand((5, 3, 40), gen=gen)
    x[2, 1, 7] = np.nan
    y = fastnn.batch_norm(x, None, None, training=True)
    assert np.isnan(y[:, 1]).all()
    assert np.isfinite(y[:, [0, 2]]).all()


# ---- float64 finite differences on tiny shapes --------------------------------------------

def test_norm_grads_match_finite_differences(isa, gen):
    x, w, b = rand((3, 2, 4), gen=gen), rand((2, 4), gen=gen), rand((2, 4), gen=gen)
    g = rand((3, 2, 4), gen=gen)
    grads = fastnn.layer_norm_backward(g, x, (2, 4), w, b)
    check_grads(lambda x_, w_, b_: rn.layer_norm(x_, (2, 4), w_, b_), grads, g, [x, w, b],
                [(0, 0), (1, 1), (2, 2)], k=8)
    grads = fastnn.rms_norm_backward(g, x, (4,), w[0], eps=1e-6)
    check_grads(lambda x_, w_: rn.rms_norm(x_, (4,), w_, 1e-6), grads, g, [x, w[0]], [(0, 0), (1, 1)], k=4)
    xb, gb_ = rand((4, 3, 5), gen=gen), rand((4, 3, 5), gen=gen)
    wb, bb = rand(3, gen=gen), rand(3, gen=gen)
    rm, rv = rand(3, gen=gen), rand(3, gen=gen, low=0.5, high=2.0)
    for training in (True, False):
        grads = fastnn.batch_norm_backward(gb_, xb, wb, bb, rm, rv, training)
        check_grads(lambda x_, w_, b_: rn.batch_norm(x_, rm, rv, w_, b_, training)[0], grads, gb_, [xb, wb, bb],
                    [(0, 0), (1, 1), (2, 2)], k=20)


# ---- bad input ----------------------------------------------------------------------------

def test_norm_errors():
    x = np.ones((4, 6), np.float32)
    with pytest.raises(TypeError, match="layer_norm: x must be float32, got float64"):
        fastnn.layer_norm(x.astype(np.float64), 6)
    with pytest.raises(ValueError, match="layer_norm: normalized_shape \\(5,\\) must equal the trailing"):
        fastnn.layer_norm(x, 5)
    with pytest.raises(ValueError, match="layer_norm: weight must have shape \\(6,\\), got \\(5,\\)"):
        fastnn.layer_norm(x, 6, np.ones(5, np.float32))
    with pytest.raises(TypeError, match="layer_norm: bias must be float32"):
        fastnn.layer_norm(x, 6, None, np.ones(6))
    with pytest.raises(ValueError, match="layer_norm: eps must be finite"):
        fastnn.layer_norm(x, 6, eps=float("nan"))
    with pytest.raises(ValueError, match="layer_norm: eps must be >= 0"):
        fastnn.layer_norm(x, 6, eps=-1.0)
    with pytest.raises(ValueError, match="layer_norm_backward: grad_out must have shape"):
        fastnn.layer_norm_backward(np.ones((4, 5), np.float32), x, 6)
    with pytest.raises(ValueError, match="pass both mean and rstd"):
        fastnn.layer_norm_backward(x, x, 6, mean=np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="layer_norm_backward: rstd must have shape \\(4,\\)"):
        fastnn.layer_norm_backward(x, x, 6, mean=np.zeros(4, np.float32), rstd=np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="rms_norm: normalized_shape must be an int or a sequence"):
        fastnn.rms_norm(x, 6.0)
    with pytest.raises(ValueError, match="batch_norm: x must have at least 2 dimension"):
        fastnn.batch_norm(np.ones(4, np.float32), None, None, training=True)
    with pytest.raises(ValueError, match="expected more than 1 value per channel when training"):
        fastnn.batch_norm(np.ones((1, 3), np.float32), None, None, training=True)
    with pytest.raises(ValueError, match="running_mean and running_var are required when training=False"):
        fastnn.batch_norm(x, None, None, training=False)
    with pytest.raises(ValueError, match="batch_norm: running_mean must have shape \\(6,\\)"):
        fastnn.batch_norm(x, np.zeros(5, np.float32), np.ones(6, np.float32))
    ro = np.zeros(6, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="batch_norm: running_var is read-only"):
        fastnn.batch_norm(x, np.zeros(6, np.float32), ro, training=True)
    with pytest.raises(ValueError, match="batch_norm: running_mean must be contiguous"):
        fastnn.batch_norm(x, np.zeros(12, np.float32)[::2], np.ones(6, np.float32), training=True)
    with pytest.raises(ValueError, match="batch_norm: momentum must be finite"):
        fastnn.batch_norm(x, None, None, training=True, momentum=float("inf"))
    with pytest.raises(TypeError, match="batch_norm: momentum must be a real number"):
        fastnn.batch_norm(x, None, None, training=True, momentum=None)


def test_norm_cpp_validates_too():
    C = fastnn._C
    x = np.ones((4, 6), np.float32)
    with pytest.raises(ValueError, match="layer_norm: y must have shape \\(4, 6\\), got \\(4, 5\\)"):
        C.layer_norm(x, None, None, 1e-5, np.ones((4, 5), np.float32), None, None)
    with pytest.raises(ValueError, match="layer_norm: x rows must be contiguous"):
        C.layer_norm(np.ones((4, 12), np.float32)[:, ::2], None, None, 1e-5, x.copy(), None, None)
    with pytest.raises(TypeError, match="layer_norm: weight must be float32"):
        C.layer_norm(x, np.ones(6), None, 1e-5, x.copy(), None, None)
    with pytest.raises(ValueError, match="layer_norm: y is read-only"):
        ro = x.copy()
        ro.flags.writeable = False
        C.layer_norm(x, None, None, 1e-5, ro, None, None)
    with pytest.raises(ValueError, match="rms_norm: eps must be finite"):
        C.rms_norm(x, None, float("inf"), x.copy(), None)
    x3 = np.ones((4, 3, 5), np.float32)
    with pytest.raises(ValueError, match="batch_norm: x must be contiguous"):
        C.batch_norm(np.ones((4, 3, 10), np.float32)[:, :, ::2], None, None, None, None, True, 0.1, 1e-5, x3.copy(),
                     None, None)
    with pytest.raises(ValueError, match="batch_norm: weight must have shape \\(3,\\)"):
        C.batch_norm(x3, None, None, np.ones(4, np.float32), None, True, 0.1, 1e-5, x3.copy(), None, None)
    with pytest.raises(ValueError, match="batch_norm_backward: pass both mean and rstd"):
        C.batch_norm_backward(x3, x3, None, None, None, True, 1e-5, np.ones(3, np.float32), None, x3.copy(), None,
                              None)


def test_norm_cuda_arrays_go_to_the_cuda_path():
    class FakeCudaArray:
        __cuda_array_interface__ = {"shape": (2, 2), "typestr": "<f4", "data": (0, False), "version": 3}

    if fastnn.cuda_available():
        pytest.skip("a CUDA device is present: tests/cuda covers the CUDA path")
    with pytest.raises(RuntimeError, match="layer_norm: got a CUDA array but CUDA is unavailable"):
        fastnn.layer_norm(FakeCudaArray(), 2)


def test_norm_out_and_in_place(isa, gen):
    x = rand((6, 3, 40), gen=gen)
    w = rand(40, gen=gen)
    for fn, want in [(lambda a, **k: fastnn.layer_norm(a, 40, w, **k), rn.layer_norm(x, 40, w)),
                     (lambda a, **k: fastnn.rms_norm(a, 40, w, **k), rn.rms_norm(x, 40, w, eps=F32_EPS)),
                     (lambda a, **k: fastnn.batch_norm(a, None, None, training=True, **k),
                      rn.batch_norm(x, None, None, training=True)[0])]:
        out = np.full(x.shape, np.nan, np.float32)
        assert fn(x, out=out) is out
        assert_close(out, want, k=40)
        y = x.copy()
        assert fn(y, out=y) is y  # in place
        assert_close(y, want, k=40)
        big = np.full((6, 3, 80), np.nan, np.float32)
        fn(x, out=big[:, :, ::2])  # a strided out goes through a temporary
        assert_close(big[:, :, ::2], want, k=40)
        assert np.isnan(big[:, :, 1::2]).all()
    with pytest.raises(ValueError, match="layer_norm: out must have shape"):
        fastnn.layer_norm(x, 40, out=np.empty((6, 3), np.float32))


@pytest.mark.parametrize("threads", [1, 3])
def test_norms_any_thread_count(gen, threads):
    """Dynamic block scheduling and per-thread accumulators with fewer / more threads than cores."""
    x, g = rand((300, 257), gen=gen), rand((300, 257), gen=gen)
    w = rand(257, gen=gen)
    xb, gbn = rand((40, 6, 45), gen=gen), rand((40, 6, 45), gen=gen)
    xc = rand((3000, 7), gen=gen)
    before = fastnn.get_num_threads()
    fastnn.set_num_threads(threads)
    try:
        gx, gw, gb = fastnn.layer_norm_backward(g, x, 257, w, w)
        y = fastnn.batch_norm(xb, None, None, training=True)
        bx = fastnn.batch_norm_backward(gbn, xb, None, None, None, None, True)[0]
        yc, mc, rc = fastnn.batch_norm(xc, None, None, training=True, return_stats=True)
    finally:
        fastnn.set_num_threads(before)
    rx, rw, rb = rn.layer_norm_backward(g, x, 257, w, w)
    assert_close(gx, rx, k=257)
    assert_close(gw, rw, k=300)
    assert_close(gb, rb, k=300)
    assert_close(y, rn.batch_norm(xb, None, None, training=True)[0], k=1800)
    assert_close(bx, rn.batch_norm_backward(gbn, xb, None, None, None, None, True)[0], k=1800)
    assert_close(yc, rn.batch_norm(xc, None, None, training=True)[0], k=3000)
