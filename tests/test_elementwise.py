"""add / mul with NumPy broadcasting, bias_add, and their backwards on every ISA path: bit-exact
against NumPy's float32 results, every layout, in place, NaN/Inf, finite differences, bad input."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn.reference import reduce as rr
from fastnn.testing import assert_close, empty_poisoned, layouts, rand
from fd_check import check_grads

PAIRS = [((7, 13), (13,)), ((7, 13), (7, 1)), ((1,), (5, 1, 3)), ((4, 5, 6), (4, 1, 6)), ((3, 1), (1, 4)),
         ((), (3,)), ((2, 3, 33), (3, 1)), ((129,), (129,)), ((33, 127), ()), ((5, 3), (5, 3)), ((1, 1), (1,)),
         ((2, 3, 4100), (2, 1, 4100))]


@pytest.mark.parametrize("sa,sb", PAIRS)
def test_add_mul_bit_exact_with_numpy(isa, gen, sa, sb):
    """One IEEE operation per element: results equal NumPy's float32 ones bit for bit."""
    a, b = np.asarray(rand(sa, gen=gen)), np.asarray(rand(sb, gen=gen))
    for fa in (lambda t: t, np.asfortranarray):
        for fb in (lambda t: t, lambda t: t[..., ::-1] if t.ndim else t):
            x, y = fa(a), fb(b)
            np.testing.assert_array_equal(fastnn.add(x, y), np.add(x, y))
            np.testing.assert_array_equal(fastnn.mul(x, y), np.multiply(x, y))
            np.testing.assert_array_equal(fastnn.add(y, x), np.add(y, x))


@pytest.mark.parametrize("sa,sb", PAIRS)
def test_add_mul_backward(isa, gen, sa, sb):
    a, b = np.asarray(rand(sa, gen=gen)), np.asarray(rand(sb, gen=gen))
    shape = np.broadcast_shapes(sa, sb)
    g = np.asarray(rand(shape, gen=gen))
    for got, want in zip(fastnn.add_backward(g, a, b), rr.add_backward(g, a, b)):
        assert_close(got, want, k=int(np.prod(shape)) or 1)
        assert got.shape == want.shape
    for got, want in zip(fastnn.mul_backward(g, a, b), rr.mul_backward(g, a, b)):
        assert_close(got, want, k=int(np.prod(shape)) or 1)


def test_backward_with_shapes_and_aliasing(isa, gen):
    g = rand((4, 5), gen=gen)
    ga, gb = fastnn.add_backward(g, (4, 5), (5,))
    assert ga is g  # identity gradient: grad_out itself
    assert_close(gb, g.astype(np.float64).sum(0), k=4)
    a, b = rand((4, 5), gen=gen), rand((4, 5), gen=gen)
    ga, gb = fastnn.mul_backward(g, a, b)  # fused one-pass path
    np.testing.assert_array_equal(ga, g * b)
    np.testing.assert_array_equal(gb, g * a)


def test_scalars_and_zero_dim(isa, gen):
    x = rand((3, 4), gen=gen)
    np.testing.assert_array_equal(fastnn.add(x, 2.0), x + np.float32(2.0))
    np.testing.assert_array_equal(fastnn.mul(3, x), np.float32(3) * x)
    assert fastnn.add(np.float32(1.5), np.float32(2.0)).shape == ()


@pytest.mark.parametrize("layout", ["contiguous", "fortran", "strided", "negative"])
def test_out_layouts_and_in_place(isa, gen, layout):
    a0, b0 = rand((37, 45), gen=gen), rand((45,), gen=gen)
    a = dict(layouts(a0))[layout]
    out = empty_poisoned((37, 45))
    assert fastnn.add(a, b0, out=out) is out
    np.testing.assert_array_equal(out, a0 + b0)
    big = empty_poisoned((37, 90))
    fastnn.mul(a, b0, out=big[:, ::2])  # a strided out is written through its strides
    np.testing.assert_array_equal(big[:, ::2], a0 * b0)
    assert np.isnan(big[:, 1::2]).all()
    c = a0.copy()
    fastnn.add(c, b0, out=c)  # exactly in place
    np.testing.assert_array_equal(c, a0 + b0)
    d = a0.copy()
    fastnn.add(d[1:], d[:-1], out=d[:-1])  # overlapping shifted views: through a temporary
    np.testing.assert_array_equal(d[:-1], a0[1:] + a0[:-1])


