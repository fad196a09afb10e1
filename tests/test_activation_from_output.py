"""sigmoid_backward / tanh_backward from the forward output (y=): against the float64 oracle on every
ISA path, odd sizes, layouts and poisoned outputs, in-place, streaming stores, NaN/Inf, float64
finite differences, the x-or-y argument rule, C++ validation, and the autograd layer's use of y."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fd_check import numgrad
from fastnn.reference import activation as ract
from fastnn.testing import assert_close, empty_poisoned, layouts, rand

# name -> (fastnn forward, fastnn backward, reference forward, reference backward)
OPS = {
    "sigmoid": (fastnn.sigmoid, fastnn.sigmoid_backward, ract.sigmoid, ract.sigmoid_backward),
    "tanh": (fastnn.tanh, fastnn.tanh_backward, ract.tanh, ract.tanh_backward),
}
NAMES = list(OPS)
SIZES = [1, 7, 13, 33, 127, 129, 1000, 70_001]


def outputs(name, x):
    """The float32 forward output a caller would have kept."""
    return OPS[name][0](x)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", SIZES)
def test_odd_sizes(isa, gen, name, n):
    x = rand((n,), gen=gen, low=-9, high=9)
    g = rand((n,), gen=gen)
    y = outputs(name, x)
    got = OPS[name][1](g, y=y)
    assert_close(got, OPS[name][3](g, y=y), name=f"{name}_backward(y=)")
    # the same derivative as the x form, up to the rounding of y itself: |d f'/dy| <= 2, so the
    # y form is off by at most ~2 ulp(y)·|g| absolute (relative accuracy is lost where f' -> 0)
    want_x = OPS[name][3](g, x)
    assert np.all(np.abs(got - want_x) <= 4e-6 * np.abs(want_x) + 3e-7 * np.abs(g)), name


@pytest.mark.parametrize("name", NAMES)
def test_layouts_and_poisoned_out(isa, gen, name):
    y0 = outputs(name, rand((37, 45), gen=gen, low=-4, high=4))
    g0 = rand((37, 45), gen=gen)
    gl = dict(layouts(g0))
    for lname, y in layouts(y0):
        want = OPS[name][3](gl["fortran" if lname == "contiguous" else lname], y=y)
        big = empty_poisoned((37, 90))
        res = OPS[name][1](gl["fortran" if lname == "contiguous" else lname], y=y, out=big[:, ::2])
        assert res.base is big or res is big[:, ::2] or np.shares_memory(res, big)
        assert_close(big[:, ::2], want, name=f"{name}_backward(y=) {lname}")
        assert np.isnan(big[:, 1::2]).all()


@pytest.mark.parametrize("name", NAMES)
def test_broadcast_and_short_rows(isa, gen, name):
    y = np.asfortranarray(outputs(name, rand((3000, 3), gen=gen, low=-4, high=4)))[:, ::-1]
    g = rand((3000, 3), gen=gen)
    assert_close(OPS[name][1](g, y=y), OPS[name][3](g, y=y), name="short rows")
    yb = np.broadcast_to(outputs(name, rand((1, 300), gen=gen)), (50, 300))
    gb = np.broadcast_to(rand((50, 1), gen=gen), (50, 300))
    assert_close(OPS[name][1](gb, y=yb), OPS[name][3](gb, y=yb), name="broadcast")


@pytest.mark.parametrize("name", NAMES)
def test_in_place(isa, gen, name):
    y = outputs(name, rand((129, 7), gen=gen, low=-5, high=5))
    g = rand((129, 7), gen=gen)
    want = OPS[name][3](g, y=y)
    assert OPS[name][1](g, y=y, out=g) is g
    assert_close(g, want)
    g = rand((129, 7), gen=gen)
    want = OPS[name][3](g, y=y)
    assert OPS[name][1](g, y=y, out=y) is y
    assert_close(y, want)
    # out overlapping y in another order goes through a temporary
    y = outputs(name, rand((64,), gen=gen))
    g = rand((64,), gen=gen)
    want = OPS[name][3](g, y=y[::-1])
    OPS[name][1](g, y=y[::-1], out=y)
    assert_close(y, want)


@pytest.mark.parametrize("name", NAMES)
def test_streaming_store_path(isa, gen, name):
    fastnn._C.set_stream_threshold(0)
    try:
        for offset in range(0, 17, 3):
            n = 1000 + offset
            y, g = outputs(name, rand((n,), gen=gen, low=-5, high=5)), rand((n,), gen=gen)
            buf = empty_poisoned((n + 16,))
            out = buf[offset:offset + n]
            OPS[name][1](g, y=y, out=out)
            assert_close(out, OPS[name][3](g, y=y))
            assert np.isnan(buf[:offset]).all() and np.isnan(buf[offset + n:]).all()
    finally:
        fastnn._C.set_stream_threshold(-1)


@pytest.mark.parametrize("name", NAMES)
def test_nan_inf_and_saturated_outputs(isa, name):
    """y at the ends of the range (derivative exactly 0), NaN, inf (out of range: as the formula)."""
    y = np.array([np.nan, 1.0, -1.0, 0.0, -0.0, 1e-30, 0.5, -0.5, np.inf, -np.inf, 0.25, 1e-45], np.float32)
    if name == "sigmoid":
        y[2] = 0.0  # sigmoid's range is [0, 1]
    g = np.full_like(y, 0.75)
    with np.errstate(all="ignore"):
        got, want = OPS[name][1](g, y=y), OPS[name][3](g, y=y)
    assert_close(got, want, name=f"{name}_backward(y=) specials")
    assert got[1] == 0.0 and (name == "sigmoid" or got[2] == 0.0)


@pytest.mark.parametrize("name", NAMES)
def test_backward_from_output_matches_float64_finite_differences(isa, gen, name):
    """Both the oracle's and fastnn's y forms against central differences of the float64 forward."""
    x = rand((3, 5), gen=gen, low=-3, high=3).astype(np.float64)
    G = rand((3, 5), gen=gen).astype(np.float64)
    f = OPS[name][2]
    num = numgrad(lambda a: float(np.sum(G * f(a))), [x], 0)
    np.testing.assert_allclose(OPS[name][3](G, y=f(x)), num, rtol=1e-7, atol=1e-9)  # float64 oracle, y form
    got = OPS[name][1](G.astype(np.float32), y=OPS[name][0](x.astype(np.float32)))
    np.testing.assert_allclose(got, num, rtol=2e-5, atol=2e-6)


# ---- argument rules and validation -----------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_exactly_one_of_x_and_y(name):
    b = OPS[name][1]
    x = np.ones(4, np.float32)
    with pytest.raises(TypeError, match=f"{name}_backward: pass exactly one of x .* got both"):
        b(x, x, y=x)
    with pytest.raises(TypeError, match=f"{name}_backward: pass exactly one of x .* got neither"):
        b(x)
    with pytest.raises(TypeError, match=f"{name}_backward: y must be float32"):
        b(x, y=np.ones(4))
    with pytest.raises(TypeError, match=f"{name}_backward: grad_out must be float32"):
        b(np.ones(4), y=x)
    with pytest.raises(ValueError, match=f"{name}_backward: grad_out must have the shape of y"):
        b(np.ones(5, np.float32), y=x)
    with pytest.raises(ValueError, match="out must have shape"):
        b(x, y=x, out=np.ones(5, np.float32))
    with pytest.raises(TypeError, match="exactly one"):
        OPS[name][3](x, x, y=x)  # the oracle has the same rule


def test_cpp_validates_too():
    C = fastnn._C
    y = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        C.activation_backward_from_output("gelu", y, y, y)
    with pytest.raises(ValueError, match="sigmoid_backward: grad_out must have shape"):
        C.activation_backward_from_output("sigmoid", np.ones(5, np.float32), y, y)
    with pytest.raises(TypeError, match="tanh_backward: y must be float32"):
        C.activation_backward_from_output("tanh", y, np.ones((2, 3)), y)
    with pytest.raises(ValueError, match="out must not have zero strides"):
        C.activation_backward_from_output("tanh", y, y,
                                          np.lib.stride_tricks.as_strided(np.ones(3, np.float32), (2, 3), (0, 4)))


def test_empty_and_0d(isa):
    e = np.zeros((0, 5), np.float32)
    assert fastnn.sigmoid_backward(e, y=e).shape == (0, 5)
    got = fastnn.tanh_backward(np.array(2.0, np.float32), y=np.array(0.5, np.float32))
    assert got.shape == () and got == np.float32(1.5)


# ---- the autograd layer keeps y and uses it ----------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_autograd_uses_the_output_form(gen, name, monkeypatch):
    from fastnn.autograd import kernels as K

    x = rand((17, 9), gen=gen, low=-4, high=4)
    g = rand((17, 9), gen=gen)
    calls = []
    real = K._F32[name + "_backward"]

    def spy(*args, **kwargs):
        calls.append(("y" in kwargs, len(args)))
        return real(*args, **kwargs)

    monkeypatch.setitem(K._F32, name + "_backward", spy)
    t = fastnn.Tensor(x, requires_grad=True)
    y = getattr(fastnn.nn.functional, name)(t)
    y.backward(fastnn.Tensor(g))
    assert calls == [(True, 1)]  # grad_out positional, y= keyword: no x
    np.testing.assert_array_equal(t.grad.data if hasattr(t.grad, "data") else t.grad,
                                  OPS[name][1](g, y=OPS[name][0](x)))
    assert_close(t.grad.data if hasattr(t.grad, "data") else t.grad, OPS[name][3](g, x))


@pytest.mark.parametrize("name", NAMES)
def test_autograd_float64_gradient_through_output_form(gen, name):
    """float64 (oracle route) through the y form, against central differences."""
    x = rand((4, 3), gen=gen, low=-3, high=3).astype(np.float64)
    G = rand((4, 3), gen=gen).astype(np.float64)
    t = fastnn.Tensor(x, requires_grad=True)
    getattr(fastnn.nn.functional, name)(t).backward(fastnn.Tensor(G))
    f = OPS[name][2]
    num = numgrad(lambda a: float(np.sum(G * f(a))), [x], 0)
    grad = t.grad.data if hasattr(t.grad, "data") else t.grad
    np.testing.assert_allclose(grad, num, rtol=1e-7, atol=1e-9)
