"""CUDA convolution and pooling against the float64 oracles (fastnn.reference.conv / pool):
implicit GEMM on tensor cores (mma_sync: forward and data gradient, bf16 / f16) and on CUDA cores
(simt: every pass, every dtype), depthwise kernels, transposed convolutions, groups, strides,
dilation, 'same' padding (odd and even kernels), fused bias + activation and its gradient,
channels-last inputs; max / avg / adaptive pooling forward and backward. Skips with the reason
when no GPU is usable."""
from __future__ import annotations

import numpy as np
import pytest
from cuda_paths import exact, host64, kw, rtol

import fastnn
from fastnn.ops import cuda_conv
from fastnn.reference import conv as rconv
from fastnn.reference import pool as rpool
from fastnn.testing import assert_close, rand

PATHS = [("float32", "simt"), ("float16", "simt"), ("bfloat16", "simt"), ("float16", "mma_sync"),
         ("bfloat16", "mma_sync")]
# (N, C, H, W, K, R, S, stride, padding, dilation, groups)
CASES = [
    (2, 3, 9, 11, 5, 3, 3, 1, 1, 1, 1),
    (2, 16, 13, 7, 24, 3, 3, 2, 1, 1, 1),
    (1, 16, 8, 8, 16, 1, 1, 1, 0, 1, 1),
    (2, 32, 10, 10, 16, 3, 3, 1, 2, 2, 2),
    (1, 8, 6, 9, 8, 4, 4, 1, "same", 1, 1),
    (3, 24, 5, 5, 136, 3, 3, 1, "same", 1, 1),
]
DEPTHWISE = [(2, 8, 9, 9, 8, 3, 3, 1, 1, 1, 8), (2, 4, 7, 7, 8, 5, 5, 2, 2, 1, 4)]


