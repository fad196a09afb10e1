"""CUDA glue kernels against the float64 oracles (fastnn.reference) on awkward sizes, for every
dtype path (float32, float16, bfloat16 as uint16 bits): activations, softmax / log_softmax,
cross_entropy, layer_norm / rms_norm / batch_norm, embedding, dropout (bit-identical to the CPU
stream), fused optimizer steps; forward and backward. Inputs are rounded to the path's dtype on
the host first, so the oracle sees exactly what the kernel sees. Skips with the reason when no
GPU is usable."""
from __future__ import annotations

import numpy as np
import pytest
from cuda_paths import PATHS, exact, host64, kw, rtol

import fastnn
from fastnn.ops import cuda_glue
from fastnn.reference import activation as ract
from fastnn.reference import embedding as remb
from fastnn.reference import loss as rloss
from fastnn.reference import norm as rnorm
from fastnn.reference import optimizer as ropt
from fastnn.reference import softmax as rsm
from fastnn.testing import assert_close, rand

ACTS = [("relu", {}, "relu"), ("leaky_relu", {"negative_slope": 0.2}, "leaky_relu"), ("gelu", {}, "gelu"),
        ("gelu_tanh", {}, "gelu"), ("silu", {}, "silu"), ("sigmoid", {}, "sigmoid"), ("tanh", {}, "tanh"),
        ("softplus", {"beta": 1.5, "threshold": 6.0}, "softplus")]


def ref_kw(kind, params):
    return {"approximate": "tanh"} if kind == "gelu_tanh" else params


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("kind,params,ref", ACTS)
def test_activation_forward_backward(cupy, gen, path, kind, params, ref):
    x, x64 = exact(rand((7, 129), gen=gen, low=-6, high=6), path)
    g, g64 = exact(rand((7, 129), gen=gen), path)
    y = cuda_glue.activation(kind, kind, cupy.asarray(x), None, **params, **kw(path))
    want = getattr(ract, ref)(x64, **ref_kw(kind, params))
    assert_close(host64(y, path), want, rtol=rtol(path, 16))
    dx = cuda_glue.activation_backward(kind, kind, cupy.asarray(g), cupy.asarray(x), None, **params, **kw(path))
    want = getattr(ract, ref + "_backward")(g64, x64, **ref_kw(kind, params))
    assert_close(host64(dx, path), want, rtol=rtol(path, 32))


def test_activation_public_api_strided_in_place_nan(cupy, gen):
    x = rand((9, 70), gen=gen, low=-3, high=3)
    d = cupy.asarray(x)
    view = d[::2, ::-3]  # strided, negative stride: read in place
    assert_close(fastnn.gelu(view).get(), ract.gelu(x[::2, ::-3]), k=4)
    fastnn.silu(d, out=d)  # in place
    assert_close(d.get(), ract.silu(x), k=4)
    nan = cupy.asarray(np.array([np.nan, -np.inf, np.inf, 0.0, -0.0], np.float32))
    np.testing.assert_array_equal(np.isnan(fastnn.relu(nan).get()), [True, False, False, False, False])
    assert fastnn.relu(cupy.zeros(0, cupy.float32)).shape == (0,)


# ---- softmax --------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("shape,dim", [((7, 33, 5), 0), ((7, 33, 5), 1), ((7, 33, 5), -1), ((3, 1500), 1),
                                       ((1, 1), 0), ((2, 1025), -1)])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_forward_backward(cupy, gen, path, shape, dim, log):
    x, x64 = exact(rand(shape, gen=gen, low=-5, high=5), path)
    g, g64 = exact(rand(shape, gen=gen), path)
    n = shape[dim]
    y = cuda_glue.softmax("softmax", cupy.asarray(x), dim, log=log, **kw(path))
    want = (rsm.log_softmax if log else rsm.softmax)(x64, dim)
    assert_close(host64(y, path), want, rtol=rtol(path, n))
    # The backward takes the forward output as the kernel produced it.
    y_in = host64(y, path)
    dx = cuda_glue.softmax_backward("softmax_backward", cupy.asarray(g), y, dim, log=log, **kw(path))
    if log:
        want = g64 - np.exp(y_in) * g64.sum(axis=dim, keepdims=True)
    else:
        want = y_in * (g64 - (g64 * y_in).sum(axis=dim, keepdims=True))
    assert_close(host64(dx, path), want, rtol=rtol(path, n, slack=2))


