"""Losses against the float64 oracles (fastnn.reference.loss, themselves checked against PyTorch)
on every ISA path: cross_entropy in every layout path (rows, columns, gathered), weights,
ignore_index, label smoothing, reductions; BCE, BCE with logits (pos_weight), MSE; NaN, errors,
determinism, float64 finite differences."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn.reference import loss as rloss
from fastnn.testing import assert_close, rand

RED = ["mean", "sum", "none"]


def grad_out_for(gen, reduction, shape):
    return rand(shape, gen=gen) if reduction == "none" else np.float32(gen.uniform(0.5, 2.0))


def ce_inputs(gen, shape, ignore_index=-100, weighted=False, tdtype=np.int64):
    C = shape[1] if len(shape) > 1 else shape[0]
    x = (gen.standard_normal(shape) * 3).astype(np.float32)
    tshape = (shape[0],) + shape[2:] if len(shape) > 1 else ()
    t = gen.integers(0, C, size=tshape).astype(tdtype)
    if len(shape) > 1 and t.size > 2:
        t.flat[::3] = ignore_index
    w = gen.uniform(0.2, 2.0, C).astype(np.float32) if weighted else None
    return x, t, w


def check_ce(gen, x, t, w, reduction, smoothing, ignore_index=-100, x_ref=None):
    x_ref = x if x_ref is None else x_ref
    kw = dict(weight=w, ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing)
    C = x_ref.shape[1] if x_ref.ndim > 1 else x_ref.shape[0]
    want = rloss.cross_entropy(x_ref, t, **kw)
    got = fastnn.cross_entropy(x, t, **kw)
    assert_close(got, want, k=C * max(t.size, 1), name=f"cross_entropy {reduction}")
    g = grad_out_for(gen, reduction, np.shape(want))
    assert_close(fastnn.cross_entropy_backward(g, x, t, **kw), rloss.cross_entropy_backward(g, x_ref, t, **kw), k=C,
                 name=f"cross_entropy_backward {reduction}")


@pytest.mark.parametrize("shape", [(7, 5), (1, 1), (3, 4, 5, 2), (2, 3, 7), (5,), (33, 129), (4, 1000), (2, 13, 70)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
@pytest.mark.parametrize("reduction", RED)
def test_cross_entropy(isa, gen, shape, weighted, smoothing, reduction):
    x, t, w = ce_inputs(gen, shape, weighted=weighted)
    check_ce(gen, x, t, w, reduction, smoothing)


@pytest.mark.parametrize("reduction", RED)
def test_cross_entropy_ignore_index_inside_the_classes(isa, gen, reduction):
    x, t, w = ce_inputs(gen, (40, 6), ignore_index=2, weighted=True)
    check_ce(gen, x, t, w, reduction, 0.1, ignore_index=2)


@pytest.mark.parametrize("reduction", RED)
def test_cross_entropy_layout_paths(isa, gen, reduction):
    # rows with a row stride (slice of a wider array)
    x0, t, w = ce_inputs(gen, (37, 45), weighted=True)
    big = np.full((37, 90), np.nan, np.float32)
    big[:, :45] = x0
    check_ce(gen, big[:, :45], t, w, reduction, 0.1, x_ref=x0)
    # column kernel: class axis strided, batch axis contiguous (Fortran order)
    check_ce(gen, np.asfortranarray(x0), t, w, reduction, 0.1, x_ref=x0)
    # gathered: no unit stride anywhere
    big2 = np.full((74, 90), np.nan, np.float32)
    big2[::2, ::2] = x0
    check_ce(gen, big2[::2, ::2], t, w, reduction, 0.1, x_ref=x0)
    # spatial (N, C, H, W): column kernel along W, 70 lanes = a full and a partial block
    xs, ts, ws = ce_inputs(gen, (2, 13, 3, 70), weighted=True)
    check_ce(gen, xs, ts, ws, reduction, 0.0)
    # spatial, non-contiguous: gathered per position
    check_ce(gen, xs.transpose(0, 1, 3, 2), ts.transpose(0, 2, 1).copy(), ws, reduction, 0.2,
             x_ref=np.ascontiguousarray(xs.transpose(0, 1, 3, 2)))


def test_cross_entropy_int32_targets_and_unbatched(isa, gen):
    x, t, w = ce_inputs(gen, (9, 11), tdtype=np.int32)
    check_ce(gen, x, t, w, "mean", 0.0)
    x1 = rand((11,), gen=gen, low=-3, high=3)
    t1 = np.array(4)
    for red in RED:
        got = fastnn.cross_entropy(x1, t1, reduction=red)
        assert got.shape == ()
        assert_close(got, rloss.cross_entropy(x1, t1, reduction=red), k=11)
        g = np.float32(0.7) if red != "none" else np.array(0.7, np.float32)
        assert_close(fastnn.cross_entropy_backward(g, x1, t1, reduction=red),
                     rloss.cross_entropy_backward(0.7, x1, t1, reduction=red), k=11)


@pytest.mark.parametrize("reduction", RED)
def test_cross_entropy_streaming_backward(isa, gen, reduction):
    fastnn._C.set_stream_threshold(0)
    try:
        for shape in [(7, 5), (9, 33), (3, 129)]:
            x, t, w = ce_inputs(gen, shape, weighted=True)
            check_ce(gen, x, t, w, reduction, 0.1)
    finally:
        fastnn._C.set_stream_threshold(-1)


@pytest.mark.parametrize("reduction", RED)
def test_bce_streaming_backward(isa, gen, reduction):
    """The non-temporal-store instantiations of both BCE backwards (threshold 0), with and without
    weight / pos_weight, on odd sizes: no other test reaches them."""
    fastnn._C.set_stream_threshold(0)
    try:
        for n in (7, 33, 129, 1000):
            p = gen.uniform(0.05, 0.95, n).astype(np.float32)
            t, x = gen.uniform(0, 1, n).astype(np.float32), gen.normal(size=n).astype(np.float32)
            w, pw = gen.uniform(0.5, 2, n).astype(np.float32), gen.uniform(0.5, 2, n).astype(np.float32)
            g = gen.normal(size=n).astype(np.float32) if reduction == "none" else np.float32(0.7)
            for ww in (None, w):
                assert_close(fastnn.binary_cross_entropy_backward(g, p, t, ww, reduction=reduction),
                             rloss.binary_cross_entropy_backward(g, p, t, ww, reduction=reduction))
                for pww in (None, pw):
                    assert_close(
                        fastnn.binary_cross_entropy_with_logits_backward(g, x, t, ww, reduction=reduction, pos_weight=pww),
                        rloss.binary_cross_entropy_with_logits_backward(g, x, t, ww, reduction=reduction, pos_weight=pww))
    finally:
        fastnn._C.set_stream_threshold(-1)


def test_cross_entropy_large_class_count(isa, gen):
    x, t, w = ce_inputs(gen, (6, 32000))
    check_ce(gen, x, t, w, "mean", 0.1)


def test_cross_entropy_all_ignored_is_nan(isa, gen):
    x = rand((3, 4), gen=gen)
    t = np.full(3, -100)
    assert np.isnan(fastnn.cross_entropy(x, t))
    assert np.isnan(fastnn.cross_entropy_backward(np.float32(1), x, t)).all()
    assert fastnn.cross_entropy(x, t, reduction="sum") == 0.0
    np.testing.assert_array_equal(fastnn.cross_entropy_backward(np.float32(1), x, t, reduction="sum"), 0.0)


def test_cross_entropy_nan_logits_only_poison_their_row(isa, gen):
    x, t, _ = ce_inputs(gen, (6, 9))
    t[:] = np.arange(6) % 9
    x[2, 4] = np.nan
    loss = fastnn.cross_entropy(x, t, reduction="none")
    assert np.isnan(loss[2]) and np.isfinite(np.delete(loss, 2)).all()
    dx = fastnn.cross_entropy_backward(np.ones(6, np.float32), x, t, reduction="none")
    assert np.isnan(dx[2]).all() and np.isfinite(np.delete(dx, 2, axis=0)).all()
    # an ignored row's logits are never read
    t[2] = -100
    assert np.isfinite(fastnn.cross_entropy(x, t))
    assert np.isfinite(fastnn.cross_entropy_backward(np.float32(1), x, t)).all()


@pytest.mark.parametrize("bad", [5, -1, 1000])
def test_cross_entropy_out_of_range_target(isa, gen, bad):
    x = rand((4, 5), gen=gen)
    t = np.array([0, 1, bad, 2])
    with pytest.raises(ValueError, match=rf"cross_entropy: target\[2\] = {bad} is out of range for 5 classes"):
        fastnn.cross_entropy(x, t)
    with pytest.raises(ValueError, match=rf"cross_entropy_backward: target\[2\] = {bad} is out of range"):
        fastnn.cross_entropy_backward(np.float32(1), x, t)
    xs = rand((2, 5, 3, 4), gen=gen)
    ts = np.zeros((2, 3, 4), np.int64)
    ts[1, 2, 3] = bad
    with pytest.raises(ValueError, match=rf"target\[1, 2, 3\] = {bad} is out of range"):
        fastnn.cross_entropy(xs, ts)
    with pytest.raises(ValueError, match=rf"target\[1, 2, 3\] = {bad} is out of range"):
        fastnn.cross_entropy(np.asfortranarray(xs), ts)  # column path reports the same element


def test_cross_entropy_deterministic_across_threads(gen):
    x, t, w = ce_inputs(gen, (3000, 50), weighted=True)
    n0 = fastnn.get_num_threads()
    try:
        fastnn.set_num_threads(1)
        a = fastnn.cross_entropy(x, t, w, label_smoothing=0.1)
        fastnn.set_num_threads(3)
        b = fastnn.cross_entropy(x, t, w, label_smoothing=0.1)
    finally:
        fastnn.set_num_threads(n0)
    assert a == b


# ---- binary cross entropy ------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(7, 3), (1,), (129, 33), (3, 5, 70)])
def test_binary_cross_entropy(isa, gen, reduction, weighted, shape):
    p = gen.uniform(0.01, 0.99, shape).astype(np.float32)
    p.flat[0] = 0.0
    if p.size > 2:
        p.flat[1], p.flat[2] = 1.0, 1e-30  # log clamp region
    t = gen.uniform(0, 1, shape).astype(np.float32)
    w = gen.uniform(0.5, 2, shape[-1:]).astype(np.float32) if weighted else None  # broadcast weight
    n = p.size
    want = rloss.binary_cross_entropy(p, t, None if w is None else np.broadcast_to(w, shape), reduction)
    assert_close(fastnn.binary_cross_entropy(p, t, w, reduction=reduction), want, k=n)
    g = grad_out_for(gen, reduction, np.shape(want))
    assert_close(fastnn.binary_cross_entropy_backward(g, p, t, w, reduction=reduction),
                 rloss.binary_cross_entropy_backward(g, p, t, None if w is None else np.broadcast_to(w, shape),
                                                     reduction))


def test_binary_cross_entropy_rejects_non_probabilities(isa):
    p = np.array([0.2, 1.5, -0.1], np.float32)
    t = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match=r"binary_cross_entropy: input must hold probabilities in \[0, 1\], but 2"):
        fastnn.binary_cross_entropy(p, t)
    p[1:] = np.nan  # NaN is not rejected: it propagates
    assert np.isnan(fastnn.binary_cross_entropy(p, t))


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos", [False, True])
def test_bce_with_logits(isa, gen, reduction, weighted, pos):
    shape = (5, 7, 33)
    x = (gen.standard_normal(shape) * 10).astype(np.float32)
    x.flat[:4] = [80.0, -80.0, 0.0, 1e-30]
    t = gen.uniform(0, 1, shape).astype(np.float32)
    w = gen.uniform(0.5, 2, (7, 1)).astype(np.float32) if weighted else None
    pw = gen.uniform(0.5, 3, 33).astype(np.float32) if pos else None
    bw = None if w is None else np.broadcast_to(w, shape)
    bpw = None if pw is None else np.broadcast_to(pw, shape)
    want = rloss.binary_cross_entropy_with_logits(x, t, bw, bpw, reduction)
    got = fastnn.binary_cross_entropy_with_logits(x, t, w, reduction=reduction, pos_weight=pw)
    assert_close(got, want, k=x.size)
    g = grad_out_for(gen, reduction, np.shape(want))
    assert_close(fastnn.binary_cross_entropy_with_logits_backward(g, x, t, w, reduction=reduction, pos_weight=pw),
                 rloss.binary_cross_entropy_with_logits_backward(g, x, t, bw, bpw, reduction))


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("shape", [(3, 13), (1,), (1000, 7), (70_001,)])
def test_mse_loss(isa, gen, reduction, shape):
    x, t = rand(shape, gen=gen, low=-3, high=3), rand(shape, gen=gen, low=-3, high=3)
    want = rloss.mse_loss(x, t, reduction)
    assert_close(fastnn.mse_loss(x, t, reduction=reduction), want, k=x.size)
    g = grad_out_for(gen, reduction, np.shape(want))
    assert_close(fastnn.mse_loss_backward(g, x, t, reduction=reduction), rloss.mse_loss_backward(g, x, t, reduction))


@pytest.mark.parametrize("reduction", RED)
def test_pointwise_losses_on_strided_views(isa, gen, reduction):
    x0 = rand((37, 45), gen=gen, low=-3, high=3)
    t0 = rand((37, 45), gen=gen, low=0, high=1)
    xv, tv = np.asfortranarray(x0)[::-1], t0[::-1]
    assert_close(fastnn.mse_loss(xv, tv, reduction=reduction), rloss.mse_loss(x0[::-1], t0[::-1], reduction),
                 k=x0.size)
    assert_close(fastnn.binary_cross_entropy_with_logits(xv, tv, reduction=reduction),
                 rloss.binary_cross_entropy_with_logits(x0[::-1], t0[::-1], reduction=reduction), k=x0.size)
    p = np.abs(np.tanh(xv))
    g = grad_out_for(gen, reduction, () if reduction != "none" else p.shape)
    assert_close(fastnn.binary_cross_entropy_backward(g, p, tv, reduction=reduction),
                 rloss.binary_cross_entropy_backward(g, p, tv, reduction=reduction))


def test_pointwise_losses_deterministic_across_threads(gen):
    x, t = rand((300_001,), gen=gen), rand((300_001,), gen=gen)
    n0 = fastnn.get_num_threads()
    try:
        fastnn.set_num_threads(1)
        a = fastnn.mse_loss(x, t), fastnn.binary_cross_entropy_with_logits(x, np.abs(t))
        fastnn.set_num_threads(3)
        b = fastnn.mse_loss(x, t), fastnn.binary_cross_entropy_with_logits(x, np.abs(t))
    finally:
        fastnn.set_num_threads(n0)
    assert a == b


def test_backward_out_argument(isa, gen):
    x, t, w = ce_inputs(gen, (33, 17), weighted=True)
    want = fastnn.cross_entropy_backward(np.float32(1), x, t, w)
    out = np.full((33, 17), np.nan, np.float32)
    assert fastnn.cross_entropy_backward(np.float32(1), x, t, w, out=out) is out
    np.testing.assert_array_equal(out, want)
    x_copy = x.copy()
    assert fastnn.cross_entropy_backward(np.float32(1), x, t, w, out=x) is x  # overlap: via a temporary
    np.testing.assert_array_equal(x, fastnn.cross_entropy_backward(np.float32(1), x_copy, t, w))
    a, b = rand((100,), gen=gen), rand((100,), gen=gen)
    want = fastnn.mse_loss_backward(np.float32(2), a, b)
    assert fastnn.mse_loss_backward(np.float32(2), a, b, out=a) is a  # elementwise: in place is fine
    np.testing.assert_array_equal(a, want)
    p = np.abs(np.tanh(b))
    out = np.empty(100, np.float32)
    fastnn.binary_cross_entropy_backward(np.ones(100, np.float32), p, p, reduction="none", out=out)
    np.testing.assert_array_equal(out, fastnn.binary_cross_entropy_backward(np.ones(100, np.float32), p, p,
                                                                            reduction="none"))
    fastnn.binary_cross_entropy_with_logits_backward(np.float32(1), b, p, out=out)
    np.testing.assert_array_equal(out, fastnn.binary_cross_entropy_with_logits_backward(np.float32(1), b, p))


def test_empty_inputs(isa):
    e = np.zeros((0, 3), np.float32)
    assert np.isnan(fastnn.mse_loss(e, e))
    assert fastnn.mse_loss(e, e, reduction="sum") == 0.0
    assert fastnn.mse_loss(e, e, reduction="none").shape == (0, 3)
    assert np.isnan(fastnn.cross_entropy(e, np.zeros(0, np.int64)))


# ---- float64 finite differences ------------------------------------------------------------------

def numgrad(f, x, h=1e-6):
    x = x.astype(np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        grad[i] = (f(xp) - f(xm)) / (2 * h)
    return grad


def test_backwards_match_float64_finite_differences(isa, gen):
    x, t, w = ce_inputs(gen, (4, 5), weighted=True)
    kw = dict(weight=w, label_smoothing=0.2)
    num = numgrad(lambda z: float(rloss.cross_entropy(z, t, **kw)), x)
    np.testing.assert_allclose(fastnn.cross_entropy_backward(np.float32(1), x, t, **kw), num, rtol=1e-4, atol=1e-6)
    p = gen.uniform(0.1, 0.9, (3, 4)).astype(np.float32)
    tt = gen.uniform(0, 1, (3, 4)).astype(np.float32)
    num = numgrad(lambda z: float(rloss.binary_cross_entropy(z, tt, reduction="sum")), p)
    np.testing.assert_allclose(fastnn.binary_cross_entropy_backward(np.float32(1), p, tt, reduction="sum"), num,
                               rtol=1e-4, atol=1e-6)
    xl = rand((3, 4), gen=gen, low=-4, high=4)
    pw = gen.uniform(0.5, 2, 4).astype(np.float32)
    num = numgrad(lambda z: float(rloss.binary_cross_entropy_with_logits(z, tt, None, pw)), xl)
    np.testing.assert_allclose(fastnn.binary_cross_entropy_with_logits_backward(np.float32(1), xl, tt, pos_weight=pw),
                               num, rtol=1e-4, atol=1e-6)
    num = numgrad(lambda z: float(rloss.mse_loss(z, tt)), xl)
    np.testing.assert_allclose(fastnn.mse_loss_backward(np.float32(1), xl, tt), num, rtol=1e-4, atol=1e-6)


# ---- bad input ---------------------------------------------------------------------------------

def test_bad_arguments():
    x = np.ones((4, 5), np.float32)
    t = np.zeros(4, np.int64)
    with pytest.raises(ValueError, match="cross_entropy: reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        fastnn.cross_entropy(x, t, reduction="avg")
    with pytest.raises(TypeError, match="cross_entropy: target must hold integer class indices"):
        fastnn.cross_entropy(x, t.astype(np.float32))
    with pytest.raises(ValueError, match=r"cross_entropy: target must have shape \(4,\) for logits \(4, 5\)"):
        fastnn.cross_entropy(x, np.zeros(3, np.int64))
    with pytest.raises(ValueError, match=r"cross_entropy: weight must have shape \(5,\)"):
        fastnn.cross_entropy(x, t, np.ones(4, np.float32))
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\]"):
        fastnn.cross_entropy(x, t, label_smoothing=1.5)
    with pytest.raises(TypeError, match="cross_entropy: logits must be float32, got float64"):
        fastnn.cross_entropy(x.astype(np.float64), t)
    with pytest.raises(ValueError, match="grad_out of a reduced loss must be a scalar"):
        fastnn.cross_entropy_backward(np.ones(4, np.float32), x, t)
    with pytest.raises(ValueError, match=r"grad_out must have the loss's shape \(4,\)"):
        fastnn.cross_entropy_backward(np.ones(3, np.float32), x, t, reduction="none")
    with pytest.raises(ValueError, match="mse_loss: target must have the input's shape"):
        fastnn.mse_loss(x, np.ones((1, 5), np.float32))
    with pytest.raises(ValueError, match="binary_cross_entropy: weight of shape .* does not broadcast"):
        fastnn.binary_cross_entropy(x * 0.5, x * 0.5, np.ones(3, np.float32))
    with pytest.raises(TypeError, match="pos_weight must be float32"):
        fastnn.binary_cross_entropy_with_logits(x, x, pos_weight=np.ones(5))


def test_cpp_validates_too():
    C = fastnn._C
    x = np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match=r"cross_entropy: target must have shape \(N, d1, ...\)"):
        C.cross_entropy(x, np.zeros(3, np.int64), None, -100, 0.0, "mean", None)
    with pytest.raises(TypeError, match="cross_entropy: target must be int64 or int32"):
        C.cross_entropy(x, np.zeros(4, np.uint8), None, -100, 0.0, "mean", None)
    with pytest.raises(TypeError, match="cross_entropy: target has unsupported dtype int16"):
        C.cross_entropy(x, np.zeros(4, np.int16), None, -100, 0.0, "mean", None)
    with pytest.raises(ValueError, match=r"logits must have shape \(N, C\)"):
        C.cross_entropy(np.ones(5, np.float32), np.zeros((), np.int64), None, -100, 0.0, "mean", None)
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\]"):
        C.cross_entropy(x, np.zeros(4, np.int64), None, -100, float("nan"), "mean", None)
    with pytest.raises(ValueError, match="reduction='none' needs grad_out"):
        C.cross_entropy_backward(None, 1.0, x, np.zeros(4, np.int64), None, -100, 0.0, "none", np.empty_like(x))
    with pytest.raises(ValueError, match="mse_loss: target must have shape"):
        C.mse_loss(x, np.ones(5, np.float32), "mean", None)
    with pytest.raises(ValueError, match="binary_cross_entropy_backward: out must have shape"):
        C.binary_cross_entropy_backward(None, 1.0, x, x, None, "mean", np.ones(3, np.float32))