def mma_eligible(case, pass_):
    N, C, H, W, K, R, S, st, p, d, g = case
    return (C // g) % 8 == 0 if pass_ == "fwd" else (K // g) % 8 == 0


@pytest.fixture
def mma_ok(cupy):
    return "mma_sync" in fastnn._C_cuda.kernels_for_device(cupy.cuda.runtime.getDevice())


def conv_inputs(gen, path, case, bias=True):
    N, C, H, W, K, R, S, st, p, d, g = case
    x, x64 = exact(rand((N, C, H, W), gen=gen), path)
    w, w64 = exact(rand((K, C // g, R, S), gen=gen), path)
    b, b64 = exact(rand((K,), gen=gen), path) if bias else (None, None)
    return (x, w, b), (x64, w64, b64)


@pytest.mark.parametrize("path,kernel", PATHS)
@pytest.mark.parametrize("case", CASES + DEPTHWISE)
@pytest.mark.parametrize("act", [None, "gelu"])
def test_conv2d_forward_backward(cupy, mma_ok, gen, path, kernel, case, act):
    N, C, H, W, K, R, S, st, p, d, g = case
    depthwise = case in DEPTHWISE
    if kernel == "mma_sync" and (not mma_ok or depthwise or not mma_eligible(case, "fwd")):
        pytest.skip("mma_sync not available for this case / device")
    (x, w, b), (x64, w64, b64) = conv_inputs(gen, path, case)
    dev = [None if a is None else cupy.asarray(a) for a in (x, w, b)]
    args = dict(stride=st, padding=p, dilation=d, groups=g)
    want = rconv.conv2d(x64, w64, b64, activation=act, **args)
    stride, pads, dilation = _geometry(case, w.shape)
    y = cuda_conv.conv2d(*dev, stride, pads, dilation, g, act or "none", want.shape, None,
                         kernel="depthwise" if depthwise else kernel, **kw(path))
    assert cuda_conv.last_kernel().startswith(("depthwise" if depthwise else kernel) + ":")
    k_red = (C // g) * R * S
    assert_close(host64(y, path), want, rtol=rtol(path, k_red, 2))
    go, go64 = exact(rand(want.shape, gen=gen), path)
    dkernel = kernel if (kernel != "mma_sync" or mma_eligible(case, "dgrad")) else "auto"
    gx, gw, gb = cuda_conv.conv2d_backward(cupy.asarray(go), *dev, stride, pads, dilation, g, act or "none",
                                           kernel="depthwise" if depthwise else dkernel, **kw(path))
    wx, ww, wb = rconv.conv2d_backward(go64, x64, w64, b64, activation=act, **args)
    assert_close(host64(gx, path), wx, rtol=rtol(path, (K // g) * R * S, 4), name="grad_x")
    assert_close(host64(gw, path), ww, rtol=rtol(path, N * want.shape[2] * want.shape[3], 4), name="grad_weight")
    assert_close(host64(gb, path), wb, rtol=rtol(path, N * want.shape[2] * want.shape[3], 4), name="grad_bias")


def _geometry(case, wshape):
    """(stride, pads (top, bottom, left, right), dilation) as fastnn.ops.conv parses them."""
    from fastnn.ops.conv import _pads, _tuple

    N, C, H, W, K, R, S, st, p, d, g = case
    stride, dilation = _tuple("t", "stride", st, 2, 1), _tuple("t", "dilation", d, 2, 1)
    return stride, _pads("t", p, (R, S), stride, dilation), dilation


def test_conv2d_public_api_channels_last_and_1d(cupy, gen, mma_ok):
    x = rand((2, 16, 12, 10), gen=gen)
    w = rand((32, 16, 3, 3), gen=gen)
    xh = cupy.asarray(x).astype(cupy.float16)
    x_cl = cupy.ascontiguousarray(xh.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)  # NCHW shape, NHWC memory
    y = fastnn.conv2d(x_cl, cupy.asarray(w).astype(cupy.float16), padding=1)
    assert cuda_conv.last_kernel() == ("mma_sync:f16:fwd" if mma_ok else "simt:f16:fwd")
    want = rconv.conv2d(x.astype(np.float16).astype(np.float64), w.astype(np.float16).astype(np.float64), padding=1)
    assert_close(y.get().astype(np.float64), want, rtol=rtol("float16", 144, 2))
    x1, w1 = rand((3, 5, 40), gen=gen), rand((7, 5, 4), gen=gen)
    y1 = fastnn.conv1d(cupy.asarray(x1), cupy.asarray(w1), stride=3, padding=2)
    assert_close(y1.get(), rconv.conv1d(x1, w1, stride=3, padding=2), k=20)
    if mma_ok:
        with pytest.raises(ValueError, match="input channels per group must be a multiple of 8"):
            cuda_conv.conv2d(cupy.asarray(x[:, :5]).astype(cupy.float16), cupy.asarray(w[:, :5]).astype(cupy.float16),
                             None, (1, 1), (0, 0, 0, 0), (1, 1), 1, "none", (2, 32, 10, 8), None, kernel="mma_sync")


# (N, C_in, H, W, C_out, R, S, stride, padding, output_padding, dilation, groups)
TCASES = [(2, 8, 5, 6, 4, 3, 3, 2, 1, 1, 1, 2), (1, 16, 4, 4, 8, 4, 4, 2, 1, 0, 1, 1),
          (2, 3, 7, 5, 5, 3, 2, 1, 0, 0, 2, 1)]


@pytest.mark.parametrize("path,kernel", PATHS)
@pytest.mark.parametrize("case", TCASES)
def test_conv_transpose2d(cupy, mma_ok, gen, path, kernel, case):
    N, Cin, H, W, Cout, R, S, st, p, op, d, g = case
    if kernel == "mma_sync" and (not mma_ok or (Cin // g) % 8):
        pytest.skip("mma_sync not available for this case / device")
    x, x64 = exact(rand((N, Cin, H, W), gen=gen), path)
    w, w64 = exact(rand((Cin, Cout // g, R, S), gen=gen), path)
    b, b64 = exact(rand((Cout,), gen=gen), path)
    args = dict(stride=st, padding=p, output_padding=op, groups=g, dilation=d)
    want = rconv.conv_transpose2d(x64, w64, b64, **args)
    y = cuda_conv.conv_transpose2d(cupy.asarray(x), cupy.asarray(w), cupy.asarray(b), (st, st), (p, p), (d, d), g,
                                   want.shape, None, kernel=kernel, **kw(path))
    assert_close(host64(y, path), want, rtol=rtol(path, (Cin // g) * R * S, 2))
    go, go64 = exact(rand(want.shape, gen=gen), path)
    gx, gw, gb = cuda_conv.conv_transpose2d_backward(cupy.asarray(go), cupy.asarray(x), cupy.asarray(w),
                                                     cupy.asarray(b), (st, st), (p, p), (d, d), g,
                                                     kernel="auto" if (Cout // g) % 8 else kernel, **kw(path))
    wx, ww, wb = rconv.conv_transpose2d_backward(go64, x64, w64, b64, **args)
    assert_close(host64(gx, path), wx, rtol=rtol(path, (Cout // g) * R * S, 4), name="grad_x")
    assert_close(host64(gw, path), ww, rtol=rtol(path, N * H * W, 4), name="grad_weight")
    assert_close(host64(gb, path), wb, rtol=rtol(path, want.size // Cout, 4), name="grad_bias")


def test_conv_transpose_public_api(cupy, gen):
    x, w = rand((2, 4, 5, 5), gen=gen), rand((4, 3, 3, 3), gen=gen)
    y = fastnn.conv_transpose2d(cupy.asarray(x), cupy.asarray(w), stride=2, padding=1, output_padding=1)
    assert_close(y.get(), rconv.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1), k=36)
    x1, w1 = rand((2, 4, 9), gen=gen), rand((4, 2, 3), gen=gen)
    gx, gw, gb = fastnn.conv_transpose1d_backward(cupy.ones((2, 2, 19), cupy.float32), cupy.asarray(x1),
                                                  cupy.asarray(w1), stride=2)
    wx, ww, _ = rconv.conv_transpose1d_backward(np.ones((2, 2, 19)), x1, w1, stride=2)
    assert_close(gx.get(), wx, k=6)
    assert_close(gw.get(), ww, k=18)


# ---- pooling ------------------------------------------------------------------------------------------

POOL_PATHS = ["float32", "float16", "bfloat16"]


@pytest.mark.parametrize("path", POOL_PATHS)
@pytest.mark.parametrize("k,s,p,d,ceil", [(3, 2, 1, 1, False), (3, 2, 1, 1, True), (2, None, 0, 1, False),
                                          ((3, 2), (2, 1), (1, 0), (2, 1), True)])
def test_max_pool2d(cupy, gen, path, k, s, p, d, ceil):
    x, x64 = exact(rand((2, 3, 11, 12), gen=gen), path)
    x[0, 0, :2, :2] = x[0, 0, 0, 0]  # ties: the first maximum wins
    x64 = host64(x, path)
    y, ind = cuda_conv.max_pool2d(cupy.asarray(x), *_pool_args(k, s, p, d), ceil,
                                  _pool_shape(x.shape, k, s, p, d, ceil), True, **kw(path))
    wy, wind = rpool.max_pool2d(x64, k, s, p, d, ceil, return_indices=True)
    np.testing.assert_array_equal(host64(y, path), wy)
    np.testing.assert_array_equal(ind.get(), wind)
    g, g64 = exact(rand(wy.shape, gen=gen), path)
    gx = cuda_conv.max_pool2d_backward(cupy.asarray(g), cupy.asarray(x), ind, *_pool_args(k, s, p, d), ceil,
                                       wy.shape, **kw(path))
    assert_close(host64(gx, path), rpool.max_pool2d_backward(g64, x64, wind, k, s, p, d, ceil),
                 rtol=rtol(path, 4))


def _pool_args(k, s, p, d):
    def pair(v):
        return (v, v) if isinstance(v, int) else tuple(v)

    kk = pair(k)
    return kk, (kk if s is None else pair(s)), pair(p), pair(d)


def _pool_shape(shape, k, s, p, d, ceil):
    kk, ss, pp, dd = _pool_args(k, s, p, d)
    return (*shape[:2], *(rpool.pool_output_size(shape[2 + i], kk[i], ss[i], pp[i], dd[i], ceil) for i in range(2)))


def test_max_pool2d_nan_and_public_api(cupy):
    x = np.zeros((1, 1, 4, 4), np.float32)
    x[0, 0, 0, 1] = np.nan
    x[0, 0, 1, 0] = np.nan  # the last NaN of the window wins
    y, ind = fastnn.max_pool2d(cupy.asarray(x), 2, return_indices=True)
    assert np.isnan(y.get()[0, 0, 0, 0]) and ind.get()[0, 0, 0, 0] == 4
    g = fastnn.max_pool2d_backward(cupy.ones((1, 1, 2, 2), cupy.float32), cupy.asarray(x), None, 2)
    assert g.get().sum() == 4.0


@pytest.mark.parametrize("path", POOL_PATHS)
@pytest.mark.parametrize("k,s,p,ceil,cip,div", [(3, 2, 1, False, True, None), (3, 2, 1, True, False, None),
                                                ((2, 3), (1, 2), (1, 1), True, True, None),
                                                (2, None, 0, False, True, 3)])
def test_avg_pool2d(cupy, gen, path, k, s, p, ceil, cip, div):
    x, x64 = exact(rand((2, 3, 11, 12), gen=gen), path)
    kk, ss, pp, _ = _pool_args(k, s, p, 1)
    shape = _pool_shape(x.shape, k, s, p, 1, ceil)
    y = cuda_conv.avg_pool2d(cupy.asarray(x), kk, ss, pp, ceil, cip, div or 0, shape, **kw(path))
    want = rpool.avg_pool2d(x64, k, s, p, ceil, cip, div)
    assert_close(host64(y, path), want, rtol=rtol(path, 9))
    g, g64 = exact(rand(want.shape, gen=gen), path)
    gx = cuda_conv.avg_pool2d_backward(cupy.asarray(g), cupy.asarray(x), kk, ss, pp, ceil, cip, div or 0, shape,
                                       **kw(path))
    assert_close(host64(gx, path), rpool.avg_pool2d_backward(g64, x64, k, s, p, ceil, cip, div), rtol=rtol(path, 9))


@pytest.mark.parametrize("path", POOL_PATHS)
@pytest.mark.parametrize("out", [(1, 1), (5, 7), (11, 12), (4, 20)])
def test_adaptive_avg_pool2d(cupy, gen, path, out):
    x, x64 = exact(rand((2, 3, 11, 12), gen=gen), path)
    shape = (2, 3, *out)
    y = cuda_conv.adaptive_avg_pool2d(cupy.asarray(x), shape, **kw(path))
    want = rpool.adaptive_avg_pool2d(x64, out)
    assert_close(host64(y, path), want, rtol=rtol(path, 132))
    g, g64 = exact(rand(shape, gen=gen), path)
    gx = cuda_conv.adaptive_avg_pool2d_backward(cupy.asarray(g), cupy.asarray(x), shape, **kw(path))
    assert_close(host64(gx, path), rpool.adaptive_avg_pool2d_backward(g64, x64, out), rtol=rtol(path, 16))