def test_softmax_special_rows(cupy):
    x = np.array([[0.0, -np.inf, 1.0], [-np.inf, -np.inf, -np.inf], [np.nan, 1.0, 2.0], [np.inf, 0.0, 1.0]],
                 np.float32)
    y = fastnn.softmax(cupy.asarray(x), -1).get()
    assert_close(y[0], rsm.softmax(x[0]))
    assert np.isnan(y[1:]).all()  # all -inf, NaN, +inf rows: NaN throughout, as PyTorch
    big = np.full((2, 3000), -np.inf, np.float32)
    big[0, 7] = 3.0
    y = fastnn.log_softmax(cupy.asarray(big), -1).get()  # block layout: -inf lanes never poison
    assert y[0, 7] == 0.0 and np.isneginf(y[0, :7]).all() and np.isnan(y[1]).all()


# ---- cross entropy ------------------------------------------------------------------------------------

CE_CASES = [((13, 7), None), ((5, 11, 3, 2), None), ((4, 5000), None), ((9, 40), "weight")]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("shape,weighted", CE_CASES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
def test_cross_entropy(cupy, gen, path, shape, weighted, reduction, smoothing):
    C = shape[1]
    x, x64 = exact(rand(shape, gen=gen, low=-4, high=4), path)
    t = gen.integers(0, C, size=(shape[0],) + shape[2:]).astype(np.int64)
    t.flat[::3] = -7  # ignored positions
    w, w64 = exact(rand((C,), gen=gen, low=0.5, high=2.0), path) if weighted else (None, None)
    dw = None if w is None else cupy.asarray(w)
    kws = dict(weight=dw, ignore_index=-7, reduction=reduction, label_smoothing=smoothing, **kw(path))
    loss = cuda_glue.cross_entropy(cupy.asarray(x), cupy.asarray(t), **kws)
    want = rloss.cross_entropy(x64, t, weight=w64, ignore_index=-7, reduction=reduction, label_smoothing=smoothing)
    assert_close(host64(loss, path), np.asarray(want), rtol=rtol(path, C * t.size, slack=2))
    g, g64 = (exact(rand(t.shape, gen=gen), path) if reduction == "none" else (np.float32(1.7), 1.7))
    dx = cuda_glue.cross_entropy_backward(cupy.asarray(g) if reduction == "none" else 1.7, cupy.asarray(x),
                                          cupy.asarray(t), **kws)
    want = rloss.cross_entropy_backward(g64, x64, t, weight=w64, ignore_index=-7, reduction=reduction,
                                        label_smoothing=smoothing)
    assert_close(host64(dx, path), want, rtol=rtol(path, C, slack=2))


def test_cross_entropy_device_grad_bad_target_and_all_ignored(cupy, gen):
    x = rand((6, 9), gen=gen)
    t = np.array([0, 8, 3, -100, 2, 1], np.int64)
    loss = fastnn.cross_entropy(cupy.asarray(x), cupy.asarray(t))
    assert loss.shape == () and isinstance(loss, cupy.ndarray)
    dx = fastnn.cross_entropy_backward(cupy.asarray(np.float32(2.0)), cupy.asarray(x), cupy.asarray(t))
    assert_close(dx.get(), rloss.cross_entropy_backward(2.0, x, t), k=9)
    bad = t.copy()
    bad[4] = 9
    with pytest.raises(ValueError, match=r"target\[4\] = 9 is out of range for 9 classes"):
        fastnn.cross_entropy(cupy.asarray(x), cupy.asarray(bad))
    with pytest.raises(ValueError, match=r"target\[4\] = 9"):
        fastnn.cross_entropy_backward(1.0, cupy.asarray(x), cupy.asarray(bad))
    assert np.isnan(fastnn.cross_entropy(cupy.asarray(x), cupy.full(6, -100, cupy.int64)).get())
    # int32 targets, unbatched logits
    u = fastnn.cross_entropy(cupy.asarray(x[0]), cupy.asarray(np.int32(4)), reduction="none")
    assert_close(u.get(), np.asarray(rloss.cross_entropy(x[0], np.int64(4), reduction="none")), k=9)


# ---- layer_norm / rms_norm ------------------------------------------------------------------------------

NORM_SHAPES = [(7, 33), (3, 5, 64), (5, 1030), (3, 600), (2, 9000)]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("shape", NORM_SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm(cupy, gen, path, shape, affine):
    n = shape[-1]
    x, x64 = exact(rand(shape, gen=gen, low=-2, high=3), path)
    g, g64 = exact(rand(shape, gen=gen), path)
    w, w64 = exact(rand((n,), gen=gen, low=0.5, high=1.5), path) if affine else (None, None)
    b, b64 = exact(rand((n,), gen=gen), path) if affine else (None, None)
    dev = (lambda a: None if a is None else cupy.asarray(a))
    y, mean, rstd = cuda_glue.row_norm("layer_norm", False, cupy.asarray(x), n, dev(w), dev(b), 1e-5,
                                       return_stats=True, out=None, **kw(path))
    assert_close(host64(y, path), rnorm.layer_norm(x64, n, w64, b64), rtol=rtol(path, n, slack=2))
    assert mean.dtype == np.float32 and mean.shape == shape[:-1]
    assert_close(mean.get(), x64.mean(-1), k=n)
    want = rnorm.layer_norm_backward(g64, x64, n, w64, b64)
    for stats in ((mean, rstd), (None, None)):
        got = cuda_glue.row_norm_backward("layer_norm_backward", False, cupy.asarray(g), cupy.asarray(x), n, dev(w),
                                          dev(b), 1e-5, mean=stats[0], rstd=stats[1], **kw(path))
        assert_close(host64(got[0], path), want[0], rtol=rtol(path, n, slack=4), name="grad_x")
        if affine:
            rows = int(np.prod(shape[:-1]))
            assert_close(host64(got[1], path), want[1], rtol=rtol(path, rows, slack=4), name="grad_weight")
            assert_close(host64(got[2], path), want[2], rtol=rtol(path, rows, slack=4), name="grad_bias")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("shape", NORM_SHAPES)
def test_rms_norm(cupy, gen, path, shape):
    n = shape[-1]
    x, x64 = exact(rand(shape, gen=gen, low=-2, high=2), path)
    g, g64 = exact(rand(shape, gen=gen), path)
    w, w64 = exact(rand((n,), gen=gen, low=0.5, high=1.5), path)
    y, rstd = cuda_glue.row_norm("rms_norm", True, cupy.asarray(x), n, cupy.asarray(w), None, 1e-6,
                                 return_stats=True, out=None, **kw(path))
    assert_close(host64(y, path), rnorm.rms_norm(x64, n, w64, eps=1e-6), rtol=rtol(path, n, slack=2))
    gx, gw = cuda_glue.row_norm_backward("rms_norm_backward", True, cupy.asarray(g), cupy.asarray(x), n,
                                         cupy.asarray(w), None, 1e-6, mean=None, rstd=rstd, **kw(path))
    wx, ww = rnorm.rms_norm_backward(g64, x64, n, w64, eps=1e-6)
    assert_close(host64(gx, path), wx, rtol=rtol(path, n, slack=4))
    assert_close(host64(gw, path), ww, rtol=rtol(path, int(np.prod(shape[:-1])), slack=4))


def test_norm_public_api(cupy, gen):
    x = rand((4, 6, 10), gen=gen)
    y = fastnn.layer_norm(cupy.asarray(x)[:, ::2], 10)  # a strided input is copied first
    assert_close(y.get(), rnorm.layer_norm(x[:, ::2], 10), k=10)
    d = cupy.asarray(x)
    fastnn.rms_norm(d, 10, eps=1e-6, out=d)  # in place
    assert_close(d.get(), rnorm.rms_norm(x, 10, eps=1e-6), k=10)


# ---- batch_norm ----------------------------------------------------------------------------------------------

BN_SHAPES = [(13, 7), (4, 5, 7, 9), (2, 3, 33), (65, 3, 1, 1)]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm(cupy, gen, path, shape, training):
    C = shape[1]
    x, x64 = exact(rand(shape, gen=gen, low=-1, high=3), path)
    g, g64 = exact(rand(shape, gen=gen), path)
    w, w64 = exact(rand((C,), gen=gen, low=0.5, high=1.5), path)
    b, b64 = exact(rand((C,), gen=gen), path)
    rm0, rv0 = rand((C,), gen=gen), rand((C,), gen=gen, low=0.5, high=2.0)
    rm, rv = cupy.asarray(rm0), cupy.asarray(rv0)
    y, mean, rstd = cuda_glue.batch_norm(cupy.asarray(x), rm, rv, cupy.asarray(w), cupy.asarray(b), training, 0.1,
                                         1e-5, return_stats=True, **kw(path))
    wy, wrm, wrv = rnorm.batch_norm(x64, rm0, rv0, w64, b64, training, 0.1, 1e-5)
    M = x.size // C
    assert_close(host64(y, path), wy, rtol=rtol(path, M, slack=2))
    assert_close(rm.get(), wrm, k=M, name="running_mean")
    assert_close(rv.get(), wrv, k=M, name="running_var")
    gx, gw, gb = cuda_glue.batch_norm_backward(cupy.asarray(g), cupy.asarray(x), cupy.asarray(w), cupy.asarray(b),
                                               cupy.asarray(rm0), cupy.asarray(rv0), training, 1e-5, mean=mean,
                                               rstd=rstd, **kw(path))
    want = rnorm.batch_norm_backward(g64, x64, w64, b64, rm0, rv0, training, 1e-5)
    for got, ref, name in zip((gx, gw, gb), want, ("grad_x", "grad_weight", "grad_bias")):
        assert_close(host64(got, path), ref, rtol=rtol(path, M, slack=4), name=name)
    if training:  # recomputing the statistics gives the same gradients
        gx2, _, _ = cuda_glue.batch_norm_backward(cupy.asarray(g), cupy.asarray(x), cupy.asarray(w), None, None, None,
                                                  True, 1e-5, **kw(path))
        assert_close(host64(gx2, path), want[0], rtol=rtol(path, M, slack=4))


# ---- embedding ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("D", [1, 7, 64, 129])
def test_embedding(cupy, gen, path, D):
    V = 37
    w, w64 = exact(rand((V, D), gen=gen), path)
    idx = gen.integers(0, V, size=(5, 13)).astype(np.int64)
    idx[0, :4] = 3  # repeats accumulate
    y = cuda_glue.embedding(cupy.asarray(idx), cupy.asarray(w), **kw(path))
    np.testing.assert_array_equal(host64(y, path), remb.embedding(idx, w64))  # a gather: exact
    g, g64 = exact(rand((5, 13, D), gen=gen), path)
    for pad in (None, 3):
        gw = cuda_glue.embedding_backward(cupy.asarray(g), cupy.asarray(idx.astype(np.int32)), V, pad, **kw(path))
        assert_close(host64(gw, path), remb.embedding_backward(g64, idx, V, pad), rtol=rtol(path, 8, slack=2))


def test_embedding_out_of_range_and_strided_indices(cupy, gen):
    w = cupy.asarray(rand((10, 4), gen=gen))
    with pytest.raises(ValueError, match=r"indices\[1, 2\] = 10 is out of range for 10 embeddings"):
        fastnn.embedding(cupy.asarray(np.array([[0, 1, 2], [3, 4, 10]], np.int64)), w)
    with pytest.raises(ValueError, match=r"indices\[0\] = -1"):
        fastnn.embedding_backward(cupy.ones((2, 4), cupy.float32), cupy.asarray(np.array([-1, 2])), 10)
    idx = cupy.asarray(np.arange(20, dtype=np.int64) % 10)[::2]
    np.testing.assert_array_equal(fastnn.embedding(idx, w).get(), w.get()[idx.get()])


# ---- dropout ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1,), (63,), (64,), (7, 129), (3, 5, 257)])
@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 1.0])
def test_dropout_same_bits_as_cpu(cupy, gen, shape, p):
    x = rand(shape, gen=gen)
    y_cpu, m_cpu = fastnn.dropout(x, p, seed=1234, offset=5, return_mask=True)
    y_gpu, m_gpu = fastnn.dropout(cupy.asarray(x), p, seed=1234, offset=5, return_mask=True)
    np.testing.assert_array_equal(m_gpu.get(), m_cpu)
    np.testing.assert_array_equal(y_gpu.get(), y_cpu)  # one FP32 multiply each: bit-identical
    np.testing.assert_array_equal(fastnn.dropout_mask(shape, p, seed=1234, offset=5, device="cuda").get(), m_cpu)
    g = rand(shape, gen=gen)
    np.testing.assert_array_equal(fastnn.dropout_backward(cupy.asarray(g), p, seed=1234, offset=5).get(),
                                  fastnn.dropout_backward(g, p, seed=1234, offset=5))


