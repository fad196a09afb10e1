"""conv2d / conv1d forward and backward: parity with the float64 oracles on every ISA path,
odd shapes, every padding/stride/dilation/groups feature, fused activations, layouts, edges."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn.reference import conv as rconv
from fastnn.testing import assert_close, empty_poisoned, layouts, rand, randint


def _pads(padding, R, S, dilation):
    d = (dilation, dilation) if isinstance(dilation, int) else dilation
    if padding == "same":
        th, tw = d[0] * (R - 1), d[1] * (S - 1)
        return th // 2, th - th // 2, tw // 2, tw - tw // 2
    if padding == "valid":
        return 0, 0, 0, 0
    p = (padding, padding) if isinstance(padding, int) else padding
    return p[0], p[0], p[1], p[1]


def check_conv2d(gen, N, C, H, W, K, R, S, stride=1, padding=0, dilation=1, groups=1, bias=True, act=None,
                 backward=True):
    x = rand((N, C, H, W), gen=gen)
    w = rand((K, C // groups, R, S), gen=gen)
    b = rand((K,), gen=gen) if bias else None
    want = rconv.conv2d(x, w, b, stride, padding, dilation, groups, act)
    out = empty_poisoned(want.shape)
    got = fastnn.conv2d(x, w, b, stride, padding, dilation, groups, act, out=out)
    assert got is out
    k = (C // groups) * R * S
    assert_close(got, want, k=k, name="y")
    if not backward:
        return
    g = rand(want.shape, gen=gen)
    rgx, rgw, rgb = rconv.conv2d_backward(g, x, w, b, stride, padding, dilation, groups, act)
    gx, gw, gb = fastnn.conv2d_backward(g, x, w, b, stride, padding, dilation, groups, act)
    npix = N * want.shape[2] * want.shape[3]
    assert_close(gx, rgx, k=(K // groups) * R * S, name="grad_x")
    assert_close(gw, rgw, k=npix, name="grad_weight")
    if bias:
        assert_close(gb, rgb, k=npix, name="grad_bias")
    else:
        assert gb is None


# (N, C, H, W, K, R, S, stride, padding, dilation, groups)
CONFIGS = [
    (1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1),
    (2, 3, 7, 13, 5, 3, 3, 1, 1, 1, 1),
    (1, 7, 13, 7, 13, 3, 2, (2, 1), (0, 2), (1, 2), 1),
    (3, 6, 17, 19, 9, 5, 3, (2, 3), (2, 1), (2, 1), 3),
    (2, 16, 33, 20, 33, 1, 1, 1, 0, 1, 1),
    (2, 8, 12, 12, 8, 3, 3, 1, 1, 1, 8),          # depthwise
    (2, 8, 11, 9, 16, 3, 3, 2, 1, 1, 8),          # depthwise, channel multiplier 2, strided
    (1, 12, 15, 14, 12, 5, 5, 1, 2, 2, 12),       # depthwise, dilated
    (1, 3, 40, 41, 16, 7, 7, 2, 3, 1, 1),         # stem-like
    (2, 5, 9, 10, 7, 3, 3, 1, "same", 1, 1),
    (1, 4, 9, 10, 6, 4, 2, 1, "same", (2, 3), 2),  # odd 'same' total: extra at bottom/right
    (2, 5, 9, 10, 7, 3, 4, 1, "valid", 1, 1),
    (1, 4, 8, 8, 4, 3, 3, 3, 4, 1, 1),            # padding larger than the kernel reach
    (1, 2, 5, 5, 3, 1, 1, 2, 1, 1, 1),            # 1x1 strided with padding
    (1, 9, 6, 31, 127, 2, 3, 1, 0, 1, 1),
    (1, 129, 5, 7, 7, 3, 3, 1, 1, 1, 1),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=[str(i) for i in range(len(CONFIGS))])
def test_conv2d_matches_reference(isa, gen, cfg):
    check_conv2d(gen, *cfg)


@pytest.mark.parametrize("act", ["relu", "gelu", "gelu_tanh", "sigmoid", "tanh", "silu"])
def test_conv2d_fused_activation(isa, gen, act):
    check_conv2d(gen, 2, 6, 9, 11, 7, 3, 3, 1, 1, 1, 1, act=act)
    check_conv2d(gen, 1, 4, 8, 7, 4, 3, 3, 2, 1, 1, 4, act=act)  # depthwise path


def test_conv2d_no_bias(isa, gen):
    check_conv2d(gen, 2, 5, 8, 9, 6, 3, 3, 1, 1, 1, 1, bias=False, act="relu")
    check_conv2d(gen, 2, 6, 8, 9, 6, 3, 3, 1, 1, 1, 6, bias=False)


def test_conv2d_large_threaded(isa, gen):
    # Reduction longer than one KC block, several column chunks, partial MR/NR tiles.
    check_conv2d(gen, 3, 70, 19, 23, 37, 3, 3, 1, 1, 1, 1)
    check_conv2d(gen, 2, 64, 30, 30, 64, 3, 3, 1, 1, 1, 1, act="relu", backward=False)


@pytest.mark.parametrize("cfg", [(2, 5, 9, 11, 6, 3, 3, 1, 1, 1, 1), (1, 4, 13, 7, 8, 3, 3, 2, 1, 2, 2),
                                 (2, 6, 10, 9, 6, 3, 3, 1, 1, 1, 6)])
def test_conv2d_bit_exact_small_integers(isa, gen, cfg):
    N, C, H, W, K, R, S, stride, padding, dilation, groups = cfg
    x = randint((N, C, H, W), gen=gen)
    w = randint((K, C // groups, R, S), gen=gen)
    want = rconv.conv2d(x, w, None, stride, padding, dilation, groups)
    np.testing.assert_array_equal(fastnn.conv2d(x, w, None, stride, padding, dilation, groups), want)
    g = randint(want.shape, gen=gen)
    rgx, rgw, _ = rconv.conv2d_backward(g, x, w, None, stride, padding, dilation, groups)
    gx, gw, _ = fastnn.conv2d_backward(g, x, w, None, stride, padding, dilation, groups)
    np.testing.assert_array_equal(gx, rgx)
    np.testing.assert_array_equal(gw, rgw)


@pytest.mark.parametrize("lx", ["contiguous", "fortran", "strided", "negative"])
def test_conv2d_input_layouts(isa, gen, lx):
    x0, w0, b0 = rand((2, 5, 9, 8), gen=gen), rand((6, 5, 3, 3), gen=gen), rand((6,), gen=gen)
    x, w = dict(layouts(x0))[lx], dict(layouts(w0))[lx]
    b = dict(layouts(b0))["strided"]
    assert_close(fastnn.conv2d(x, w, b, 1, 1), rconv.conv2d(x0, w0, b0, 1, 1), k=45)
    g0 = rand((2, 6, 9, 8), gen=gen)
    g = dict(layouts(g0))[lx]
    want = rconv.conv2d_backward(g0, x0, w0, b0, 1, 1)
    got = fastnn.conv2d_backward(g, x, w, b, 1, 1)
    for a, d, k, name in zip(got, want, (54, 144, 144), ("grad_x", "grad_weight", "grad_bias")):
        assert_close(a, d, k=k, name=name)


def test_conv2d_out_strided_and_aliased(isa, gen):
    x, w = rand((2, 4, 7, 7), gen=gen), rand((4, 4, 3, 3), gen=gen)
    want = rconv.conv2d(x, w, None, 1, 1)
    big = empty_poisoned((2, 4, 7, 14))
    res = fastnn.conv2d(x, w, padding=1, out=big[..., ::2])
    assert_close(res, want, k=36)
    assert np.isnan(big[..., 1::2]).all()
    fastnn.conv2d(x, w, padding=1, out=x)  # out aliases x: computed through a temporary
    assert_close(x, want, k=36)


def test_conv2d_nan_inf_propagate(isa, gen):
    x, w = rand((1, 3, 12, 12), gen=gen), rand((4, 3, 3, 3), gen=gen)
    x[0, 1, 2, 3] = np.nan
    x[0, 2, 8, 9] = np.inf
    for groups, wt in ((1, w), (3, rand((3, 1, 3, 3), gen=gen))):
        want = rconv.conv2d(x, wt, None, 1, 1, 1, groups)
        got = fastnn.conv2d(x, wt, None, 1, 1, 1, groups)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
        fin = np.isfinite(want)
        assert_close(got[fin], want[fin], k=27)


def test_conv2d_empty(isa, gen):
    w = rand((3, 2, 3, 3), gen=gen)
    y = fastnn.conv2d(np.zeros((0, 2, 5, 5), np.float32), w, padding=1)
    assert y.shape == (0, 3, 5, 5)
    gx, gw, gb = fastnn.conv2d_backward(np.zeros((0, 3, 5, 5), np.float32), np.zeros((0, 2, 5, 5), np.float32), w,
                                        np.ones(3, np.float32), padding=1)
    assert gx.shape == (0, 2, 5, 5)
    np.testing.assert_array_equal(gw, 0)
    np.testing.assert_array_equal(gb, 0)
    # no input channels: the output is act(bias)
    b = rand((3,), gen=gen)
    y = fastnn.conv2d(np.zeros((2, 0, 5, 5), np.float32), np.zeros((3, 0, 3, 3), np.float32), b, padding=1,
                      activation="relu")
    np.testing.assert_array_equal(y, np.broadcast_to(np.maximum(b, 0).reshape(1, 3, 1, 1), (2, 3, 5, 5)))


# ---- conv_transpose2d -------------------------------------------------------------------------

# (N, Cin, H, W, Cout, R, S, stride, padding, output_padding, groups, dilation)
TCONFIGS = [
    (2, 5, 4, 4, 3, 4, 4, 2, 1, 0, 1, 1),          # DCGAN-style upsampling
    (1, 3, 7, 5, 4, 3, 3, 1, 0, 0, 1, 1),
    (2, 4, 5, 6, 6, 3, 2, (2, 3), (1, 0), (1, 2), 2, 1),
    (1, 6, 5, 5, 3, 3, 3, 2, 2, 0, 3, 2),
    (1, 2, 6, 5, 2, 3, 3, 1, 1, 1, 1, 2),          # output_padding >= stride (allowed by dilation)
    (2, 4, 3, 3, 4, 5, 5, 3, 1, 2, 4, 1),          # depthwise transposed
    (1, 33, 3, 4, 17, 4, 4, 2, 1, 1, 1, 1),
]


@pytest.mark.parametrize("cfg", TCONFIGS, ids=[str(i) for i in range(len(TCONFIGS))])
@pytest.mark.parametrize("bias", [True, False])
def test_conv_transpose2d_matches_reference(isa, gen, cfg, bias):
    N, Cin, H, W, Cout, R, S, stride, padding, opad, groups, dilation = cfg
    x = rand((N, Cin, H, W), gen=gen)
    w = rand((Cin, Cout // groups, R, S), gen=gen)
    b = rand((Cout,), gen=gen) if bias else None
    want = rconv.conv_transpose2d(x, w, b, stride, padding, opad, groups, dilation)
    out = empty_poisoned(want.shape)
    got = fastnn.conv_transpose2d(x, w, b, stride, padding, opad, groups, dilation, out=out)
    assert got is out
    assert_close(got, want, k=(Cin // groups) * R * S)
    g = rand(want.shape, gen=gen)
    rgx, rgw, rgb = rconv.conv_transpose2d_backward(g, x, w, b, stride, padding, opad, groups, dilation)
    gx, gw, gb = fastnn.conv_transpose2d_backward(g, x, w, b, stride, padding, opad, groups, dilation)
    assert_close(gx, rgx, k=(Cout // groups) * R * S, name="grad_x")
    assert_close(gw, rgw, k=N * H * W, name="grad_weight")
    if bias:
        assert_close(gb, rgb, k=N * want.shape[2] * want.shape[3], name="grad_bias")
    else:
        assert gb is None


# ---- conv1d / conv_transpose1d --------------------------------------------------------------

@pytest.mark.parametrize("cfg", [(2, 3, 17, 5, 3, 1, 1, 1, 1, None), (1, 8, 33, 8, 5, 2, 2, 2, 8, "relu"),
                                 (3, 4, 20, 6, 4, 1, "same", 3, 2, "gelu"), (1, 5, 9, 7, 9, 1, "valid", 1, 1, None),
                                 (2, 6, 31, 12, 1, 3, 0, 1, 3, "silu")])
def test_conv1d_matches_reference(isa, gen, cfg):
    N, C, L, K, Ks, stride, padding, dilation, groups, act = cfg
    x, w, b = rand((N, C, L), gen=gen), rand((K, C // groups, Ks), gen=gen), rand((K,), gen=gen)
    want = rconv.conv1d(x, w, b, stride, padding, dilation, groups, act)
    got = fastnn.conv1d(x, w, b, stride, padding, dilation, groups, act)
    assert_close(got, want, k=(C // groups) * Ks)
    g = rand(want.shape, gen=gen)
    for a, d, k in zip(fastnn.conv1d_backward(g, x, w, b, stride, padding, dilation, groups, act),
                       rconv.conv1d_backward(g, x, w, b, stride, padding, dilation, groups, act),
                       ((K // groups) * Ks, N * want.shape[2], N * want.shape[2])):
        assert_close(a, d, k=k)


@pytest.mark.parametrize("cfg", [(2, 4, 9, 3, 4, 2, 1, 1, 1, 1), (1, 6, 5, 4, 3, 3, 0, 2, 2, 1),
                                 (2, 3, 8, 5, 5, 1, 2, 0, 1, 2)])
def test_conv_transpose1d_matches_reference(isa, gen, cfg):
    N, Cin, L, Cout, Ks, stride, padding, opad, groups, dilation = cfg
    x, w, b = rand((N, Cin, L), gen=gen), rand((Cin, Cout // groups, Ks), gen=gen), rand((Cout,), gen=gen)
    want = rconv.conv_transpose1d(x, w, b, stride, padding, opad, groups, dilation)
    assert_close(fastnn.conv_transpose1d(x, w, b, stride, padding, opad, groups, dilation), want,
                 k=(Cin // groups) * Ks)
    g = rand(want.shape, gen=gen)
    got = fastnn.conv_transpose1d_backward(g, x, w, b, stride, padding, opad, groups, dilation)
    ref = rconv.conv_transpose1d_backward(g, x, w, b, stride, padding, opad, groups, dilation)
    for a, d, k in zip(got, ref, ((Cout // groups) * Ks, N * L, N * want.shape[2])):
        assert_close(a, d, k=k)


# ---- Winograd F(4x4, 3x3) path (3x3, stride 1, >= 16 channels, >= 64 tiles) ------------------

WINO = [(1, 16, 33, 31, 17, 1), (2, 24, 17, 30, 20, (0, 2)), (4, 16, 13, 15, 32, 2), (1, 40, 29, 36, 16, 0),
        (5, 17, 14, 14, 19, 1)]


@pytest.mark.parametrize("cfg", WINO, ids=[str(i) for i in range(len(WINO))])
def test_conv2d_winograd_matches_reference(isa, gen, cfg):
    N, C, H, W, K, padding = cfg
    check_conv2d(gen, N, C, H, W, K, 3, 3, 1, padding, 1, 1, act="silu")


def test_conv2d_winograd_direct_path_when_disabled(isa, gen, monkeypatch):
    monkeypatch.setenv("FASTNN_CONV_WINOGRAD", "0")
    for N, C, H, W, K, padding in WINO[:3]:
        check_conv2d(gen, N, C, H, W, K, 3, 3, 1, padding, 1, 1)


def test_conv2d_winograd_nonfinite_falls_back_to_ieee_results(isa, gen):
    x, w = rand((2, 16, 20, 20), gen=gen), rand((16, 16, 3, 3), gen=gen)
    x[0, 3, 5, 6] = np.nan
    x[1, 7, 12, 2] = np.inf
    x[1, 2, 0, 19] = -np.inf
    for xx, ww in ((x, w), (np.nan_to_num(x), np.where(np.arange(16)[:, None, None, None] == 4, np.inf, w))):
        ww = ww.astype(np.float32)
        with np.errstate(invalid="ignore"):  # inf * 0 (padding) and inf - inf in the oracle
            want = rconv.conv2d(xx, ww, None, 1, 1)
        got = fastnn.conv2d(xx, ww, None, 1, 1)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
        fin = np.isfinite(want)
        assert_close(got[fin], want[fin], k=144)
        g = rand(want.shape, gen=gen)
        gx = fastnn.conv2d_backward(np.where(fin, g, np.nan).astype(np.float32), np.nan_to_num(xx), ww, None, 1, 1)[0]
        with np.errstate(invalid="ignore"):
            rgx = rconv.conv2d_backward(np.where(fin, g, np.nan), np.nan_to_num(xx), ww, None, 1, 1)[0]
        np.testing.assert_array_equal(np.isnan(gx), np.isnan(rgx))


def test_conv_transpose2d_winograd(isa, gen):
    x, w, b = rand((2, 24, 16, 17), gen=gen), rand((24, 20, 3, 3), gen=gen), rand((20,), gen=gen)
    want = rconv.conv_transpose2d(x, w, b, 1, 1)
    assert_close(fastnn.conv_transpose2d(x, w, b, 1, 1), want, k=24 * 9)
    g = rand(want.shape, gen=gen)
    for a, d, k in zip(fastnn.conv_transpose2d_backward(g, x, w, b, 1, 1),
                       rconv.conv_transpose2d_backward(g, x, w, b, 1, 1), (20 * 9, 2 * 16 * 17, 2 * 16 * 17)):
        assert_close(a, d, k=k)


# ---- backward paths: column-matrix data gradient, dense-phase strided data gradient, weight
#      gradient bands across images / MC-NC blocks / thread split, 1×1 GEMM weight gradient ------

# (N, C, H, W, K, R, S, stride, padding, dilation, groups)
BACKWARD_PATHS = [
    (3, 3, 23, 20, 16, 7, 7, 2, 3, 1, 1),          # col2im (C/groups < MR), an image per thread
    (1, 2, 17, 19, 9, 3, 3, 1, 1, 1, 1),           # col2im, stride 1, one image: threaded GEMM
    (2, 4, 15, 16, 6, 5, 3, (2, 3), (2, 1), 2, 2),  # col2im with groups, dilation, mixed strides
    (1, 1, 12, 13, 5, 4, 4, 3, 0, 1, 1),           # col2im, stride 3, no padding
    (5, 24, 8, 8, 13, 4, 4, 2, 1, 1, 1),           # dense phase blocks, even width (pair interleave)
    (2, 16, 9, 11, 20, 3, 3, 2, 1, 1, 2),          # dense phase blocks, odd sizes, groups
    (2, 12, 10, 7, 8, 3, 2, (3, 1), 1, 1, 1),      # stride 3 rows only
    (40, 8, 3, 4, 10, 3, 3, 1, 1, 1, 1),           # tiny images: weight-gradient bands of many images
    (2, 7, 6, 5, 131, 3, 3, 1, 1, 1, 1),           # Kg > MC: several row blocks in the weight gradient
    (2, 40, 6, 6, 7, 3, 3, 1, 1, 1, 1),            # taps × channels > NC: several column chunks
    (3, 12, 7, 9, 10, 1, 1, 1, 0, 1, 2),           # 1×1 stride 1: the GEMM weight gradient, groups
    (2, 9, 5, 6, 4, 1, 1, 1, 0, 1, 1),
]


@pytest.mark.parametrize("cfg", BACKWARD_PATHS, ids=[str(i) for i in range(len(BACKWARD_PATHS))])
def test_conv2d_backward_paths(isa, gen, cfg):
    check_conv2d(gen, *cfg)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_conv2d_backward_thread_counts(isa, gen, threads):
    # The weight gradient splits output rows across threads and sums private accumulators; the
    # column-matrix data gradient takes an image per thread, or threads the GEMM when images are
    # fewer than threads.
    old = fastnn.get_num_threads()
    fastnn.set_num_threads(threads)
    try:
        check_conv2d(gen, 2, 3, 21, 18, 8, 7, 7, 2, 3, 1, 1)
        check_conv2d(gen, 3, 10, 9, 7, 12, 3, 3, 2, 1, 1, 1)
        check_conv2d(gen, 5, 6, 4, 4, 9, 3, 3, 1, 1, 1, 1)
    finally:
        fastnn.set_num_threads(old)


def test_conv2d_backward_poisoned_gradients_are_overwritten(isa, gen):
    # The C++ entry writes into caller arrays: NaN-filled outputs must come back fully written.
    from fastnn import _C
    for N, C, H, W, K, R, s, p in ((2, 3, 19, 18, 8, 7, 2, 3), (3, 8, 9, 9, 6, 4, 2, 1), (2, 5, 7, 8, 6, 1, 1, 0)):
        x, w, b = rand((N, C, H, W), gen=gen), rand((K, C, R, R), gen=gen), rand((K,), gen=gen)
        y = rconv.conv2d(x, w, b, s, p)
        g = rand(y.shape, gen=gen)
        rgx, rgw, rgb = rconv.conv2d_backward(g, x, w, b, s, p)
        gx, gw, gb = empty_poisoned(x.shape), empty_poisoned(w.shape), empty_poisoned(b.shape)
        _C.conv2d_backward(g, x, w, b, (s, s), (p, p, p, p), (1, 1), 1, "none", gx, gw, gb)
        npix = N * y.shape[2] * y.shape[3]
        assert_close(gx, rgx, k=K * R * R, name="grad_x")
        assert_close(gw, rgw, k=npix, name="grad_weight")
        assert_close(gb, rgb, k=npix, name="grad_bias")


def test_depthwise_weight_gradient_inf_past_row_end(isa, gen):
    # The vector weight gradient reads input columns past the output row's last pixel: lanes there
    # must not turn an Inf of a real column into 0·Inf = NaN.
    x, w = rand((1, 4, 6, 13), gen=gen), rand((4, 1, 3, 3), gen=gen)
    x[0, 1, 2, 12] = np.inf
    g = rand((1, 4, 6, 13), gen=gen)
    gw = fastnn.conv2d_backward(g, x, w, None, 1, 1, 1, 4)[1]
    with np.errstate(invalid="ignore"):
        rgw = rconv.conv2d_backward(g, x, w, None, 1, 1, 1, 4)[1]
    np.testing.assert_array_equal(np.isnan(gw), np.isnan(rgw))
    np.testing.assert_array_equal(np.isinf(gw), np.isinf(rgw))
    fin = np.isfinite(rgw)
    assert_close(gw[fin], rgw[fin], k=78)
