"""conv2d / conv_transpose2d / conv1d oracles vs PyTorch float64 autograd."""
import warnings

import numpy as np
import pytest

from fastnn.reference import conv as rconv

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL, ATOL = 1e-10, 1e-11


def T(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def close(ours, theirs):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


CONV2D_CASES = [
    # (x shape, w shape, kwargs)
    ((2, 3, 7, 9), (5, 3, 3, 3), dict()),
    ((1, 1, 1, 1), (1, 1, 1, 1), dict()),
    ((2, 4, 13, 7), (6, 4, 3, 5), dict(stride=2, padding=1)),
    ((3, 4, 11, 10), (4, 2, 3, 3), dict(stride=(2, 1), padding=(2, 0), dilation=2, groups=2)),
    ((2, 6, 9, 9), (6, 1, 3, 3), dict(padding=1, groups=6)),  # depthwise
    ((2, 4, 8, 7), (8, 2, 2, 4), dict(padding="same", groups=2)),  # even kernels: asym pad
    ((1, 3, 10, 9), (2, 3, 4, 3), dict(padding="same", dilation=(3, 2))),
    ((2, 3, 7, 7), (3, 3, 3, 3), dict(padding="valid", stride=3)),
    ((2, 2, 13, 13), (4, 2, 5, 5), dict(stride=3, padding=2, dilation=2)),
    ((1, 4, 6, 5), (2, 4, 6, 5), dict()),  # kernel == input: 1x1 output
]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("xs,ws,kw", CONV2D_CASES)
def test_conv2d(xs, ws, kw, bias):
    rng = np.random.default_rng(abs(hash((xs, ws))) % 2**32)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[0]) if bias else None
    xt, wt = T(x, True), T(w, True)
    bt = T(b, True) if bias else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about even kernels with 'same'
        yt = F.conv2d(xt, wt, bt, **kw)
    g = rng.standard_normal(tuple(yt.shape))
    yt.backward(T(g))
    close(rconv.conv2d(x, w, b, **kw), yt)
    gx, gw, gb = rconv.conv2d_backward(g, x, w, b, **kw)
    close(gx, xt.grad)
    close(gw, wt.grad)
    if bias:
        close(gb, bt.grad)
    else:
        assert gb is None


@pytest.mark.parametrize("act", ["relu", "gelu", "gelu_tanh", "sigmoid", "tanh", "silu"])
def test_conv2d_fused_activation(act):
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 3, 3)), rng.standard_normal(6)
    kw = dict(stride=2, padding=1, groups=2)
    xt, wt, bt = T(x, True), T(w, True), T(b, True)
    torch_act = {"relu": F.relu, "gelu": F.gelu, "gelu_tanh": lambda z: F.gelu(z, approximate="tanh"),
                 "sigmoid": torch.sigmoid, "tanh": torch.tanh, "silu": F.silu}[act]
    yt = torch_act(F.conv2d(xt, wt, bt, **kw))
    g = rng.standard_normal(tuple(yt.shape))
    yt.backward(T(g))
    close(rconv.conv2d(x, w, b, activation=act, **kw), yt)
    for ours, t in zip(rconv.conv2d_backward(g, x, w, b, activation=act, **kw), (xt, wt, bt)):
        close(ours, t.grad)


def test_same_padding_rejects_stride():
    with pytest.raises(ValueError):
        rconv.conv2d(np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3)), padding="same", stride=2)


CONVT_CASES = [
    ((2, 3, 5, 4), (3, 2, 3, 3), dict()),
    ((1, 1, 1, 1), (1, 1, 1, 1), dict()),
    ((2, 4, 5, 7), (4, 3, 3, 2), dict(stride=2, padding=1, output_padding=1)),
    ((2, 4, 6, 5), (4, 2, 3, 3), dict(stride=(2, 3), padding=(1, 2), output_padding=(0, 2), groups=2)),
    ((1, 6, 4, 4), (6, 1, 3, 3), dict(stride=2, groups=6, dilation=2)),
    ((2, 2, 3, 5), (2, 3, 4, 4), dict(stride=1, padding=2, dilation=3, output_padding=2)),  # op >= stride
]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("xs,ws,kw", CONVT_CASES)
def test_conv_transpose2d(xs, ws, kw, bias):
    rng = np.random.default_rng(abs(hash((xs, ws, 1))) % 2**32)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[1] * kw.get("groups", 1)) if bias else None
    xt, wt = T(x, True), T(w, True)
    bt = T(b, True) if bias else None
    yt = F.conv_transpose2d(xt, wt, bt, **kw)
    g = rng.standard_normal(tuple(yt.shape))
    yt.backward(T(g))
    close(rconv.conv_transpose2d(x, w, b, **kw), yt)
    gx, gw, gb = rconv.conv_transpose2d_backward(g, x, w, b, **kw)
    close(gx, xt.grad)
    close(gw, wt.grad)
    if bias:
        close(gb, bt.grad)
    else:
        assert gb is None


@pytest.mark.parametrize("xs,ws,kw", [
    ((2, 3, 13), (5, 3, 3), dict(stride=2, padding=1)),
    ((1, 4, 7), (4, 2, 4), dict(padding="same", groups=2, dilation=2)),
    ((3, 2, 9), (2, 1, 3), dict(groups=2, padding="valid")),
    ((2, 1, 1), (3, 1, 1), dict()),
])
def test_conv1d(xs, ws, kw):
    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    xt, wt, bt = T(x, True), T(w, True), T(b, True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yt = F.conv1d(xt, wt, bt, **kw)
    g = rng.standard_normal(tuple(yt.shape))
    yt.backward(T(g))
    close(rconv.conv1d(x, w, b, **kw), yt)
    for ours, t in zip(rconv.conv1d_backward(g, x, w, b, **kw), (xt, wt, bt)):
        close(ours, t.grad)


def test_conv_transpose1d():
    rng = np.random.default_rng(12)
    x, w, b = rng.standard_normal((2, 4, 7)), rng.standard_normal((4, 3, 3)), rng.standard_normal(6)
    kw = dict(stride=2, padding=1, output_padding=1, groups=2)
    xt, wt, bt = T(x, True), T(w, True), T(b, True)
    yt = F.conv_transpose1d(xt, wt, bt, **kw)
    g = rng.standard_normal(tuple(yt.shape))
    yt.backward(T(g))
    close(rconv.conv_transpose1d(x, w, b, **kw), yt)
    for ours, t in zip(rconv.conv_transpose1d_backward(g, x, w, b, **kw), (xt, wt, bt)):
        close(ours, t.grad)


def test_conv2d_resnet_shape_fast():
    """The oracle has to be usable on real layer shapes (8x64x56x56, 3x3)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 64, 56, 56)).astype(np.float32)
    w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
    y = rconv.conv2d(x, w, padding=1)
    assert y.shape == (8, 64, 56, 56) and y.dtype == np.float64
    yt = F.conv2d(T(x[:1]), T(w), padding=1)  # spot-check one image
    close(y[:1], yt)