@pytest.mark.parametrize("path", ["float16", "bfloat16"])
def test_dropout_16bit_and_strided(cupy, gen, path):
    x32 = rand((6, 100), gen=gen)
    x, x64 = exact(x32, path)
    mask = fastnn.dropout_mask((6, 100), 0.3, seed=9)
    y = cuda_glue.dropout(cupy.asarray(x), 0.3, seed=9, offset=0, training=True, return_mask=False, **kw(path))
    assert_close(host64(y, path), x64 * mask / 0.7, rtol=rtol(path))
    big = cupy.asarray(rand((12, 200), gen=gen))
    view = big[::2, ::2]  # the mask follows the view's C-order flat index
    y, m = fastnn.dropout(view, 0.3, seed=9, return_mask=True)
    np.testing.assert_array_equal(m.get(), mask)


# ---- optimizer steps ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 33, 4097])
@pytest.mark.parametrize("nesterov,dampening,wd", [(False, 0.0, 0.0), (True, 0.0, 0.01), (False, 0.3, 0.05)])
def test_sgd_step(cupy, gen, n, nesterov, dampening, wd):
    p0, g, b0 = rand((n,), gen=gen), rand((n,), gen=gen), rand((n,), gen=gen)
    p, buf = cupy.asarray(p0), cupy.asarray(b0)
    for step in (1, 2):
        fastnn.sgd_step_(p, cupy.asarray(g), buf, lr=0.05, momentum=0.9, dampening=dampening, weight_decay=wd,
                         nesterov=nesterov, step=step)
        p0, b0 = ropt.sgd_step(p0, g, b0, lr=0.05, momentum=0.9, dampening=dampening, weight_decay=wd,
                               nesterov=nesterov, step=step)
        assert_close(p.get(), p0, k=4)
        assert_close(buf.get(), b0, k=4)


