"""Activations, softmax and linear vs PyTorch float64 autograd."""
import math

import numpy as np
import pytest

from fastnn.reference import activation as ract
from fastnn.reference import linear as rlin
from fastnn.reference import softmax as rsm

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL, ATOL = 1e-10, 1e-12


def T(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def close(ours, theirs, rtol=RTOL, atol=ATOL):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    assert np.asarray(ours).dtype == np.float64
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.standard_normal(300) * 3, rng.uniform(-40, 40, 100),
                        [0.0, -0.0, 1e-8, -1e-8, 5.0, -5.0, 19.9, 20.1, -30.0, 30.0]])
    return x.reshape(41, 10), rng.standard_normal((41, 10))


ACTS = [
    ("relu", (), F.relu),
    ("leaky_relu", (), F.leaky_relu),
    ("leaky_relu", (0.2,), lambda t: F.leaky_relu(t, 0.2)),
    ("gelu", (), F.gelu),
    ("gelu", ("tanh",), lambda t: F.gelu(t, approximate="tanh")),
    ("silu", (), F.silu),
    ("sigmoid", (), torch.sigmoid),
    ("tanh", (), torch.tanh),
    ("softplus", (), F.softplus),
    ("softplus", (2.0, 5.0), lambda t: F.softplus(t, 2.0, 5.0)),
]


@pytest.mark.parametrize("name,args,tfn", ACTS)
def test_activation(name, args, tfn):
    x, g = _inputs()
    xt = T(x, True)
    yt = tfn(xt)
    yt.backward(T(g))
    fwd, bwd = getattr(ract, name), getattr(ract, name + "_backward")
    close(fwd(x, *args), yt)
    close(bwd(g, x, *args), xt.grad)


def test_activation_registry():
    x, g = _inputs(1)
    for name, (fwd, bwd) in ract.ACTIVATIONS.items():
        assert fwd(x).shape == x.shape and bwd(g, x).shape == x.shape, name
    close(ract.ACTIVATIONS["gelu_tanh"][0](x), F.gelu(T(x), approximate="tanh"))


def test_erf_matches_math():
    x = np.linspace(-9, 9, 2001)
    close(ract.erf(x), np.array([math.erf(v) for v in x]), rtol=1e-14, atol=1e-16)
    close(ract.erfc(x), np.array([math.erfc(v) for v in x]), rtol=1e-13, atol=0)


@pytest.mark.parametrize("shape,axis", [((7, 13), -1), ((3, 5, 4), 1), ((1,), 0), ((6, 1), -1), ((4, 9), 0)])
def test_softmax(shape, axis):
    rng = np.random.default_rng(len(shape) * 10 + axis)
    x = rng.standard_normal(shape) * 5 + 800.0  # large offset: must be max-subtracted
    g = rng.standard_normal(shape)
    for ours_f, ours_b, tf in [(rsm.softmax, rsm.softmax_backward, torch.softmax),
                               (rsm.log_softmax, rsm.log_softmax_backward, torch.log_softmax)]:
        xt = T(x, True)
        yt = tf(xt, axis)
        yt.backward(T(g))
        close(ours_f(x, axis), yt)
        close(ours_b(g, x, axis), xt.grad)


@pytest.mark.parametrize("xshape", [(3, 7), (2, 3, 7), (7,), (1, 7)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("act", [None, "relu", "gelu", "gelu_tanh", "sigmoid", "tanh", "silu"])
def test_linear(xshape, bias, act):
    rng = np.random.default_rng(len(xshape))
    x, w = rng.standard_normal(xshape), rng.standard_normal((13, 7))
    b = rng.standard_normal(13) if bias else None
    xt, wt = T(x, True), T(w, True)
    bt = T(b, True) if bias else None
    tact = {None: lambda z: z, "relu": F.relu, "gelu": F.gelu, "gelu_tanh": lambda z: F.gelu(z, approximate="tanh"),
            "sigmoid": torch.sigmoid, "tanh": torch.tanh, "silu": F.silu}[act]
    yt = tact(F.linear(xt, wt, bt))
    g = rng.standard_normal(tuple(yt.shape))
    yt.backward(T(g))
    close(rlin.linear(x, w, b, act), yt)
    gx, gw, gb = rlin.linear_backward(g, x, w, b, act)
    close(gx, xt.grad)
    close(gw, wt.grad)
    if bias:
        close(gb, bt.grad)
    else:
        assert gb is None
