"""Pooling forward and backward: parity with the float64 oracles on every ISA path, PyTorch's
ceil_mode, divisor, NaN and tie rules, unbatched inputs, out=, bad input."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn.reference import pool as rpool
from fastnn.testing import assert_close, empty_poisoned, rand, randint

# (N, C, H, W, kernel, stride, padding, dilation, ceil_mode)
MAX_CONFIGS = [
    (1, 1, 1, 1, 1, None, 0, 1, False),
    (2, 3, 7, 13, 2, None, 0, 1, False),
    (2, 3, 7, 13, 2, None, 0, 1, True),
    (1, 4, 13, 11, 3, 2, 1, 1, False),           # ResNet stem pool
    (1, 4, 13, 11, 3, 2, 1, 1, True),
    (2, 2, 17, 9, (3, 2), (2, 1), (1, 0), (2, 3), False),
    (1, 5, 10, 33, 4, 3, 2, 1, True),
    (1, 2, 6, 6, 3, 1, 1, 2, True),
    (3, 1, 129, 5, (1, 5), (1, 2), (0, 2), 1, False),
    (1, 3, 9, 40, (3, 3), (1, 1), (1, 1), (1, 1), False),
]


@pytest.mark.parametrize("cfg", MAX_CONFIGS, ids=[str(i) for i in range(len(MAX_CONFIGS))])
def test_max_pool2d_matches_reference(isa, gen, cfg):
    N, C, H, W, k, s, p, d, ceil = cfg
    x = rand((N, C, H, W), gen=gen)
    want, want_idx = rpool.max_pool2d(x, k, s, p, d, ceil, return_indices=True)
    out = empty_poisoned(want.shape)
    y, idx = fastnn.max_pool2d(x, k, s, p, d, ceil, return_indices=True, out=out)
    assert y is out and idx.dtype == np.int64
    np.testing.assert_array_equal(y, want)
    np.testing.assert_array_equal(idx, want_idx)
    g = rand(want.shape, gen=gen)
    rgx = rpool.max_pool2d_backward(g, x, want_idx)
    assert_close(fastnn.max_pool2d_backward(g, x, idx, k, s, p, d, ceil), rgx, k=int(np.prod(np.atleast_1d(k))))
    assert_close(fastnn.max_pool2d_backward(g, x, None, k, s, p, d, ceil), rgx, k=int(np.prod(np.atleast_1d(k))))


def test_max_pool2d_ties_nan_and_inf(isa, gen):
    x = randint((2, 3, 12, 13), gen=gen, low=-1, high=2)  # many ties
    x[0, 0, 3, 4] = np.nan
    x[0, 0, 3, 6] = np.nan  # two NaNs in one window: the last wins
    x[1, 2, 5, 5] = -np.inf
    x[1, 1, :4, :4] = -np.inf  # a window of only -inf: the first in-bounds element is the argmax
    for k, s, p, ceil in ((3, 1, 1, False), (3, 2, 1, True), (2, 2, 0, False), (4, 3, 2, True)):
        want, want_idx = rpool.max_pool2d(x, k, s, p, 1, ceil, return_indices=True)
        y, idx = fastnn.max_pool2d(x, k, s, p, 1, ceil, return_indices=True)
        np.testing.assert_array_equal(y, want)
        np.testing.assert_array_equal(idx, want_idx)


# (N, C, H, W, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
AVG_CONFIGS = [
    (1, 1, 1, 1, 1, None, 0, False, True, None),
    (2, 3, 7, 13, 2, None, 0, False, True, None),
    (1, 4, 13, 11, 3, 2, 1, False, True, None),
    (1, 4, 13, 11, 3, 2, 1, False, False, None),
    (1, 4, 13, 11, 3, 2, 1, True, True, None),
    (1, 4, 13, 11, 3, 2, 1, True, False, None),
    (2, 2, 17, 9, (5, 2), (3, 1), (2, 1), True, False, None),
    (2, 2, 10, 10, 3, 3, 1, True, True, 7),
    (1, 3, 33, 31, 7, 1, 3, False, False, None),
]


@pytest.mark.parametrize("cfg", AVG_CONFIGS, ids=[str(i) for i in range(len(AVG_CONFIGS))])
def test_avg_pool2d_matches_reference(isa, gen, cfg):
    N, C, H, W, k, s, p, ceil, cip, div = cfg
    x = rand((N, C, H, W), gen=gen)
    want = rpool.avg_pool2d(x, k, s, p, ceil, cip, div)
    out = empty_poisoned(want.shape)
    y = fastnn.avg_pool2d(x, k, s, p, ceil, cip, div, out=out)
    kk = int(np.prod(np.atleast_1d(k))) * (1 if np.ndim(k) else k)
    assert y is out
    assert_close(y, want, k=kk)
    g = rand(want.shape, gen=gen)
    assert_close(fastnn.avg_pool2d_backward(g, x, k, s, p, ceil, cip, div),
                 rpool.avg_pool2d_backward(g, x, k, s, p, ceil, cip, div), k=kk)


@pytest.mark.parametrize("H,W,out", [(7, 7, 1), (13, 11, (5, 3)), (5, 6, (9, 13)), (8, 9, (None, 4)), (1, 1, 3),
                                     (56, 56, 7)])
def test_adaptive_avg_pool2d_matches_reference(isa, gen, H, W, out):
    x = rand((2, 3, H, W), gen=gen)
    want = rpool.adaptive_avg_pool2d(x, out)
    y = fastnn.adaptive_avg_pool2d(x, out)
    assert_close(y, want, k=H * W)
    g = rand(want.shape, gen=gen)
    assert_close(fastnn.adaptive_avg_pool2d_backward(g, x, out), rpool.adaptive_avg_pool2d_backward(g, x, out),
                 k=H * W)


def test_pool_unbatched_and_views(isa, gen):
    x4 = rand((1, 3, 9, 10), gen=gen)
    x = x4[0].transpose(0, 2, 1).copy().transpose(0, 2, 1)  # (C, H, W), non-contiguous
    y, idx = fastnn.max_pool2d(x, 3, 2, 1, return_indices=True)
    want, widx = rpool.max_pool2d(x4, 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(y, want[0])
    np.testing.assert_array_equal(idx, widx[0])
    g = rand(y.shape, gen=gen)
    assert_close(fastnn.max_pool2d_backward(g, x, idx, 3, 2, 1), rpool.max_pool2d_backward(g[None], x4, widx)[0])
    assert_close(fastnn.avg_pool2d(x[:, ::-1], 2), rpool.avg_pool2d(x4[:, :, ::-1], 2)[0], k=4)
    assert_close(fastnn.adaptive_avg_pool2d(x, 2), rpool.adaptive_avg_pool2d(x4, 2)[0], k=30)
    big = empty_poisoned((3, 4, 10))
    fastnn.avg_pool2d(x, 2, out=big[..., ::2])
    assert_close(big[..., ::2], rpool.avg_pool2d(x4, 2)[0], k=4)
    assert np.isnan(big[..., 1::2]).all()


def test_pool_threaded_many_planes(isa, gen):
    x = rand((4, 37, 15, 14), gen=gen)
    want, widx = rpool.max_pool2d(x, 3, 2, 1, return_indices=True)
    y, idx = fastnn.max_pool2d(x, 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(y, want)
    np.testing.assert_array_equal(idx, widx)
    assert_close(fastnn.avg_pool2d(x, 3, 2, 1), rpool.avg_pool2d(x, 3, 2, 1), k=9)


def test_pool_empty_batch(isa):
    x = np.zeros((0, 3, 8, 8), np.float32)
    assert fastnn.max_pool2d(x, 2).shape == (0, 3, 4, 4)
    assert fastnn.avg_pool2d(x, 2).shape == (0, 3, 4, 4)
    assert fastnn.adaptive_avg_pool2d(x, 3).shape == (0, 3, 3, 3)
    assert fastnn.max_pool2d_backward(np.zeros((0, 3, 4, 4), np.float32), x, None, 2).shape == x.shape


# ---- bad input ------------------------------------------------------------------------------

def f32(*shape):
    return np.ones(shape, np.float32)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: fastnn.max_pool2d(np.ones((1, 1, 4, 4)), 2), TypeError, "max_pool2d: x must be float32"),
    (lambda: fastnn.max_pool2d(f32(4, 4), 2), ValueError, "max_pool2d: x must have 3 or 4 dimensions"),
    (lambda: fastnn.max_pool2d(f32(1, 1, 4, 4), 0), ValueError, "kernel_size must be >= 1"),
    (lambda: fastnn.max_pool2d(f32(1, 1, 4, 4), 2, 0), ValueError, "stride must be >= 1"),
    (lambda: fastnn.max_pool2d(f32(1, 1, 4, 4), 2, 1, 2), ValueError, "padding must be at most half"),
    (lambda: fastnn.max_pool2d(f32(1, 1, 4, 4), 2, dilation=0), ValueError, "dilation must be >= 1"),
    (lambda: fastnn.max_pool2d(f32(1, 1, 2, 2), 5, padding=1), ValueError, "larger than the padded input"),
    (lambda: fastnn.max_pool2d(f32(1, 1, 4, 4), 2.5), TypeError, "kernel_size must be an int"),
    (lambda: fastnn.max_pool2d(f32(1, 1, 4, 4), (2, 2, 2)), ValueError, "kernel_size must be an int or 2 ints"),
    (lambda: fastnn.max_pool2d(f32(1, 1, 4, 4), 2, ceil_mode=1), TypeError, "ceil_mode must be a bool"),
    (lambda: fastnn.max_pool2d(f32(1, 1, 4, 4), 2, out=f32(1, 1, 3, 3)), ValueError, "out must have shape"),
    (lambda: fastnn.max_pool2d_backward(f32(1, 1, 3, 3), f32(1, 1, 4, 4), None, 2), ValueError,
     "grad_out must have the output's shape"),
    (lambda: fastnn.max_pool2d_backward(f32(1, 1, 2, 2), f32(1, 1, 4, 4), np.zeros((1, 1, 2, 2), np.int32), 2),
     TypeError, "indices must be int64"),
    (lambda: fastnn.max_pool2d_backward(f32(1, 1, 2, 2), f32(1, 1, 4, 4), np.full((1, 1, 2, 2), 99), 2),
     ValueError, "outside the input plane"),
    (lambda: fastnn.max_pool2d_backward(f32(1, 1, 2, 2), f32(1, 1, 4, 4)), ValueError, "kernel_size is required"),
    (lambda: fastnn.avg_pool2d(f32(1, 1, 4, 4), 2, divisor_override=0), ValueError, "divisor_override must be"),
    (lambda: fastnn.avg_pool2d_backward(np.ones((1, 1, 2, 2)), f32(1, 1, 4, 4), 2), TypeError,
     "grad_out must be float32"),
    (lambda: fastnn.adaptive_avg_pool2d(f32(1, 1, 4, 4), -1), ValueError, "output_size must be >= 0"),
    (lambda: fastnn.adaptive_avg_pool2d(f32(1, 1, 4, 4), "x"), TypeError, "output_size must be an int"),
    (lambda: fastnn.adaptive_avg_pool2d(f32(1, 1, 0, 4), 2), ValueError, "empty spatial dimension"),
])
def test_pool_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_pool_cpp_validates_too():
    from fastnn import _C

    with pytest.raises(ValueError, match="max_pool2d: out must have shape"):
        _C.max_pool2d(f32(1, 1, 4, 4), (2, 2), (2, 2), (0, 0), (1, 1), False, f32(1, 1, 3, 3), None)
    with pytest.raises(ValueError, match="padding must be >= 0 and at most half"):
        _C.avg_pool2d(f32(1, 1, 4, 4), (2, 2), (2, 2), (2, 2), False, True, 0, f32(1, 1, 4, 4))
    with pytest.raises(ValueError, match="must be C-contiguous"):
        _C.avg_pool2d(f32(1, 1, 4, 8)[..., ::2], (2, 2), (2, 2), (0, 0), False, True, 0, f32(1, 1, 2, 2))
    with pytest.raises(TypeError, match="indices must be int64"):
        _C.max_pool2d(f32(1, 1, 4, 4), (2, 2), (2, 2), (0, 0), (1, 1), False, f32(1, 1, 2, 2),
                      np.zeros((1, 1, 2, 2), np.int32))