@pytest.mark.parametrize("n", [1, 33, 4097])
@pytest.mark.parametrize("decoupled,amsgrad,maximize", [(False, False, False), (True, True, False), (False, True, True)])
def test_adam_step(cupy, gen, n, decoupled, amsgrad, maximize):
    p0, m0, v0, vm0 = rand((n,), gen=gen), np.zeros(n, np.float32), np.zeros(n, np.float32), np.zeros(n, np.float32)
    p, m, v, vm = (cupy.asarray(a) for a in (p0, m0, v0, vm0))
    f = fastnn.adamw_step_ if decoupled else fastnn.adam_step_
    rf = ropt.adamw_step if decoupled else ropt.adam_step
    for step in (1, 2, 3):
        g = rand((n,), gen=gen)
        f(p, cupy.asarray(g), m, v, step=step, lr=1e-2, weight_decay=0.1, amsgrad=amsgrad,
          max_exp_avg_sq=vm if amsgrad else None, maximize=maximize)
        p0, m0, v0, vmx = rf(p0, g, m0, v0, step=step, lr=1e-2, weight_decay=0.1, amsgrad=amsgrad,
                             max_exp_avg_sq=vm0 if amsgrad else None, maximize=maximize)
        if amsgrad:
            vm0 = vmx
        assert_close(p.get(), p0, k=16)
        assert_close(m.get(), m0, k=4)
        assert_close(v.get(), v0, k=4)


