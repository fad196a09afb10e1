"""linear / linear_backward: parity with the float64 oracle on every ISA path, every fused
activation, odd shapes, layouts, out=, edge cases and bad input."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn.reference import linear as rlin
from fastnn.testing import assert_close, empty_poisoned, layouts, rand, randint

ACTS = [None, "relu", "gelu", "gelu_tanh", "sigmoid", "tanh", "silu"]
# (M, K, N): not multiples of any tile (4×8, 6×16, 14×32); M ≤ 64 takes the column schedule.
SHAPES = [(1, 1, 1), (7, 13, 5), (33, 31, 129), (1, 300, 257), (13, 129, 127), (65, 33, 7), (129, 7, 33)]


def _inputs(gen, m, k, n, scale=2.0):
    x = rand((m, k), gen=gen, low=-scale, high=scale)
    w = rand((n, k), gen=gen, low=-1.0, high=1.0) / np.float32(np.sqrt(k))
    b = rand((n,), gen=gen)
    return x, w.astype(np.float32), b


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("m,k,n", SHAPES)
def test_linear_forward(isa, gen, act, m, k, n):
    x, w, b = _inputs(gen, m, k, n)
    assert_close(fastnn.linear(x, w, b, act), rlin.linear(x, w, b, act), k=k)
    assert_close(fastnn.linear(x, w, None, act), rlin.linear(x, w, None, act), k=k)


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("m,k,n", SHAPES)
def test_linear_backward(isa, gen, act, m, k, n):
    x, w, b = _inputs(gen, m, k, n)
    dy = rand((m, n), gen=gen)
    # Each gradient chains the recomputed pre-activation (a length-k sum) into a length-n or
    # length-m sum: the tolerance covers both.
    gx, gw, gb = fastnn.linear_backward(dy, x, w, b, act)
    rx, rw, rb = rlin.linear_backward(dy, x, w, b, act)
    assert_close(gx, rx, k=n + k, name="grad_x")
    assert_close(gw, rw, k=m + k, name="grad_weight")
    assert_close(gb, rb, k=m + k, name="grad_bias")
    gx, gw, gb = fastnn.linear_backward(dy, x, w, None, act)
    rx, rw, _ = rlin.linear_backward(dy, x, w, None, act)
    assert gb is None
    assert_close(gx, rx, k=n + k, name="grad_x")
    assert_close(gw, rw, k=m + k, name="grad_weight")


@pytest.mark.parametrize("act", ["gelu", "silu"])
def test_linear_large_threaded(isa, gen, act):
    """Several K blocks (the epilogue runs on the last only), both schedules, many threads' chunks."""
    for m in (5, 64, 517):
        x, w, b = _inputs(gen, m, 611, 263)
        assert_close(fastnn.linear(x, w, b, act), rlin.linear(x, w, b, act), k=611)
        dy = rand((m, 263), gen=gen)
        got = fastnn.linear_backward(dy, x, w, b, act)
        want = rlin.linear_backward(dy, x, w, b, act)
        for g, r, k, name in zip(got, want, (263 + 611, m + 611, m + 611), ("grad_x", "grad_weight", "grad_bias")):
            assert_close(g, r, k=k, name=name)


def test_linear_leading_dims_and_1d(isa, gen):
    x = rand((2, 3, 4, 9), gen=gen)
    w, b = rand((5, 9), gen=gen), rand((5,), gen=gen)
    y = fastnn.linear(x, w, b, "tanh")
    assert y.shape == (2, 3, 4, 5)
    assert_close(y, rlin.linear(x, w, b, "tanh"), k=9)
    dy = rand((2, 3, 4, 5), gen=gen)
    got = fastnn.linear_backward(dy, x, w, b, "tanh")
    want = rlin.linear_backward(dy, x, w, b, "tanh")
    assert got[0].shape == x.shape
    for g, r in zip(got, want):
        assert_close(g, r, k=24 + 9)
    x1 = rand((9,), gen=gen)
    assert fastnn.linear(x1, w, b).shape == (5,)
    assert_close(fastnn.linear(x1, w, b, "relu"), rlin.linear(x1, w, b, "relu"), k=9)
    # leading dims that cannot be flattened as a view (read through a copy)
    xs = rand((4, 3, 9), gen=gen)[::2]
    assert_close(fastnn.linear(xs, w, b), rlin.linear(xs, w, b), k=9)


