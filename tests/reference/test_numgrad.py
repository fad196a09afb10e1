"""Torch-free checks: float64 central differences for the backwards, and naive
loop implementations for the forwards, on tiny shapes."""
import math

import numpy as np
import pytest

from fastnn.reference import activation as ract
from fastnn.reference import attention as rattn
from fastnn.reference import conv as rconv
from fastnn.reference import linear as rlin
from fastnn.reference import loss as rloss
from fastnn.reference import norm as rnorm
from fastnn.reference import pool as rpool
from fastnn.reference import rnn as rrnn
from fastnn.reference import softmax as rsm


def numgrad(f, arrays, which, h=1e-6):
    """d f(*arrays) / d arrays[which], f scalar, by central differences."""
    arrays = [None if a is None else np.array(a, dtype=np.float64) for a in arrays]
    a = arrays[which]
    grad = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        orig = a[idx]
        a[idx] = orig + h
        fp = f(*arrays)
        a[idx] = orig - h
        fm = f(*arrays)
        a[idx] = orig
        grad[idx] = (fp - fm) / (2 * h)
    return grad


def check(fwd, bwd, arrays, grad_of, seed=0):
    """fwd(*arrays) -> array; bwd(G, *arrays) -> tuple of grads; compares grads
    at positions ``grad_of`` (indices into arrays) with central differences of sum(G*fwd)."""
    rng = np.random.default_rng(seed)
    G = rng.standard_normal(np.shape(fwd(*arrays)))
    grads = bwd(G, *arrays)
    for out_i, in_i in grad_of:
        num = numgrad(lambda *a: float(np.sum(G * fwd(*a))), arrays, in_i)
        np.testing.assert_allclose(grads[out_i], num, rtol=1e-6, atol=1e-7)


rng = np.random.default_rng(1234)
R = rng.standard_normal


def test_attention_numgrad():
    q, k, v = R((1, 2, 3, 2)), R((1, 1, 4, 2)), R((1, 1, 4, 3))
    mask = np.array([[True, False, True, True]])  # plus bottom-right causal
    kw = dict(causal=True, mask=mask, scale=0.7)
    check(lambda q_, k_, v_: rattn.attention(q_, k_, v_, **kw),
          lambda g, q_, k_, v_: rattn.attention_backward(g, q_, k_, v_, **kw),
          [q, k, v], [(0, 0), (1, 1), (2, 2)])


def test_conv2d_numgrad():
    x, w, b = R((1, 2, 5, 4)), R((4, 1, 3, 2)), R(4)
    kw = dict(stride=2, padding=1, dilation=(1, 2), groups=2, activation="gelu")
    check(lambda *a: rconv.conv2d(*a, **kw), lambda g, *a: rconv.conv2d_backward(g, *a, **kw),
          [x, w, b], [(0, 0), (1, 1), (2, 2)])


def test_conv2d_same_numgrad():
    x, w = R((1, 1, 4, 5)), R((2, 1, 2, 4))
    check(lambda *a: rconv.conv2d(*a, padding="same"),
          lambda g, *a: rconv.conv2d_backward(g, *a, padding="same"), [x, w], [(0, 0), (1, 1)])


def test_conv_transpose2d_numgrad():
    x, w, b = R((1, 2, 3, 3)), R((2, 2, 3, 2)), R(4)
    kw = dict(stride=2, padding=1, output_padding=1, groups=2)
    check(lambda *a: rconv.conv_transpose2d(*a, **kw),
          lambda g, *a: rconv.conv_transpose2d_backward(g, *a, **kw),
          [x, w, b], [(0, 0), (1, 1), (2, 2)])


def test_conv2d_forward_naive():
    x, w, b = R((2, 4, 6, 5)), R((6, 2, 3, 2)), R(6)
    s, p, d, G = (2, 1), (1, 2), (2, 1), 2
    y = rconv.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=G)
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    K, Cg = w.shape[:2]
    ref = np.zeros_like(y)
    for n, k, i, j in np.ndindex(y.shape):
        grp = k // (K // G)
        acc = b[k]
        for c, r, t in np.ndindex(Cg, w.shape[2], w.shape[3]):
            acc += w[k, c, r, t] * xp[n, grp * Cg + c, i * s[0] + r * d[0], j * s[1] + t * d[1]]
        ref[n, k, i, j] = acc
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)


def test_attention_forward_naive():
    q, k, v = R((1, 4, 3, 5)), R((1, 2, 6, 5)), R((1, 2, 6, 2))
    out, lse = rattn.attention(q, k, v, causal=True, return_lse=True)
    for h, i in np.ndindex(4, 3):
        kh = h // 2
        js = [j for j in range(6) if j <= i + 3]
        sc = np.array([q[0, h, i] @ k[0, kh, j] / math.sqrt(5) for j in js])
        p = np.exp(sc - sc.max())
        np.testing.assert_allclose(out[0, h, i], (p / p.sum()) @ v[0, kh, js], rtol=1e-12)
        np.testing.assert_allclose(lse[0, h, i], sc.max() + math.log(p.sum()), rtol=1e-12)


@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=2, dilation=2)])
def test_max_pool_numgrad(kw):
    x = R((1, 2, 5, 6))
    check(lambda x_: rpool.max_pool2d(x_, **kw),
          lambda g, x_: (rpool.max_pool2d_backward(g, x_, None, **kw),), [x], [(0, 0)])


def test_avg_pool_numgrad():
    kw = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
    check(lambda x_: rpool.avg_pool2d(x_, **kw),
          lambda g, x_: (rpool.avg_pool2d_backward(g, x_, **kw),), [R((1, 1, 6, 5))], [(0, 0)])
    check(lambda x_: rpool.adaptive_avg_pool2d(x_, (3, 2)),
          lambda g, x_: (rpool.adaptive_avg_pool2d_backward(g, x_, (3, 2)),), [R((1, 1, 7, 5))], [(0, 0)])