# ---- broadcasting add / mul, sums and means -----------------------------------------------------------------

@pytest.mark.parametrize("path", PATHS)
def test_add_mul_broadcast_and_backward(cupy, gen, path):
    a, a64 = exact(rand((4, 1, 33), gen=gen), path)
    b, b64 = exact(rand((7, 1), gen=gen), path)
    g, g64 = exact(rand((4, 7, 33), gen=gen), path)
    for op, f in (("add", np.add), ("mul", np.multiply)):
        y = cuda_glue.binary(op, cupy.asarray(a), cupy.asarray(b), **kw(path))
        assert_close(host64(y, path), f(a64, b64), rtol=rtol(path, 2))
    ga, gb = cuda_glue.add_backward(cupy.asarray(g), a.shape, b.shape, **kw(path))
    assert_close(host64(ga, path), g64.sum(1, keepdims=True), rtol=rtol(path, 7))
    assert_close(host64(gb, path), g64.sum((0, 2))[:, None], rtol=rtol(path, 132))
    ga, gb = cuda_glue.mul_backward(cupy.asarray(g), cupy.asarray(a), cupy.asarray(b), **kw(path))
    assert_close(host64(ga, path), (g64 * b64).sum(1, keepdims=True), rtol=rtol(path, 7, 2))
    assert_close(host64(gb, path), (g64 * a64).sum((0, 2))[:, None], rtol=rtol(path, 132, 2))


@pytest.mark.parametrize("shape,axis", [((7, 129), None), ((7, 129), 0), ((3, 5, 300), (0, 2)), ((2, 3, 4), -1),
                                        ((5000, 3), 0)])
def test_sum_mean_public_api(cupy, gen, shape, axis):
    x = rand(shape, gen=gen)
    d = cupy.asarray(x)
    assert_close(fastnn.sum(d, axis=axis).get(), x.astype(np.float64).sum(axis=axis), k=x.size)
    m = fastnn.mean(d[:, ::-1] if len(shape) == 2 else d, axis=axis, keepdims=True)
    want = (x[:, ::-1] if len(shape) == 2 else x).astype(np.float64).mean(axis=axis, keepdims=True)
    assert_close(m.get(), want, k=x.size)
    g = rand(np.asarray(want).shape, gen=gen)
    gx = fastnn.mean_backward(cupy.asarray(g), shape, axis=axis, keepdims=True)
    count = x.size // g.size
    assert_close(gx.get(), np.broadcast_to(g / count, shape))
    y = fastnn.add(d, 1.5)  # a Python scalar operand
    assert_close(y.get(), x + 1.5)
    fastnn.mul(d, d, out=d)  # in place
    assert_close(d.get(), x * x)