@pytest.mark.parametrize("lx", ["contiguous", "fortran", "strided", "negative"])
@pytest.mark.parametrize("lw", ["contiguous", "fortran", "strided", "negative"])
def test_linear_layouts(isa, gen, lx, lw):
    x0, w0, b0 = _inputs(gen, 37, 45, 29)
    x, w = dict(layouts(x0))[lx], dict(layouts(w0))[lw]
    b = dict(layouts(b0))[lx]
    assert_close(fastnn.linear(x, w, b, "gelu"), rlin.linear(x0, w0, b0, "gelu"), k=45)
    dy0 = rand((37, 29), gen=gen)
    dy = dict(layouts(dy0))[lw]
    got = fastnn.linear_backward(dy, x, w, b, "silu")
    want = rlin.linear_backward(dy0, x0, w0, b0, "silu")
    for g, r, k in zip(got, want, (29 + 45, 37 + 45, 37 + 45)):
        assert_close(g, r, k=k)


def test_linear_bit_exact_small_integers(isa, gen):
    for m, k, n in [(7, 33, 13), (65, 31, 129), (3, 300, 40)]:
        x, w, b = randint((m, k), gen=gen), randint((n, k), gen=gen), randint((n,), gen=gen)
        want = x.astype(np.int64) @ w.astype(np.int64).T + b.astype(np.int64)
        np.testing.assert_array_equal(fastnn.linear(x, w, b), want.astype(np.float32))
        np.testing.assert_array_equal(fastnn.linear(x, w, b, "relu"), np.maximum(want, 0).astype(np.float32))
        dy = randint((m, n), gen=gen)
        gx, gw, gb = fastnn.linear_backward(dy, x, w, b)
        d64 = dy.astype(np.int64)
        np.testing.assert_array_equal(gx, (d64 @ w.astype(np.int64)).astype(np.float32))
        np.testing.assert_array_equal(gw, (d64.T @ x.astype(np.int64)).astype(np.float32))
        np.testing.assert_array_equal(gb, d64.sum(0).astype(np.float32))
        gx, gw, gb = fastnn.linear_backward(dy, x, w, b, "relu")
        g = np.where(want > 0, d64, 0)
        np.testing.assert_array_equal(gx, (g @ w.astype(np.int64)).astype(np.float32))
        np.testing.assert_array_equal(gw, (g.T @ x.astype(np.int64)).astype(np.float32))
        np.testing.assert_array_equal(gb, g.sum(0).astype(np.float32))


def test_linear_out(isa, gen):
    x, w, b = _inputs(gen, 20, 30, 40)
    want = rlin.linear(x, w, b, "sigmoid")
    out = empty_poisoned((20, 40))
    assert fastnn.linear(x, w, b, "sigmoid", out=out) is out
    assert_close(out, want, k=30)
    big = empty_poisoned((20, 80))
    fastnn.linear(x, w, b, "sigmoid", out=big[:, ::2])
    assert_close(big[:, ::2], want, k=30)
    assert np.isnan(big[:, 1::2]).all()
    # 3-D out whose leading dims cannot be flattened as a view: written through a temporary
    x3 = rand((3, 5, 30), gen=gen)
    out3 = empty_poisoned((6, 5, 40))[::2]
    fastnn.linear(x3, w, b, out=out3)
    assert_close(out3, rlin.linear(x3, w, b), k=30)
    # out overlapping the input
    sq = rand((16, 16), gen=gen)
    w16 = rand((16, 16), gen=gen)
    want = rlin.linear(sq, w16, None, "relu")
    fastnn.linear(sq, w16, None, "relu", out=sq)
    assert_close(sq, want, k=16)


def test_linear_empty(isa, gen):
    w, b = rand((4, 3), gen=gen), rand((4,), gen=gen)
    x = np.zeros((0, 3), np.float32)
    assert fastnn.linear(x, w, b).shape == (0, 4)
    gx, gw, gb = fastnn.linear_backward(np.zeros((0, 4), np.float32), x, w, b, "gelu")
    assert gx.shape == (0, 3)
    np.testing.assert_array_equal(gw, np.zeros((4, 3), np.float32))
    np.testing.assert_array_equal(gb, np.zeros(4, np.float32))
    # in_features == 0: y = act(bias)
    y = fastnn.linear(np.zeros((2, 0), np.float32), np.zeros((4, 0), np.float32), b, "tanh")
    assert_close(y, np.tile(np.tanh(b.astype(np.float64)), (2, 1)))


def test_linear_nan_inf(isa, gen):
    x, w, b = _inputs(gen, 9, 8, 10)
    x[2, 3] = np.nan
    x[5, 1] = np.inf
    for act in ACTS:
        got = fastnn.linear(x, w, b, act)
        with np.errstate(invalid="ignore", over="ignore"):
            want = rlin.linear(x, w, b, act)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=str(act))
        ok = np.isfinite(want)
        assert_close(got[ok], want[ok], k=8)
    # extreme pre-activations: saturation without NaN
    big = np.array([[-1e4], [-60.0], [60.0], [1e4]], np.float32)
    one = np.ones((1, 1), np.float32)
    for act in ACTS[1:]:
        got = fastnn.linear(big, one, None, act)
        assert_close(got, rlin.linear(big, one, None, act), name=str(act))


