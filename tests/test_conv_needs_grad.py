"""conv backward with needs_input_grad: only the wanted gradients are computed (the others are None),
the wanted ones equal the full backward's and the float64 reference's, on every ISA path; bad
masks are refused naming the argument; autograd asks for no grad_x when the input needs none."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import fastnn
from fastnn import ops
from fastnn.reference import conv as rconv
from fastnn.testing import assert_close, rand

MASKS = list(itertools.product((False, True), repeat=3))

# (N, C, H, W, K, R, S, stride, padding, dilation, groups, activation)
CONFIGS = [
    (2, 1, 13, 7, 5, 3, 3, 1, 1, 1, 1, None),          # stem: one input channel
    (3, 7, 9, 11, 13, 3, 3, 1, 1, 1, 1, "relu"),
    (1, 6, 17, 15, 9, 5, 3, (2, 3), (2, 1), (2, 1), 3, None),
    (2, 8, 11, 9, 16, 3, 3, 2, 1, 1, 8, "gelu"),       # depthwise, strided
    (2, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, None),       # Winograd-sized
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "x".join(map(str, c[:7])))
@pytest.mark.parametrize("mask", MASKS, ids=lambda m: "".join("xwb"[i] if v else "-" for i, v in enumerate(m)))
def test_conv2d_backward_needs_input_grad(isa, gen, cfg, mask):
    N, C, H, W, K, R, S, stride, padding, dilation, groups, act = cfg
    x = rand((N, C, H, W), gen=gen)
    w = rand((K, C // groups, R, S), gen=gen)
    b = rand((K,), gen=gen)
    y = rconv.conv2d(x, w, b, stride, padding, dilation, groups, act)
    g = rand(y.shape, gen=gen)
    want = rconv.conv2d_backward(g, x, w, b, stride, padding, dilation, groups, act)
    got = fastnn.conv2d_backward(g, x, w, b, stride, padding, dilation, groups, act, needs_input_grad=mask)
    full = fastnn.conv2d_backward(g, x, w, b, stride, padding, dilation, groups, act)
    npix = N * y.shape[2] * y.shape[3]
    ks = ((K // groups) * R * S, npix, npix)
    for name, need, a, f, r, k in zip(("grad_x", "grad_weight", "grad_bias"), mask, got, full, want, ks):
        if not need:
            assert a is None, name
            continue
        assert a.dtype == np.float32 and a.shape == r.shape, name
        np.testing.assert_array_equal(a, f, err_msg=name)  # same kernels, same numbers
        assert_close(a, r, k=k, name=name)


def test_conv2d_backward_needs_input_grad_without_bias(isa, gen):
    x, w = rand((2, 3, 8, 9), gen=gen), rand((4, 3, 3, 3), gen=gen)
    g = rand((2, 4, 8, 9), gen=gen)
    gx, gw, gb = fastnn.conv2d_backward(g, x, w, None, 1, 1, needs_input_grad=(False, True, True))
    assert gx is None and gb is None
    assert_close(gw, rconv.conv2d_backward(g, x, w, None, 1, 1)[1], k=2 * 8 * 9, name="grad_weight")
    assert fastnn.conv2d_backward(g, x, w, None, 1, 1, needs_input_grad=[False, False, False]) == (None, None, None)


@pytest.mark.parametrize("mask", MASKS)
def test_conv1d_and_transpose_backward_needs_input_grad(isa, gen, mask):
    x, w, b = rand((2, 5, 19), gen=gen), rand((7, 5, 3), gen=gen), rand((7,), gen=gen)
    g = rand((2, 7, 10), gen=gen)
    want = rconv.conv1d_backward(g, x, w, b, 2, 1)
    got = fastnn.conv1d_backward(g, x, w, b, 2, 1, needs_input_grad=mask)
    for need, a, r, k in zip(mask, got, want, (21, 20, 20)):
        assert (a is None) == (not need)
        if need:
            assert_close(a, r, k=k)
    xt, wt, bt = rand((2, 6, 5, 7), gen=gen), rand((6, 4, 3, 3), gen=gen), rand((4,), gen=gen)
    yt = rconv.conv_transpose2d(xt, wt, bt, 2, 1, 1)
    gt = rand(yt.shape, gen=gen)
    want = rconv.conv_transpose2d_backward(gt, xt, wt, bt, 2, 1, 1)
    got = fastnn.conv_transpose2d_backward(gt, xt, wt, bt, 2, 1, 1, needs_input_grad=mask)
    for need, a, r, k in zip(mask, got, want, (36, 2 * 5 * 7, 2 * yt.shape[2] * yt.shape[3])):
        assert (a is None) == (not need)
        if need:
            assert_close(a, r, k=k)


@pytest.mark.parametrize("fn", ["conv2d_backward", "conv1d_backward", "conv_transpose2d_backward"])
@pytest.mark.parametrize("bad, exc, match", [
    ((True, True), ValueError, "needs_input_grad must have 3 entries"),
    ("xwb", TypeError, "needs_input_grad must be None or a tuple"),
    (True, TypeError, "needs_input_grad must be None or a tuple"),
    ((1, 0, 1), TypeError, "needs_input_grad must hold bools, got int"),
])
def test_needs_input_grad_bad_values_name_the_argument(fn, bad, exc, match):
    if fn == "conv1d_backward":
        args = (np.ones((1, 3, 3), np.float32), np.ones((1, 2, 5), np.float32), np.ones((3, 2, 3), np.float32))
    elif fn == "conv2d_backward":
        args = (np.ones((1, 3, 3, 3), np.float32), np.ones((1, 2, 5, 5), np.float32), np.ones((3, 2, 3, 3), np.float32))
    else:
        args = (np.ones((1, 3, 7, 7), np.float32), np.ones((1, 2, 5, 5), np.float32), np.ones((2, 3, 3, 3), np.float32))
    with pytest.raises(exc, match=f"{fn}: {match}"):
        getattr(fastnn, fn)(*args, needs_input_grad=bad)


def test_autograd_first_conv_computes_no_input_gradient(gen, monkeypatch):
    """The first layer's input is data: its backward must not ask the kernel for grad_x."""
    from fastnn import _C

    calls = []
    real = _C.conv2d_backward

    def spy(*args):
        calls.append(tuple(a is not None for a in args[-3:]))
        return real(*args)

    monkeypatch.setattr(ops.conv._C, "conv2d_backward", spy)
    fastnn.manual_seed(0)
    conv1 = fastnn.nn.Conv2d(1, 4, 3, padding=1)
    conv2 = fastnn.nn.Conv2d(4, 5, 3, padding=1, bias=False)
    x = fastnn.Tensor(rand((2, 1, 9, 7), gen=gen))
    conv2(conv1(x)).sum().backward()
    assert calls == [(True, True, False), (False, True, True)]  # conv2: grad_x, grad_w; conv1: grad_w, grad_b
    assert x.grad is None
    gw1 = conv1.weight.grad.numpy().copy()
    # with the input requiring grad, grad_x is computed and the weight gradient is unchanged
    calls.clear()
    conv1.zero_grad()
    conv2.zero_grad()
    xr = fastnn.Tensor(x.numpy(), requires_grad=True)
    conv2(conv1(xr)).sum().backward()
    assert calls == [(True, True, False), (True, True, True)]
    np.testing.assert_array_equal(conv1.weight.grad.numpy(), gw1)
    assert xr.grad is not None and xr.grad.shape == x.shape


def test_autograd_float64_route_drops_unwanted_gradients(gen):
    """The float64 oracle route (gradient checks) computes all three and returns only the wanted ones."""
    from fastnn.autograd import kernels as K

    x, w, b = rand((1, 2, 5, 5), gen=gen).astype(np.float64), rand((3, 2, 3, 3), gen=gen).astype(np.float64), None
    g = rand((1, 3, 5, 5), gen=gen).astype(np.float64)
    gx, gw, gb = K.conv2d_backward(g, x, w, b, 1, 1, needs_input_grad=(False, True, False))
    assert gx is None and gb is None and gw.dtype == np.float64
    np.testing.assert_allclose(gw, rconv.conv2d_backward(g, x, w, b, 1, 1)[1])
