"""Host-side tests of the CUDA glue ops (activations, softmax, cross_entropy, norms, embedding,
dropout, optimizer steps) without a GPU: stand-in CUDA arrays (cuda_fakes) drive the public
functions through device dispatch, Python validation, output allocation and the C++ checks up to
the first CUDA call. Three kinds of checks per op:
  * dispatch: with the kernel recorder, the CUDA entry point gets the right descriptors and flags;
  * launch: valid arguments pass every check and fail only at the launch (no driver here), so the
    C++ validation accepts what the Python layer sends;
  * errors: bad dtypes / shapes / devices raise TypeError / ValueError naming the argument, both in
    Python and in C++ (called directly with descriptors).
Skips where a GPU is usable (tests/cuda runs the kernels there) or without a CUDA build."""
from __future__ import annotations

import numpy as np
import pytest
from cuda_fakes import fake, fake_cuda, launch_error  # noqa: F401  (fixture)

import fastnn


def desc(shape, dtype="float32", strides=None, ptr=4096):
    """A C++ descriptor of a (never dereferenced) CUDA array."""
    if strides is None:
        strides, step = [], 1
        for n in reversed(shape):
            strides.append(step)
            step *= max(n, 1)
        strides = list(reversed(strides))
    return (ptr, list(shape), list(strides), dtype)


def kernels():
    from fastnn._ext import _C_cuda

    return _C_cuda


# ---- activations ----------------------------------------------------------------------------------

ACTS = [("relu", {}), ("leaky_relu", {"negative_slope": 0.2}), ("gelu", {}), ("gelu", {"approximate": "tanh"}),
        ("silu", {}), ("sigmoid", {}), ("tanh", {}), ("softplus", {"beta": 2.0, "threshold": 10.0})]


@pytest.mark.parametrize("name,kw", ACTS)
def test_activation_dispatch(fake_cuda, name, kw):
    rec = fake_cuda()
    x = fake(np.ones((7, 13)))
    y = getattr(fastnn, name)(x, **kw)
    assert y.shape == (7, 13) and y.dtype == np.float32
    (kind, xd, yd, slope, beta, thr, stream), _ = rec.last("activation")
    expect = {"relu": 0, "leaky_relu": 1, "gelu": 2, "silu": 4, "sigmoid": 5, "tanh": 6, "softplus": 7}[name]
    if kw.get("approximate") == "tanh":
        expect = 3
    assert kind == expect and xd[1:] == ((7, 13), (13, 1), "float32") and stream == 0
    assert slope == kw.get("negative_slope", 0.01) and beta == kw.get("beta", 1.0)
    g = getattr(fastnn, name + "_backward")(fake(np.ones((7, 13))), x, **kw)
    (kind2, gd, xd2, dd, *_), _ = rec.last("activation_backward")
    assert kind2 == expect and gd[1] == (7, 13) and g.shape == (7, 13)


def test_activation_strided_in_place_and_out(fake_cuda):
    rec = fake_cuda()
    base = fake(np.ones((8, 10)))
    view = base[::2, 1:]  # strided: passed as it is (the kernel decodes strides)
    fastnn.relu(view)
    (_, xd, *_), _ = rec.last("activation")
    assert xd[1] == (4, 9) and xd[2] == (20, 1)
    fastnn.relu(base, out=base)  # in place: out is x itself
    (_, xd, yd, *_), _ = rec.last("activation")
    assert xd[0] == yd[0]


def test_activation_launch_and_errors(fake_cuda):
    with launch_error():
        fastnn.gelu(fake(np.ones((3, 5))))
    with launch_error():
        fastnn.silu_backward(fake(np.ones(9), np.float16), fake(np.ones(9), np.float16))
    with pytest.raises(TypeError, match="x must be float32, float16 or bfloat16"):
        fastnn.relu(fake(np.ones(3), np.float64))
    with pytest.raises(ValueError, match="one device"):
        fastnn.relu_backward(np.ones(3, np.float32), fake(np.ones(3)))
    with pytest.raises(ValueError, match="grad_out must have the shape of x"):
        fastnn.relu_backward(fake(np.ones(4)), fake(np.ones(3)))
    with pytest.raises(TypeError, match="one dtype"):
        fastnn.tanh_backward(fake(np.ones(3), np.float16), fake(np.ones(3)))
    with pytest.raises(ValueError, match="beta must be nonzero"):
        fastnn.softplus(fake(np.ones(3)), beta=0.0)


