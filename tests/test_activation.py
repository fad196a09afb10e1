"""Activations: forward and backward against the float64 oracles on every ISA path; odd sizes,
layouts, in-place, NaN/Inf, streaming stores, float64 finite differences, bad input."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn.reference import activation as ract
from fastnn.testing import assert_close, empty_poisoned, layouts, rand

# name → (fastnn forward, fastnn backward, reference forward, reference backward, kwargs)
OPS = {
    "relu": (fastnn.relu, fastnn.relu_backward, ract.relu, ract.relu_backward, {}),
    "leaky_relu": (fastnn.leaky_relu, fastnn.leaky_relu_backward, ract.leaky_relu, ract.leaky_relu_backward,
                   {"negative_slope": 0.2}),
    "gelu": (fastnn.gelu, fastnn.gelu_backward, ract.gelu, ract.gelu_backward, {}),
    "gelu_tanh": (fastnn.gelu, fastnn.gelu_backward, ract.gelu, ract.gelu_backward, {"approximate": "tanh"}),
    "silu": (fastnn.silu, fastnn.silu_backward, ract.silu, ract.silu_backward, {}),
    "sigmoid": (fastnn.sigmoid, fastnn.sigmoid_backward, ract.sigmoid, ract.sigmoid_backward, {}),
    "tanh": (fastnn.tanh, fastnn.tanh_backward, ract.tanh, ract.tanh_backward, {}),
    "softplus": (fastnn.softplus, fastnn.softplus_backward, ract.softplus, ract.softplus_backward,
                 {"beta": 1.5, "threshold": 10.0}),
}
NAMES = list(OPS)
SIZES = [1, 7, 13, 33, 127, 129, 1000, 70_001]


def fwd(name, x, **kw):
    f, _, rf, _, p = OPS[name]
    return f(x, **p, **kw), rf(x, **p)


def bwd(name, g, x, **kw):
    _, b, _, rb, p = OPS[name]
    return b(g, x, **p, **kw), rb(g, x, **p)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", SIZES)
def test_forward_backward_odd_sizes(isa, gen, name, n):
    x = rand((n,), gen=gen, low=-9, high=9)
    g = rand((n,), gen=gen)
    got, want = fwd(name, x)
    assert_close(got, want, name=f"{name} forward")
    got, want = bwd(name, g, x)
    assert_close(got, want, name=f"{name} backward")


@pytest.mark.parametrize("name", NAMES)
def test_wide_range_and_tails(isa, gen, name):
    """Large magnitudes and the softplus threshold / sigmoid / gelu tails."""
    x = np.concatenate([np.linspace(-40, 40, 4001), np.geomspace(1e-6, 30, 500), -np.geomspace(1e-6, 30, 500)])
    x = x.astype(np.float32)
    g = rand(x.shape, gen=gen)
    got, want = fwd(name, x)
    assert_close(got, want, name=f"{name} forward")
    got, want = bwd(name, g, x)
    assert_close(got, want, name=f"{name} backward")


@pytest.mark.parametrize("name", NAMES)
def test_layouts_and_poisoned_out(isa, gen, name):
    x0 = rand((37, 45), gen=gen, low=-4, high=4)
    g0 = rand((37, 45), gen=gen)
    want_f = OPS[name][2](x0, **OPS[name][4])
    want_b = OPS[name][3](g0, x0, **OPS[name][4])
    gl = dict(layouts(g0))
    for lname, x in layouts(x0):
        out = empty_poisoned((37, 45))
        res, _ = fwd(name, x, out=out)
        assert res is out
        assert_close(out, want_f, name=f"{name} forward {lname}")
        big = empty_poisoned((37, 90))
        bwd(name, gl["fortran" if lname == "contiguous" else lname], x, out=big[:, ::2])
        assert_close(big[:, ::2], want_b, name=f"{name} backward {lname}")
        assert np.isnan(big[:, 1::2]).all()


@pytest.mark.parametrize("name", NAMES)
def test_short_rows_and_broadcast_views(isa, gen, name):
    """Views whose inner runs are short (gathered across rows) and zero-stride inputs."""
    x0 = rand((3000, 3), gen=gen, low=-4, high=4)
    x = np.asfortranarray(x0)[:, ::-1]
    got, want = fwd(name, x)
    assert_close(got, want, name=f"{name} short rows")
    row = rand((1, 300), gen=gen, low=-4, high=4)
    xb = np.broadcast_to(row, (50, 300))
    got, want = fwd(name, xb)
    assert_close(got, want, name=f"{name} broadcast")
    gb = np.broadcast_to(rand((50, 1), gen=gen), (50, 300))
    got, want = bwd(name, gb, xb)
    assert_close(got, want, name=f"{name} broadcast backward")


@pytest.mark.parametrize("name", NAMES)
def test_in_place(isa, gen, name):
    x = rand((129, 7), gen=gen, low=-5, high=5)
    want = OPS[name][2](x, **OPS[name][4])
    res, _ = fwd(name, x, out=x)
    assert res is x
    assert_close(x, want)
    # out overlapping x in another order goes through a temporary
    x = rand((64,), gen=gen, low=-5, high=5)
    want = OPS[name][2](x[::-1], **OPS[name][4])
    fwd(name, x[::-1], out=x)
    assert_close(x, want)


@pytest.mark.parametrize("name", NAMES)
def test_streaming_store_path(isa, gen, name):
    """The non-temporal-store path, forced on small arrays, with outputs at every misalignment."""
    fastnn._C.set_stream_threshold(0)
    try:
        for offset in range(0, 17, 3):
            n = 1000 + offset
            x = rand((n,), gen=gen, low=-5, high=5)
            buf = empty_poisoned((n + 16,))
            out = buf[offset:offset + n]
            fwd(name, x, out=out)
            assert_close(out, OPS[name][2](x, **OPS[name][4]))
            assert np.isnan(buf[:offset]).all() and np.isnan(buf[offset + n:]).all()
            g = rand((n,), gen=gen)
            bwd(name, g, x, out=out)
            assert_close(out, OPS[name][3](g, x, **OPS[name][4]))
    finally:
        fastnn._C.set_stream_threshold(-1)


@pytest.mark.parametrize("name", NAMES)
def test_nan_inf(isa, name):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 88.0, -88.0, 1e30, -1e30, 3.0], np.float32)
    with np.errstate(all="ignore"):
        got, want = fwd(name, x)
        assert_close(got, want, name=f"{name} forward")
        gotb, wantb = bwd(name, np.full_like(x, 0.5), x)
        assert_close(gotb, wantb, name=f"{name} backward")


def test_threads_do_not_change_results(gen):
    x = rand((300_001,), gen=gen, low=-5, high=5)
    n0 = fastnn.get_num_threads()
    try:
        fastnn.set_num_threads(1)
        a = fastnn.gelu(x)
        fastnn.set_num_threads(3)
        b = fastnn.gelu(x)
    finally:
        fastnn.set_num_threads(n0)
    np.testing.assert_array_equal(a, b)


def test_empty(isa):
    x = np.zeros((0, 5), np.float32)
    assert fastnn.gelu(x).shape == (0, 5)
    assert fastnn.gelu_backward(x, x).shape == (0, 5)


def test_0d(isa):
    got = fastnn.tanh(np.array(0.5, np.float32))
    assert got.shape == ()
    assert_close(got, np.tanh(np.float64(np.float32(0.5))))


def numgrad(f, x, h=1e-6):
    x = x.astype(np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        grad[i] = (f(xp) - f(xm)) / (2 * h)
    return grad


@pytest.mark.parametrize("name", NAMES)
def test_backward_matches_float64_finite_differences(isa, gen, name):
    """fastnn's float32 backward against central differences of the float64 forward."""
    x = rand((3, 5), gen=gen, low=-3, high=3)
    x[np.abs(x) < 1e-2] = 0.5  # keep relu/leaky_relu away from their kink
    G = rand((3, 5), gen=gen)
    f = OPS[name][2]
    p = OPS[name][4]
    num = numgrad(lambda z: float(np.sum(G * f(z, **p))), x)
    got = OPS[name][1](G, x, **p)
    np.testing.assert_allclose(got, num, rtol=2e-5, atol=2e-6)