def test_pool_forward_naive():
    x = R((1, 1, 7, 6))
    y, idx = rpool.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True)
    a = rpool.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)
    # H: ceil((7+2-3)/2)+1 = 4 (last window starts at row 5 < 7+1);
    # W: ceil((6+2-3)/2)+1 = 4 (last window starts at col 5, only col 5 is real)
    assert y.shape == (1, 1, 4, 4)
    for i, j in np.ndindex(4, 4):
        rows = [r for r in range(2 * i - 1, 2 * i + 2) if 0 <= r < 7]
        cols = [c for c in range(2 * j - 1, 2 * j + 2) if 0 <= c < 6]
        win = x[0, 0][np.ix_(rows, cols)]
        assert y[0, 0, i, j] == win.max()
        assert x[0, 0].flat[idx[0, 0, i, j]] == win.max()
        np.testing.assert_allclose(a[0, 0, i, j], win.mean(), rtol=1e-13)


def test_norm_numgrad():
    x, w, b = R((3, 2, 4)), R((2, 4)), R((2, 4))
    check(lambda x_, w_, b_: rnorm.layer_norm(x_, (2, 4), w_, b_),
          lambda g, x_, w_, b_: rnorm.layer_norm_backward(g, x_, (2, 4), w_, b_),
          [x, w, b], [(0, 0), (1, 1), (2, 2)])
    check(lambda x_, w_: rnorm.rms_norm(x_, (4,), w_, 1e-6),
          lambda g, x_, w_: rnorm.rms_norm_backward(g, x_, (4,), w_, 1e-6),
          [x, w[0]], [(0, 0), (1, 1)])
    xb, wb, bb, rm, rv = R((4, 3, 2)), R(3), R(3), R(3), np.ones(3)
    for training in (True, False):
        check(lambda x_, w_, b_: rnorm.batch_norm(x_, rm, rv, w_, b_, training)[0],
              lambda g, x_, w_, b_: rnorm.batch_norm_backward(g, x_, w_, b_, rm, rv, training),
              [xb, wb, bb], [(0, 0), (1, 1), (2, 2)])


def test_loss_numgrad():
    logits = R((4, 3, 2))
    target = np.array([[0, 2], [1, -100], [2, 2], [0, 1]])
    kw = dict(weight=np.array([0.5, 1.0, 2.0]), label_smoothing=0.2)
    check(lambda l_: rloss.cross_entropy(l_, target, **kw),
          lambda g, l_: (rloss.cross_entropy_backward(g, l_, target, **kw),), [logits], [(0, 0)])
    x, t = R((3, 4)) * 3, rng.uniform(0, 1, (3, 4))
    pw = rng.uniform(0.5, 2, 4)
    check(lambda x_: rloss.binary_cross_entropy_with_logits(x_, t, None, pw, "sum"),
          lambda g, x_: (rloss.binary_cross_entropy_with_logits_backward(g, x_, t, None, pw, "sum"),), [x], [(0, 0)])
    p = rng.uniform(0.1, 0.9, (3, 4))
    check(lambda p_: rloss.binary_cross_entropy(p_, t, None, "none"),
          lambda g, p_: (rloss.binary_cross_entropy_backward(g, p_, t, None, "none"),), [p], [(0, 0)])


def test_linear_activation_softmax_numgrad():
    x, w, b = R((2, 3, 4)), R((5, 4)), R(5)
    for act in ["silu", "gelu", "gelu_tanh", "tanh"]:
        check(lambda *a: rlin.linear(*a, act), lambda g, *a: rlin.linear_backward(g, *a, act),
              [x, w, b], [(0, 0), (1, 1), (2, 2)])
    check(lambda x_: ract.softplus(x_, 2.0, 3.0), lambda g, x_: (ract.softplus_backward(g, x_, 2.0, 3.0),),
          [R((3, 4)) * 2], [(0, 0)])
    check(lambda x_: rsm.log_softmax(x_, 0), lambda g, x_: (rsm.log_softmax_backward(g, x_, 0),), [R((3, 4))], [(0, 0)])


def test_rnn_numgrad():
    L, N, I, H = 3, 2, 2, 3
    x, h0, c0 = R((L, N, I)), R((N, H)), R((N, H))
    p4 = [R((4 * H, I)) * 0.5, R((4 * H, H)) * 0.5, R(4 * H) * 0.5, R(4 * H) * 0.5]
    p3 = [a[:3 * H] for a in p4]
    gh = R((N, H))

    def lstm_f(x_, h_, c_, *p):
        y, hn, cn = rrnn.lstm(x_, h_, c_, p)
        return np.concatenate([y.ravel(), cn.ravel()])

    def lstm_b(g, x_, h_, c_, *p):
        gy, gc = g[:L * N * H].reshape(L, N, H), g[L * N * H:].reshape(N, H)
        gx, gh0, gc0, gp = rrnn.lstm_backward((gy, None, gc), x_, h_, c_, p)
        return (gx, gh0, gc0) + gp
    check(lstm_f, lstm_b, [x, h0, c0] + p4, [(i, i) for i in range(7)])

    def gru_f(x_, h_, *p):
        y, hn = rrnn.gru(x_, h_, p)
        return y

    def gru_b(g, x_, h_, *p):
        gx, gh0, gp = rrnn.gru_backward((g, None), x_, h_, p)
        return (gx, gh0) + gp
    check(gru_f, gru_b, [x, h0] + p3, [(i, i) for i in range(6)])