def test_activation_cxx_checks(fake_cuda):
    k = kernels()
    with pytest.raises(ValueError, match="unknown activation kind 9"):
        k.activation(9, desc((3,)), desc((3,)), 0.01, 1.0, 20.0, 0)
    with pytest.raises(ValueError, match="out must have the shape of x"):
        k.activation(0, desc((3,)), desc((4,)), 0.01, 1.0, 20.0, 0)
    with pytest.raises(TypeError, match="out must be float32, got float16"):
        k.activation(0, desc((3,)), desc((3,), "float16"), 0.01, 1.0, 20.0, 0)
    with pytest.raises(ValueError, match="out must not have zero strides"):
        k.activation(0, desc((3,)), desc((3,), strides=[0]), 0.01, 1.0, 20.0, 0)
    with pytest.raises(ValueError, match="negative_slope must be finite"):
        k.activation(1, desc((3,)), desc((3,)), float("nan"), 1.0, 20.0, 0)
    with pytest.raises(TypeError, match="unsupported dtype"):
        k.activation(0, desc((3,), "complex64"), desc((3,)), 0.01, 1.0, 20.0, 0)


# ---- softmax ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_dispatch(fake_cuda, dim):
    rec = fake_cuda()
    x = fake(np.ones((5, 7, 3)))
    y = fastnn.log_softmax(x, dim)
    (xd, yd, d, log, _), _ = rec.last("softmax")
    assert d == dim and log is True and xd[1] == (5, 7, 3) and yd[2] == (21, 3, 1) and y.shape == (5, 7, 3)
    fastnn.softmax_backward(fake(np.ones((5, 7, 3))), y, dim)
    (gd, yd2, dd, d2, log2, _), _ = rec.last("softmax_backward")
    assert d2 == dim and log2 is False


def test_softmax_copies_strided_input(fake_cuda):
    rec = fake_cuda()
    x = fake(np.ones((6, 8)))[:, ::2]
    fastnn.softmax(x, 1)
    (xd, *_), _ = rec.last("softmax")
    assert xd[2] == (4, 1)  # made C-contiguous before the row kernel


def test_softmax_launch_and_errors(fake_cuda):
    with launch_error():
        fastnn.softmax(fake(np.ones((4, 1500))), -1)  # block-per-row layout
    with launch_error():
        fastnn.softmax(fake(np.ones((4, 9, 5))), 1)  # column layout
    with pytest.raises(ValueError, match="dim 3 is out of range"):
        fastnn.softmax(fake(np.ones((2, 2))), 3)
    with pytest.raises(ValueError, match="dim 2 is out of range"):
        kernels().softmax(desc((2, 2)), desc((2, 2)), 2, False, 0)
    with pytest.raises(ValueError, match="x must be C-contiguous"):
        kernels().softmax(desc((2, 3), strides=[1, 2]), desc((2, 3)), 1, False, 0)


# ---- cross entropy ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_dispatch(fake_cuda, reduction):
    rec = fake_cuda()
    logits = fake(np.ones((6, 11, 4)))
    t = fake(np.zeros((6, 4)), np.int64)
    loss = fastnn.cross_entropy(logits, t, reduction=reduction, ignore_index=3, label_smoothing=0.1)
    (ld, td, wd, ign, eps, red, od, _), _ = rec.last("cross_entropy")
    assert ld[1] == (6, 11, 4) and td[3] == "int64" and wd is None and ign == 3 and eps == pytest.approx(0.1)
    assert red == {"none": 0, "mean": 1, "sum": 2}[reduction]
    assert loss.shape == ((6, 4) if reduction == "none" else ())
    g = fake(np.ones((6, 4))) if reduction == "none" else 1.0
    dx = fastnn.cross_entropy_backward(g, logits, t, reduction=reduction)
    (gd, gs, *_rest), _ = rec.last("cross_entropy_backward")
    assert dx.shape == (6, 11, 4)
    assert (gd is None and gs == 1.0) if reduction != "none" else gd[1] == (6, 4)