# ---- bad input -----------------------------------------------------------------------------

def test_float64_rejected_with_hint():
    with pytest.raises(TypeError, match=r"gelu: x must be float32, got float64.*astype"):
        fastnn.gelu(np.ones(3))
    with pytest.raises(TypeError, match="silu_backward: grad_out must be float32"):
        fastnn.silu_backward(np.ones(3), np.ones(3, np.float32))


def test_bad_arguments():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="relu_backward: grad_out must have the shape of x"):
        fastnn.relu_backward(np.ones((3, 2), np.float32), x)
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        fastnn.gelu(x, approximate="erf")
    with pytest.raises(ValueError, match="leaky_relu: negative_slope must be finite"):
        fastnn.leaky_relu(x, negative_slope=float("nan"))
    with pytest.raises(ValueError, match="softplus: beta must be nonzero"):
        fastnn.softplus(x, beta=0.0)
    with pytest.raises(ValueError, match="out must have shape"):
        fastnn.relu(x, out=np.ones((3, 2), np.float32))
    with pytest.raises(TypeError, match="tanh: x: expected a NumPy"):
        fastnn.tanh([1.0, 2.0])


def test_cpp_validates_too():
    C = fastnn._C
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="relu: out must have shape"):
        C.activation("relu", x, np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        C.activation("swish", x, x)
    with pytest.raises(TypeError, match="tanh: x must be float32"):
        C.activation("tanh", np.ones((2, 3)), x)
    with pytest.raises(ValueError, match="out must not have zero strides"):
        C.activation("relu", x, np.lib.stride_tricks.as_strided(np.ones(3, np.float32), (2, 3), (0, 4)))
    with pytest.raises(ValueError, match="read-only"):
        ro = np.ones((2, 3), np.float32)
        ro.flags.writeable = False
        C.activation("relu", x, ro)
    with pytest.raises(ValueError, match="softplus: beta must be finite and nonzero"):
        C.activation("softplus", x, x, beta=0.0)
    with pytest.raises(ValueError, match="gelu_backward: grad_out must have shape"):
        C.activation_backward("gelu", np.ones(5, np.float32), x, x)


def test_accepts_dlpack_tensors(isa, gen):
    torch = pytest.importorskip("torch")
    x = rand((9, 5), gen=gen, low=-3, high=3)
    got = fastnn.silu(torch.from_numpy(x))
    assert isinstance(got, np.ndarray)
    assert_close(got, ract.silu(x))
    assert_close(fastnn.softmax(torch.from_numpy(x), 1), np.exp(x) / np.exp(x.astype(np.float64)).sum(1, keepdims=True),
                 k=5)
    t = torch.tensor([0, 1, 2, 3, 4, 0, 1, 2, 3])
    assert np.isclose(fastnn.cross_entropy(torch.from_numpy(x), t),
                      torch.nn.functional.cross_entropy(torch.from_numpy(x), t).item(), rtol=1e-6)