def test_large_threaded_streaming(isa, gen):
    a, b = rand((1 << 21) + 3, gen=gen), rand((1 << 21) + 3, gen=gen)  # > streaming threshold, odd tail
    np.testing.assert_array_equal(fastnn.add(a, b), a + b)
    np.testing.assert_array_equal(fastnn.mul(a[1:], b[:-1]), a[1:] * b[:-1])  # misaligned for streaming
    ga, gb = fastnn.mul_backward(a[1:], b[:-1], a[:-1])
    np.testing.assert_array_equal(ga, a[1:] * a[:-1])
    np.testing.assert_array_equal(gb, a[1:] * b[:-1])


def test_nan_inf_propagate(isa, gen):
    a = rand((5, 9), gen=gen)
    a[1, 2], a[3, 4], a[0, 0] = np.nan, np.inf, -np.inf
    b = rand(9, gen=gen)
    b[4] = 0.0
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(fastnn.mul(a, b), a * b)  # inf * 0 = NaN, as NumPy
    np.testing.assert_array_equal(fastnn.add(a, b), a + b)


@pytest.mark.parametrize("shape,axis", [((4, 3, 5, 7), 1), ((4, 3, 5, 7), -1), ((33, 129), -1), ((2, 130, 1, 1), 1),
                                        ((7,), 0), ((5, 3), 0)])
def test_bias_add(isa, gen, shape, axis):
    x = rand(shape, gen=gen)
    c = shape[axis]
    bias = rand(c, gen=gen)
    bshape = [1] * len(shape)
    bshape[axis] = c
    np.testing.assert_array_equal(fastnn.bias_add(x, bias, axis), x + bias.reshape(bshape))
    g = rand(shape, gen=gen)
    gx, gb = fastnn.bias_add_backward(g, axis)
    assert gx is g
    axes = tuple(d for d in range(len(shape)) if d != axis % len(shape))
    assert_close(gb, rr.sum(g, axes), k=g.size // c)
    y = x.copy()
    fastnn.bias_add(y, bias, axis, out=y)
    np.testing.assert_array_equal(y, x + bias.reshape(bshape))


def test_mul_grads_match_finite_differences(isa, gen):
    a, b = rand((3, 4), gen=gen), rand((4,), gen=gen)
    g = rand((3, 4), gen=gen)
    check_grads(lambda a_, b_: rr.mul(a_, b_), fastnn.mul_backward(g, a, b), g, [a, b], [(0, 0), (1, 1)], k=3)
    check_grads(lambda a_, b_: rr.add(a_, b_), fastnn.add_backward(g, a, b), g, [a, b], [(0, 0), (1, 1)], k=3)


def test_elementwise_errors():
    x = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="add: shapes \\(3, 4\\) and \\(3,\\) do not broadcast"):
        fastnn.add(x, np.ones(3, np.float32))
    with pytest.raises(TypeError, match="mul: b must be float32, got float64"):
        fastnn.mul(x, np.ones(4))
    with pytest.raises(ValueError, match="add: out must have shape \\(3, 4\\)"):
        fastnn.add(x, x, out=np.ones((4, 3), np.float32))
    with pytest.raises(ValueError, match="bias_add: bias must have shape \\(3,\\)"):
        fastnn.bias_add(x, np.ones(4, np.float32), axis=0)
    with pytest.raises(ValueError, match="bias_add: axis 2 is out of range"):
        fastnn.bias_add(x, np.ones(4, np.float32), axis=2)
    with pytest.raises(ValueError, match="add_backward: grad_out must have the broadcast shape \\(3, 4\\)"):
        fastnn.add_backward(np.ones((4, 4), np.float32), x, x)
    C = fastnn._C
    with pytest.raises(ValueError, match="add: b must be broadcast to out's shape"):
        C.add(x, np.ones(4, np.float32), x.copy())
    zero_strided = np.lib.stride_tricks.as_strided(np.ones(4, np.float32), (3, 4), (0, 4))
    with pytest.raises(ValueError, match="mul: out must not have zero strides"):
        C.mul(x, x, zero_strided)
    with pytest.raises(ValueError, match="mul_backward: grad_b must be contiguous"):
        C.mul_backward(x, x, x, x.copy(), np.ones((4, 3), np.float32).T)
