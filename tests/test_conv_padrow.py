"""The padded-row convolution path (csrc/cpu/conv/padrow.h: stride 1, groups 1, a batch of at least
two images per thread, C·R·S >= 32): forward with fused bias/activation, the data gradient (the
flipped-kernel conv of grad_out) and stride-1 conv_transpose2d, against the float64 oracles on
every ISA path, odd sizes, asymmetric padding, dilation, non-finite inputs, thread counts, and
identical to the other paths' results up to rounding (FASTNN_CONV_PADROW=0 switches it off)."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn.reference import conv as rconv
from fastnn.testing import assert_close, empty_poisoned, rand

# (N, C, H, W, K, R, S, padding, dilation, act)
CONFIGS = [
    (4, 5, 13, 11, 7, 3, 3, 1, 1, None),             # odd everything, one M panel + edge rows
    (5, 16, 14, 14, 32, 3, 3, 1, 1, "relu"),         # the train-bench CNN's 14x14 layer, odd batch
    (4, 4, 9, 17, 13, 3, 3, 0, 1, "silu"),           # no padding
    (4, 7, 12, 10, 6, 3, 5, (2, 1), 1, None),        # padding larger on one axis, 3x5 kernel
    (4, 6, 11, 13, 9, 4, 2, "same", (2, 3), "gelu"), # odd 'same' totals, dilated: asymmetric pads
    (6, 3, 16, 15, 33, 5, 5, 2, 1, "tanh"),          # 33 outputs: six panels and a partial one
    (4, 33, 7, 7, 8, 3, 3, 1, 2, None),              # dilation 2 on a 7x7 image
    (4, 2, 6, 40, 5, 1, 17, (0, 8), 1, None),        # a wide kernel row
]


def _check(gen, N, C, H, W, K, R, S, padding, dilation, act, bias=True):
    x = rand((N, C, H, W), gen=gen)
    w = rand((K, C, R, S), gen=gen)
    b = rand((K,), gen=gen) if bias else None
    want = rconv.conv2d(x, w, b, 1, padding, dilation, 1, act)
    out = empty_poisoned(want.shape)
    got = fastnn.conv2d(x, w, b, 1, padding, dilation, 1, act, out=out)
    assert got is out
    assert_close(got, want, k=C * R * S, name="y")
    g = rand(want.shape, gen=gen)
    rgx, rgw, rgb = rconv.conv2d_backward(g, x, w, b, 1, padding, dilation, 1, act)
    gx, gw, gb = fastnn.conv2d_backward(g, x, w, b, 1, padding, dilation, 1, act)
    npix = N * want.shape[2] * want.shape[3]
    assert_close(gx, rgx, k=K * R * S, name="grad_x")
    assert_close(gw, rgw, k=npix, name="grad_weight")
    if bias:
        assert_close(gb, rgb, k=npix, name="grad_bias")
    return got, gx


@pytest.mark.parametrize("cfg", CONFIGS, ids=[str(i) for i in range(len(CONFIGS))])
def test_padrow_conv_matches_reference(isa, gen, cfg):
    _check(gen, *cfg)


@pytest.mark.parametrize("cfg", CONFIGS[:3], ids=[str(i) for i in range(3)])
def test_padrow_agrees_with_the_other_paths(isa, gen, cfg, monkeypatch):
    y1, gx1 = _check(np.random.default_rng(7), *cfg, bias=False)
    monkeypatch.setenv("FASTNN_CONV_PADROW", "0")
    y0, gx0 = _check(np.random.default_rng(7), *cfg, bias=False)
    N, C, H, W, K, R, S = cfg[:7]
    assert_close(y1, y0.astype(np.float64), k=C * R * S, name="y")
    assert_close(gx1, gx0.astype(np.float64), k=K * R * S, name="grad_x")


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_padrow_thread_counts(isa, gen, threads):
    prev = fastnn.get_num_threads()
    fastnn.set_num_threads(threads)
    try:
        _check(gen, 7, 8, 10, 9, 11, 3, 3, 1, 1, "relu")  # 7 images: uneven shares
    finally:
        fastnn.set_num_threads(prev)


def test_padrow_small_integers_bit_exact(isa, gen):
    """Integer inputs: every product and partial sum is exact in float32, so the result must be too."""
    x = gen.integers(-3, 4, (4, 8, 11, 12)).astype(np.float32)
    w = gen.integers(-3, 4, (10, 8, 3, 3)).astype(np.float32)
    b = gen.integers(-3, 4, (10,)).astype(np.float32)
    np.testing.assert_array_equal(fastnn.conv2d(x, w, b, 1, 1), rconv.conv2d(x, w, b, 1, 1).astype(np.float32))
    g = gen.integers(-3, 4, (4, 10, 11, 12)).astype(np.float32)
    gx = fastnn.conv2d_backward(g, x, w, b, 1, 1)[0]
    np.testing.assert_array_equal(gx, rconv.conv2d_backward(g, x, w, b, 1, 1)[0].astype(np.float32))


def test_padrow_nonfinite_inputs(isa, gen):
    """NaN/Inf reach exactly the outputs whose window holds them (the dropped padding columns must
    not leak into the next row)."""
    x, w = rand((4, 6, 9, 10), gen=gen), rand((8, 6, 3, 3), gen=gen)
    x[0, 2, 4, 0] = np.nan    # left edge: the previous row's dropped columns read it
    x[1, 5, 8, 9] = np.inf    # bottom-right corner
    x[3, 0, 0, 9] = -np.inf   # top-right corner
    with np.errstate(invalid="ignore"):
        want = rconv.conv2d(x, w, None, 1, 1)
    got = fastnn.conv2d(x, w, None, 1, 1)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    fin = np.isfinite(want)
    assert_close(got[fin], want[fin], k=54)


@pytest.mark.parametrize("opad, dilation", [(0, 1), (0, 2), (1, 2)])
def test_padrow_conv_transpose_stride1(isa, gen, opad, dilation):
    """conv_transpose2d with stride 1 runs the data-gradient engine; output_padding rows (allowed
    with dilation > 1) make the output larger than the path computes, which must then fall back."""
    x, w, b = rand((4, 12, 9, 8), gen=gen), rand((12, 5, 3, 3), gen=gen), rand((5,), gen=gen)
    want = rconv.conv_transpose2d(x, w, b, 1, 1, opad, 1, dilation)
    got = fastnn.conv_transpose2d(x, w, b, 1, 1, opad, 1, dilation)
    assert_close(got, want, k=12 * 9, name="y")