def test_cross_entropy_device_scalar_grad_and_unbatched(fake_cuda):
    rec = fake_cuda()
    logits = fake(np.ones(9))
    t = fake(np.array(2), np.int32)
    assert fastnn.cross_entropy(logits, t, reduction="none").shape == ()
    fastnn.cross_entropy_backward(fake(np.array(2.0)), logits, t)  # a 0-d CUDA grad: read on the device
    (gd, gs, ld, td, *_), _ = rec.last("cross_entropy_backward")
    assert gd[1] == () and ld[1] == (1, 9) and td[1] == (1,) and td[3] == "int32"


def test_cross_entropy_launch_and_errors(fake_cuda):
    with launch_error():
        fastnn.cross_entropy(fake(np.ones((5, 7))), fake(np.zeros(5), np.int64))
    with launch_error():
        fastnn.cross_entropy_backward(1.0, fake(np.ones((5, 7, 2))), fake(np.zeros((5, 2)), np.int64),
                                      weight=fake(np.ones(7)), label_smoothing=0.2)
    with pytest.raises(TypeError, match="target must hold integer class indices"):
        fastnn.cross_entropy(fake(np.ones((5, 7))), fake(np.zeros(5)))
    with pytest.raises(ValueError, match=r"target must have shape \(5,\)"):
        fastnn.cross_entropy(fake(np.ones((5, 7))), fake(np.zeros(4), np.int64))
    with pytest.raises(ValueError, match="weight must have shape"):
        fastnn.cross_entropy(fake(np.ones((5, 7))), fake(np.zeros(5), np.int64), weight=fake(np.ones(6)))
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        fastnn.cross_entropy(fake(np.ones((5, 7))), fake(np.zeros(5), np.int64), label_smoothing=1.5)
    with pytest.raises(ValueError, match="target must have shape"):
        kernels().cross_entropy(desc((5, 7)), desc((4,), "int64"), None, -100, 0.0, 1, desc(()), 0)
    with pytest.raises(TypeError, match="target must be int64 or int32"):
        kernels().cross_entropy(desc((5, 7)), desc((5,), "float32"), None, -100, 0.0, 1, desc(()), 0)
    with pytest.raises(ValueError, match="out must hold one element"):
        kernels().cross_entropy(desc((5, 7)), desc((5,), "int64"), None, -100, 0.0, 1, desc((5,)), 0)


# ---- norms -------------------------------------------------------------------------------------------------

def test_layer_norm_dispatch_and_stats(fake_cuda):
    rec = fake_cuda()
    x = fake(np.ones((3, 5, 33)))
    w, b = fake(np.ones(33)), fake(np.ones(33))
    y, mean, rstd = fastnn.layer_norm(x, 33, w, b, 1e-5, return_stats=True)
    (rms, xd, wd, bd, eps, yd, md, rd, _), _ = rec.last("row_norm")
    assert rms is False and xd[1] == (15, 33) and md[1] == (15,) and mean.shape == (3, 5) and rstd.shape == (3, 5)
    gx, gw, gb = fastnn.layer_norm_backward(fake(np.ones((3, 5, 33))), x, 33, w, b, mean=mean, rstd=rstd)
    (rms, gd, xd, wd, md, rd, eps, dxd, dwd, dbd, _), _ = rec.last("row_norm_backward")
    assert md[1] == (15,) and dwd[1] == (33,) and dbd[1] == (33,) and gx.shape == (3, 5, 33)


