"""max/avg/adaptive pooling oracles vs PyTorch float64."""
import numpy as np
import pytest

from fastnn.reference import pool as rpool

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL, ATOL = 1e-10, 1e-12


def T(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def close(ours, theirs):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


MAX_CASES = [
    ((2, 3, 7, 9), dict(kernel_size=2)),
    ((1, 1, 1, 1), dict(kernel_size=1)),
    ((2, 2, 13, 11), dict(kernel_size=3, stride=2, padding=1)),
    ((2, 2, 13, 11), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 3, 8, 8), dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 1), ceil_mode=True)),
    ((2, 2, 11, 12), dict(kernel_size=3, stride=2, padding=1, dilation=2)),
    ((2, 2, 10, 9), dict(kernel_size=2, stride=3, dilation=(2, 3), ceil_mode=True)),
    ((1, 2, 5, 5), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True)),
    ((1, 2, 5, 5), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)),  # ceil window dropped
    ((1, 2, 6, 7), dict(kernel_size=3, stride=1, padding=1)),  # overlapping windows
]


@pytest.mark.parametrize("xs,kw", MAX_CASES)
def test_max_pool2d(xs, kw):
    rng = np.random.default_rng(sum(xs))
    x = rng.standard_normal(xs)
    xt = T(x, True)
    yt, it = F.max_pool2d(xt, return_indices=True, **kw)
    g = rng.standard_normal(tuple(yt.shape))
    yt.backward(T(g))
    y, idx = rpool.max_pool2d(x, return_indices=True, **kw)
    close(y, yt)
    np.testing.assert_array_equal(idx, it.numpy())
    close(rpool.max_pool2d_backward(g, x, idx, **kw), xt.grad)
    close(rpool.max_pool2d_backward(g, x, None, **kw), xt.grad)  # recomputed indices


def test_max_pool2d_ties_and_nan():
    # ties pick the first max in the window; NaN wins like torch's CPU kernel
    x = np.array([[[[1.0, 1.0, 0.0], [1.0, 1.0, 2.0], [2.0, np.nan, 0.0]]]])
    yt, it = F.max_pool2d(T(x), 2, stride=1, return_indices=True)
    y, idx = rpool.max_pool2d(x, 2, stride=1, return_indices=True)
    np.testing.assert_array_equal(idx, it.numpy())
    np.testing.assert_array_equal(y, yt.numpy())


AVG_CASES = [
    ((2, 3, 7, 9), dict(kernel_size=2)),
    ((1, 1, 1, 1), dict(kernel_size=1)),
    ((2, 2, 13, 11), dict(kernel_size=3, stride=2, padding=1)),
    ((2, 2, 13, 11), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ((2, 2, 13, 11), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((2, 2, 12, 10), dict(kernel_size=(4, 3), stride=(3, 2), padding=(2, 1), ceil_mode=True,
                          count_include_pad=False)),
    ((1, 2, 5, 5), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True)),
    ((1, 2, 5, 5), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ((1, 2, 7, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, divisor_override=5)),
    ((2, 1, 7, 7), dict(kernel_size=3, stride=1, padding=1, count_include_pad=False)),
]


@pytest.mark.parametrize("xs,kw", AVG_CASES)
def test_avg_pool2d(xs, kw):
    rng = np.random.default_rng(sum(xs) + 1)
    x = rng.standard_normal(xs)
    xt = T(x, True)
    yt = F.avg_pool2d(xt, **kw)
    g = rng.standard_normal(tuple(yt.shape))
    yt.backward(T(g))
    close(rpool.avg_pool2d(x, **kw), yt)
    close(rpool.avg_pool2d_backward(g, x, **kw), xt.grad)


@pytest.mark.parametrize("xs,out", [
    ((2, 3, 7, 9), (3, 4)), ((1, 2, 13, 13), 4), ((2, 2, 5, 7), (5, 7)), ((1, 1, 3, 2), (7, 5)),
    ((2, 2, 10, 11), (None, 3)), ((1, 3, 7, 7), 1),
])
def test_adaptive_avg_pool2d(xs, out):
    rng = np.random.default_rng(sum(xs) + 2)
    x = rng.standard_normal(xs)
    xt = T(x, True)
    yt = F.adaptive_avg_pool2d(xt, out)
    g = rng.standard_normal(tuple(yt.shape))
    yt.backward(T(g))
    close(rpool.adaptive_avg_pool2d(x, out), yt)
    close(rpool.adaptive_avg_pool2d_backward(g, x, out), xt.grad)