# ---- bad input ---------------------------------------------------------------------------------

def f32(*shape):
    return np.ones(shape, np.float32)


def test_linear_bad_input():
    with pytest.raises(TypeError, match="linear: x must be float32, got float64"):
        fastnn.linear(np.ones((2, 3)), f32(4, 3))
    with pytest.raises(TypeError, match="linear: weight must be float32"):
        fastnn.linear(f32(2, 3), np.ones((4, 3), np.int32))
    with pytest.raises(ValueError, match="linear: weight must have 2 dimensions"):
        fastnn.linear(f32(2, 3), f32(3))
    with pytest.raises(ValueError, match=r"linear: x has 3 features .* weight .* is \(4, 5\)"):
        fastnn.linear(f32(2, 3), f32(4, 5))
    with pytest.raises(ValueError, match=r"linear: bias must have shape \(4,\)"):
        fastnn.linear(f32(2, 3), f32(4, 3), f32(3))
    with pytest.raises(ValueError, match="linear: bias must have 1 dimension"):
        fastnn.linear(f32(2, 3), f32(4, 3), f32(1, 4))
    with pytest.raises(ValueError, match="linear: activation must be None or one of .*got 'leaky_relu'"):
        fastnn.linear(f32(2, 3), f32(4, 3), None, "leaky_relu")
    with pytest.raises(ValueError, match="linear: activation"):
        fastnn.linear(f32(2, 3), f32(4, 3), None, 3)
    with pytest.raises(ValueError, match="linear: x must have at least 1 dimension"):
        fastnn.linear(np.ones((), np.float32), f32(4, 3))
    with pytest.raises(ValueError, match=r"linear: out must have shape \(2, 4\)"):
        fastnn.linear(f32(2, 3), f32(4, 3), out=f32(2, 5))
    with pytest.raises(TypeError, match="linear: x: expected a NumPy"):
        fastnn.linear([[1.0]], f32(1, 1))


def test_linear_backward_bad_input():
    with pytest.raises(ValueError, match=r"linear_backward: grad_out must have shape \(2, 4\)"):
        fastnn.linear_backward(f32(2, 5), f32(2, 3), f32(4, 3))
    with pytest.raises(TypeError, match="linear_backward: grad_out must be float32"):
        fastnn.linear_backward(np.ones((2, 4)), f32(2, 3), f32(4, 3))
    with pytest.raises(ValueError, match="linear_backward: activation"):
        fastnn.linear_backward(f32(2, 4), f32(2, 3), f32(4, 3), None, "softplus")
    with pytest.raises(ValueError, match="linear_backward: x has 2 features"):
        fastnn.linear_backward(f32(2, 4), f32(2, 2), f32(4, 3))


def test_linear_cpp_validates_too():
    """The raw bindings trust nothing from Python."""
    from fastnn import _C

    with pytest.raises(ValueError, match="linear: weight must have shape"):
        _C.linear(f32(2, 3), f32(4, 5), None, "none", f32(2, 4))
    with pytest.raises(ValueError, match=r"linear: out must have shape \(2, 4\)"):
        _C.linear(f32(2, 3), f32(4, 3), None, "none", f32(4, 2))
    with pytest.raises(ValueError, match="linear: out overlaps x"):
        x = f32(4, 4)
        _C.linear(x, f32(4, 4), None, "none", x)
    with pytest.raises(ValueError, match="linear: activation must be one of"):
        _C.linear(f32(2, 3), f32(4, 3), None, "swish", f32(2, 4))
    with pytest.raises(TypeError, match="linear: bias must be float32"):
        _C.linear(f32(2, 3), f32(4, 3), np.ones(4), "none", f32(2, 4))
    with pytest.raises(ValueError, match="linear_backward: grad_x must have shape"):
        _C.linear_backward(f32(2, 4), f32(2, 3), f32(4, 3), None, "relu", f32(3, 2), f32(4, 3), None)
    with pytest.raises(ValueError, match="linear_backward: grad_bias given without bias"):
        _C.linear_backward(f32(2, 4), f32(2, 3), f32(4, 3), None, "relu", f32(2, 3), f32(4, 3), f32(4))
    with pytest.raises(ValueError, match="linear_backward: grad_x overlaps grad_weight"):
        buf = f32(4, 3)
        _C.linear_backward(f32(4, 4), f32(4, 3), f32(4, 3), None, "none", buf, buf, None)