def test_rms_norm_dispatch(fake_cuda):
    rec = fake_cuda()
    x = fake(np.ones((4, 2, 6)))
    y, rstd = fastnn.rms_norm(x, (2, 6), fake(np.ones((2, 6))), return_stats=True)
    (rms, xd, wd, bd, eps, yd, md, rd, _), _ = rec.last("row_norm")
    assert rms is True and xd[1] == (4, 12) and bd is None and md is None and eps == pytest.approx(2.0**-23)
    gx, gw = fastnn.rms_norm_backward(fake(np.ones((4, 2, 6))), x, (2, 6), fake(np.ones((2, 6))), rstd=rstd)
    assert gw.shape == (2, 6)


def test_batch_norm_dispatch(fake_cuda):
    rec = fake_cuda()
    x = fake(np.ones((4, 3, 5, 6)))
    rm, rv = fake(np.zeros(3)), fake(np.ones(3))
    y, mean, rstd = fastnn.batch_norm(x, rm, rv, fake(np.ones(3)), fake(np.ones(3)), True, 0.1, 1e-5,
                                      return_stats=True)
    args, _ = rec.last("batch_norm")
    assert args[0][1] == (4, 3, 30) and args[5] is True and mean.shape == (3,)
    gx, gw, gb = fastnn.batch_norm_backward(fake(np.ones((4, 3, 5, 6))), x, fake(np.ones(3)), None, rm, rv, True,
                                            mean=mean, rstd=rstd)
    args, _ = rec.last("batch_norm_backward")
    assert args[7][1] == (3,) and gb is None and gw.shape == (3,)


def test_norm_launch_and_errors(fake_cuda):
    with launch_error():
        fastnn.layer_norm(fake(np.ones((3, 1100))), 1100)  # block-per-row layout
    with launch_error():
        fastnn.rms_norm_backward(fake(np.ones((3, 40))), fake(np.ones((3, 40))), 40, fake(np.ones(40)))
    with launch_error():
        fastnn.batch_norm(fake(np.ones((4, 3))), fake(np.zeros(3)), fake(np.ones(3)), training=True)
    with launch_error():
        fastnn.batch_norm_backward(fake(np.ones((4, 3, 2))), fake(np.ones((4, 3, 2))), None, None, fake(np.zeros(3)),
                                   fake(np.ones(3)), False)
    with pytest.raises(ValueError, match="normalized_shape"):
        fastnn.layer_norm(fake(np.ones((3, 4))), 5)
    with pytest.raises(TypeError, match="weight must be float32"):
        fastnn.layer_norm(fake(np.ones((3, 4))), 4, fake(np.ones(4), np.float16))
    with pytest.raises(ValueError, match="pass both mean and rstd"):
        fastnn.layer_norm_backward(fake(np.ones((3, 4))), fake(np.ones((3, 4))), 4, mean=fake(np.ones(3)))
    with pytest.raises(ValueError, match="running_mean and running_var are required"):
        fastnn.batch_norm(fake(np.ones((4, 3))), None, None, training=False)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        fastnn.batch_norm(fake(np.ones((1, 3))), None, None, training=True)
    with pytest.raises(ValueError, match=r"mean must have shape \(3,\)"):
        kernels().row_norm(False, desc((3, 4)), None, None, 1e-5, desc((3, 4)), desc((4,)), None, 0)
    with pytest.raises(ValueError, match="rms_norm has no bias"):
        kernels().row_norm(True, desc((3, 4)), None, desc((4,)), 1e-5, desc((3, 4)), None, None, 0)


# ---- embedding -----------------------------------------------------------------------------------------------

def test_embedding_dispatch(fake_cuda):
    rec = fake_cuda()
    idx = fake(np.zeros((3, 4)), np.int64)
    w = fake(np.ones((10, 7)))
    y = fastnn.embedding(idx, w)
    (idd, wd, od, _), _ = rec.last("embedding")
    assert idd[1] == (3, 4) and od[1] == (12, 7) and y.shape == (3, 4, 7)
    gw = fastnn.embedding_backward(fake(np.ones((3, 4, 7))), idx, 10, padding_idx=-1)
    (gd, idd, pad, gwd, _), _ = rec.last("embedding_backward")
    assert pad == 9 and gd[1] == (12, 7) and gw.shape == (10, 7)


def test_embedding_launch_and_errors(fake_cuda):
    with launch_error():
        fastnn.embedding(fake(np.zeros(5), np.int32), fake(np.ones((4, 3))))
    with launch_error():
        fastnn.embedding_backward(fake(np.ones((5, 3))), fake(np.zeros(5), np.int64), 4)
    with pytest.raises(TypeError, match="indices must be int64 or int32"):
        fastnn.embedding(fake(np.zeros(5)), fake(np.ones((4, 3))))
    with pytest.raises(ValueError, match="padding_idx must be within"):
        fastnn.embedding(fake(np.zeros(5), np.int64), fake(np.ones((4, 3))), padding_idx=4)
    with pytest.raises(ValueError, match="grad_out must have shape indices.shape"):
        fastnn.embedding_backward(fake(np.ones((5, 3))), fake(np.zeros(4), np.int64), 4)
    with pytest.raises(ValueError, match="indices must be C-contiguous"):
        kernels().embedding(desc((4,), "int64", strides=[2]), desc((3, 2)), desc((4, 2)), 0)


# ---- dropout ----------------------------------------------------------------------------------------------------

def test_dropout_dispatch(fake_cuda):
    rec = fake_cuda()
    x = fake(np.ones((5, 70)))
    y, mask = fastnn.dropout(x, 0.3, seed=7, offset=2, return_mask=True)
    (xd, yd, md, p, seed, offset, _), _ = rec.last("dropout")
    assert p == 0.3 and seed == 7 and offset == 2 and md[3] == "bool" and mask.shape == (5, 70)
    fastnn.dropout_backward(fake(np.ones((5, 70))), 0.3, seed=7, offset=2)
    (gd, dd, md, *_), _ = rec.last("dropout")
    assert md is None
    m = fastnn.dropout_mask((3, 4), 0.5, seed=1, device="cuda")
    (xd, yd, md, *_), _ = rec.last("dropout")
    assert xd is None and yd is None and md[1] == (3, 4) and m.shape == (3, 4)
    assert fastnn.dropout(x, 0.3, seed=7, training=False) is x


def test_dropout_launch_and_errors(fake_cuda):
    with launch_error():
        fastnn.dropout(fake(np.ones(100)), 0.5, seed=3)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        fastnn.dropout(fake(np.ones(3)), 1.5, seed=3)
    with pytest.raises(ValueError, match="nothing to write"):
        kernels().dropout(desc((3,)), None, None, 0.5, 1, 0, 0)
    with pytest.raises(TypeError, match="mask must be bool or uint8"):
        kernels().dropout(desc((3,)), desc((3,)), desc((3,), "int32"), 0.5, 1, 0, 0)


# ---- optimizer steps ------------------------------------------------------------------------------------------------

def test_optim_dispatch(fake_cuda):
    rec = fake_cuda()
    p, g, m = fake(np.ones(10)), fake(np.ones(10)), fake(np.zeros(10))
    fastnn.sgd_step_(p, g, m, lr=0.1, momentum=0.9, step=1)
    args, _ = rec.last("sgd_step")
    assert args[3] == 0.1 and args[4] == 0.9 and args[9] is True
    v = fake(np.zeros(10))
    fastnn.adamw_step_(p, g, m, v, step=3, lr=1e-3)
    args, _ = rec.last("adam_step")
    assert args[5] == 3 and args[13] is True and args[4] is None


def test_optim_launch_and_errors(fake_cuda):
    with launch_error():
        fastnn.adam_step_(fake(np.ones(10)), fake(np.ones(10)), fake(np.zeros(10)), fake(np.zeros(10)), step=1)
    p = fake(np.ones(10))
    with pytest.raises(ValueError, match="param and grad share memory"):
        fastnn.sgd_step_(p, p, lr=0.1)
    with pytest.raises(TypeError, match="grad must be float32"):
        fastnn.sgd_step_(p, fake(np.ones(10), np.float16), lr=0.1)
    with pytest.raises(ValueError, match="must be C-contiguous"):
        fastnn.sgd_step_(fake(np.ones((4, 4)))[:, ::2], fake(np.ones((4, 2))), lr=0.1)
    with pytest.raises(ValueError, match="beta1 must be in"):
        fastnn.adam_step_(p, fake(np.ones(10)), fake(np.zeros(10)), fake(np.zeros(10)), step=1, beta1=1.0)
    with pytest.raises(ValueError, match="share memory"):
        kernels().sgd_step(desc((8,), ptr=4096), desc((8,), ptr=4096 + 16), None, 0.1, 0.0, 0.0, 0.0, False, False,
                           False, 0)


# ---- broadcasting add / mul, sums and means -----------------------------------------------------------------

def test_elementwise_reduce_dispatch(fake_cuda):
    rec = fake_cuda()
    a, b = fake(np.ones((4, 1, 5))), fake(np.ones((3, 1)))
    y = fastnn.add(a, b)
    (op, ad, bd, scale, od, _), _ = rec.last("binary")
    assert op == 0 and y.shape == (4, 3, 5) and ad[2][1] == 0 and bd[2][0] == 0  # broadcast: zero strides
    fastnn.mul(a, 2.0)
    (op, ad, bd, *_), _ = rec.last("binary")
    assert op == 1 and bd[1] == (4, 1, 5) and bd[2] == (0, 0, 0)
    ga, gb = fastnn.add_backward(fake(np.ones((4, 3, 5))), a, b)
    args, _ = rec.last("reduce_sum")
    assert ga.shape == (4, 1, 5) and gb.shape == (3, 1) and args[1] == 0b101  # b summed over axes 0 and 2
    s = fastnn.sum(fake(np.ones((4, 3, 5))), axis=(0, -1), keepdims=True)
    (xd, mask, scale, od, _), _ = rec.last("reduce_sum")
    assert mask == 0b101 and scale == 1.0 and s.shape == (1, 3, 1)
    m = fastnn.mean(fake(np.ones((4, 3, 5))), axis=1)
    (xd, mask, scale, od, _), _ = rec.last("reduce_sum")
    assert mask == 0b010 and scale == pytest.approx(1 / 3) and m.shape == (4, 5)
    g = fastnn.mean_backward(fake(np.ones((4, 5))), (4, 3, 5), axis=1)
    (op, ad, bd, scale, od, _), _ = rec.last("binary")
    assert op == 2 and bd is None and scale == pytest.approx(1 / 3) and g.shape == (4, 3, 5) and ad[2][1] == 0


def test_elementwise_reduce_launch_and_errors(fake_cuda):
    with launch_error():
        fastnn.add(fake(np.ones((4, 5))), fake(np.ones(5)))
    with launch_error():
        fastnn.sum(fake(np.ones((300, 7))))
    with launch_error():
        fastnn.mul_backward(fake(np.ones((4, 5))), fake(np.ones((4, 5))), fake(np.ones(5)))
    with pytest.raises(ValueError, match="do not broadcast"):
        fastnn.add(fake(np.ones((4, 5))), fake(np.ones(4)))
    with pytest.raises(ValueError, match="grad_out must have the broadcast shape"):
        fastnn.add_backward(fake(np.ones((4, 4))), (4, 5), (5,))
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        fastnn.sum(fake(np.ones((4, 5))), axis=2)
    with pytest.raises(ValueError, match="out must hold the 5 kept elements"):
        kernels().reduce_sum(desc((4, 5)), 0b01, 1.0, desc((4,)), 0)
    with pytest.raises(ValueError, match="b \\(broadcast\\) must have the shape of out"):
        kernels().binary(0, desc((4, 5)), desc((5,)), 1.0, desc((4, 5)), 0)
