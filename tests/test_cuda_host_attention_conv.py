"""Host-side tests of CUDA attention, convolution and pooling without a GPU (see
test_cuda_host_glue.py for the method): dispatch through the public functions, validation in Python
and C++, and valid calls reaching the launch. Skips where a GPU is usable or without a CUDA build."""
from __future__ import annotations

import numpy as np
import pytest
from cuda_fakes import fake, fake_cuda, launch_error  # noqa: F401  (fixture)
from test_cuda_host_glue import desc, kernels

import fastnn


# ---- attention ----------------------------------------------------------------------------------------

def qkv(B=2, Hq=4, Hkv=2, Lq=9, Lk=13, D=64, Dv=None, dtype=np.float32):
    Dv = D if Dv is None else Dv
    return (fake(np.ones((B, Hq, Lq, D)), dtype), fake(np.ones((B, Hkv, Lk, D)), dtype),
            fake(np.ones((B, Hkv, Lk, Dv)), dtype))


def test_attention_dispatch(fake_cuda):
    rec = fake_cuda()
    q, k, v = qkv()
    mask = fake(np.ones((2, 1, 1, 13)), np.bool_)  # key padding
    out, lse = fastnn.attention(q, k, v, causal=True, mask=mask, return_lse=True)
    (qd, kd, vd, md, causal, scale, od, ld, kernel, _), _ = rec.last("attention_forward")
    assert causal is True and scale == pytest.approx(1 / 8) and kernel == "auto"
    assert md[1] == (2, 4, 9, 13) and md[2][1] == 0 and md[2][2] == 0 and md[3] == "bool"  # broadcast, no copy
    assert out.shape == (2, 4, 9, 64) and lse.shape == (2, 4, 9) and ld[3] == "float32"
    dq, dk, dv = fastnn.attention_backward(fake(np.ones((2, 4, 9, 64))), q, k, v, out, lse, causal=True, mask=mask)
    args, _ = rec.last("attention_backward")
    assert args[7] is True and dk.shape == (2, 2, 13, 64) and dv.shape == (2, 2, 13, 64)


def test_attention_fused_qkv_views_are_read_in_place(fake_cuda):
    rec = fake_cuda()
    qkv_ = fake(np.ones((2, 10, 3, 4, 32)))  # (B, L, 3, H, D) projection
    q, k, v = (qkv_[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
    fastnn.attention(q, k, v)
    (qd, *_), _ = rec.last("attention_forward")
    assert qd[2] == (10 * 3 * 4 * 32, 32, 3 * 4 * 32, 1)


def test_attention_launch_and_errors(fake_cuda):
    with launch_error():
        fastnn.attention(*qkv())  # simt (float32)
    with launch_error():
        fastnn.attention(*qkv(dtype=np.float16, D=128), causal=True)  # mma_sync eligible
    with launch_error():
        q, k, v = qkv(D=40, Dv=24)
        fastnn.attention_backward(fake(np.ones((2, 4, 9, 24))), q, k, v, fake(np.ones((2, 4, 9, 24))),
                                  fake(np.ones((2, 4, 9))), mask=fake(np.zeros((9, 13))))
    q, k, v = qkv()
    with pytest.raises(ValueError, match="multiple of k/v heads"):
        fastnn.attention(q, fake(np.ones((2, 3, 13, 64))), fake(np.ones((2, 3, 13, 64))))
    with pytest.raises(ValueError, match="head dims must be <= 256"):
        fastnn.attention(*qkv(D=300))
    with pytest.raises(TypeError, match="mask must be bool or float32"):
        fastnn.attention(q, k, v, mask=fake(np.ones((9, 13)), np.int32))
    with pytest.raises(ValueError, match="does not broadcast"):
        fastnn.attention(q, k, v, mask=fake(np.ones((9, 12)), np.bool_))
    with pytest.raises(TypeError, match="one dtype"):
        fastnn.attention(q, fake(np.ones((2, 2, 13, 64)), np.float16), v)
    with pytest.raises(ValueError, match="kernel must be one of"):
        fastnn.attention(q, k, v, kernel="cudnn")
    with pytest.raises(ValueError, match=r"lse must have shape \(2, 4, 9\)"):
        fastnn.attention_backward(fake(np.ones((2, 4, 9, 64))), q, k, v, fake(np.ones((2, 4, 9, 64))),
                                  fake(np.ones((2, 4, 8))))


def test_attention_cxx_checks(fake_cuda):
    k = kernels()
    q4, k4, v4 = desc((1, 2, 5, 64), "float16"), desc((1, 1, 7, 64), "float16"), desc((1, 1, 7, 64), "float16")
    out = desc((1, 2, 5, 64), "float16")
    with pytest.raises(ValueError, match="mask \\(broadcast to \\(B, Hq, Lq, Lk\\)\\) must have shape"):
        k.attention_forward(q4, k4, v4, desc((1, 1, 1, 7), "bool"), False, 0.125, out, None, "auto", 0)
    with pytest.raises(TypeError, match="v must be float16, got float32"):
        k.attention_forward(q4, k4, desc((1, 1, 7, 64)), None, False, 0.125, out, None, "auto", 0)
    with pytest.raises(ValueError, match="out must have shape"):
        k.attention_forward(q4, k4, v4, None, False, 0.125, desc((1, 2, 5, 32), "float16"), None, "auto", 0)
    with pytest.raises(ValueError, match="scale must be finite"):
        k.attention_forward(q4, k4, v4, None, False, float("inf"), out, None, "auto", 0)
    with pytest.raises(ValueError, match="kernel must be 'auto', 'mma_sync' or 'simt'"):
        k.attention_forward(q4, k4, v4, None, False, 0.125, out, None, "wgmma", 0)
    # A forced kernel is checked after the arguments, at launch time (device properties): no driver here.
    with launch_error():
        k.attention_forward(q4, k4, v4, None, True, 0.125, out, desc((1, 2, 5)), "mma_sync", 0)


# ---- convolution ------------------------------------------------------------------------------------------

def test_conv2d_dispatch(fake_cuda):
    rec = fake_cuda()
    x = fake(np.ones((2, 6, 11, 13)))
    w = fake(np.ones((8, 3, 3, 3)))
    y = fastnn.conv2d(x, w, fake(np.ones(8)), stride=(2, 1), padding="valid", groups=2, activation="silu")
    (xd, wd, bd, stride, pad, dil, groups, act, od, kernel, _), _ = rec.last("conv2d")
    assert y.shape == (2, 8, 5, 11) and stride == (2, 1) and pad == (0, 0) and groups == 2 and act == 6
    y = fastnn.conv2d(x, fake(np.ones((4, 6, 3, 4))), padding="same")
    (xd, wd, bd, stride, pad, *_), _ = rec.last("conv2d")
    assert pad == (1, 1) and y.shape == (2, 4, 11, 13)  # 'same' 4-wide: 1 left, 2 right
    gx, gw, gb = fastnn.conv2d_backward(fake(np.ones((2, 4, 11, 13))), x, fake(np.ones((4, 6, 3, 4))),
                                        fake(np.ones(4)), padding="same", activation="relu")
    args, _ = rec.last("conv2d_backward")
    assert args[8] == 1 and gx.shape == (2, 6, 11, 13) and gw.shape == (4, 6, 3, 4) and gb.shape == (4,)


def test_conv1d_and_transposed_dispatch(fake_cuda):
    rec = fake_cuda()
    y = fastnn.conv1d(fake(np.ones((2, 4, 17))), fake(np.ones((5, 4, 3))), stride=2)
    (xd, wd, *_), _ = rec.last("conv2d")
    assert xd[1] == (2, 4, 1, 17) and y.shape == (2, 5, 8)
    y = fastnn.conv_transpose2d(fake(np.ones((2, 4, 5, 6))), fake(np.ones((4, 3, 3, 3))), fake(np.ones(6)),
                                stride=2, padding=1, output_padding=1, groups=2)
    (xd, wd, bd, stride, pad, dil, groups, od, *_), _ = rec.last("conv_transpose2d")
    assert y.shape == (2, 6, 10, 12) and od[1] == (2, 6, 10, 12) and groups == 2
    gx, gw, gb = fastnn.conv_transpose2d_backward(fake(np.ones((2, 6, 10, 12))), fake(np.ones((2, 4, 5, 6))),
                                                  fake(np.ones((4, 3, 3, 3))), fake(np.ones(6)), stride=2, padding=1,
                                                  output_padding=1, groups=2)
    assert gx.shape == (2, 4, 5, 6) and gw.shape == (4, 3, 3, 3) and gb.shape == (6,)


def test_conv_launch_and_errors(fake_cuda):
    with launch_error():
        fastnn.conv2d(fake(np.ones((2, 8, 9, 9)), np.float16), fake(np.ones((16, 8, 3, 3)), np.float16), padding=1)
    with launch_error():
        fastnn.conv2d(fake(np.ones((2, 5, 9, 9))), fake(np.ones((5, 1, 3, 3))), groups=5)  # depthwise
    with launch_error():
        fastnn.conv2d_backward(fake(np.ones((2, 4, 7, 7))), fake(np.ones((2, 3, 9, 9))), fake(np.ones((4, 3, 3, 3))))
    with launch_error():
        fastnn.conv_transpose2d(fake(np.ones((1, 4, 3, 3))), fake(np.ones((4, 2, 2, 2))), stride=2)
    with pytest.raises(ValueError, match="groups=4 must divide"):
        fastnn.conv2d(fake(np.ones((2, 6, 9, 9))), fake(np.ones((8, 1, 3, 3))), groups=4)
    with pytest.raises(TypeError, match="one dtype"):
        fastnn.conv2d(fake(np.ones((2, 6, 9, 9))), fake(np.ones((8, 6, 3, 3)), np.float16))
    with pytest.raises(ValueError, match="grad_out must have the output's shape"):
        fastnn.conv2d_backward(fake(np.ones((2, 4, 6, 7))), fake(np.ones((2, 3, 9, 9))), fake(np.ones((4, 3, 3, 3))))
    # C++: groups, weight shape, kernel choice
    k = kernels()
    with pytest.raises(ValueError, match="weight must have shape"):
        k.conv2d(desc((1, 4, 5, 5)), desc((2, 3, 3, 3)), None, (1, 1), (0, 0), (1, 1), 1, 0, desc((1, 2, 3, 3)),
                 "auto", 0)
    with pytest.raises(ValueError, match="kernel 'depthwise' needs groups == C"):
        k.conv2d(desc((1, 4, 5, 5)), desc((2, 4, 3, 3)), None, (1, 1), (0, 0), (1, 1), 1, 0, desc((1, 2, 3, 3)),
                 "depthwise", 0)
    with pytest.raises(ValueError, match="unknown activation code"):
        k.conv2d(desc((1, 4, 5, 5)), desc((2, 4, 3, 3)), None, (1, 1), (0, 0), (1, 1), 1, 9, desc((1, 2, 3, 3)),
                 "auto", 0)


# ---- pooling --------------------------------------------------------------------------------------------------

def test_pool_dispatch(fake_cuda):
    rec = fake_cuda()
    x = fake(np.ones((2, 3, 11, 12)))
    y, ind = fastnn.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True)
    args, _ = rec.last("max_pool2d")
    assert y.shape == (2, 3, 6, 7) and ind.dtype == np.int64 and args[5] is True
    fastnn.max_pool2d_backward(fake(np.ones((2, 3, 6, 7))), x, ind, 3, 2, 1, ceil_mode=True)
    rec.last("max_pool2d_backward")
    y = fastnn.avg_pool2d(fake(np.ones((3, 11, 12))), (2, 3), count_include_pad=False, divisor_override=5)
    args, _ = rec.last("avg_pool2d")
    assert y.shape == (3, 5, 4) and args[0][1] == (1, 3, 11, 12) and args[6] == 5
    y = fastnn.adaptive_avg_pool2d(x, (4, None))
    assert y.shape == (2, 3, 4, 12)
    g = fastnn.adaptive_avg_pool2d_backward(fake(np.ones((2, 3, 4, 12))), x, (4, None))
    assert g.shape == (2, 3, 11, 12)


def test_pool_launch_and_errors(fake_cuda):
    with launch_error():
        fastnn.max_pool2d(fake(np.ones((2, 3, 8, 8))), 2)
    with launch_error():
        fastnn.avg_pool2d_backward(fake(np.ones((2, 3, 4, 4))), fake(np.ones((2, 3, 8, 8))), 2)
    with pytest.raises(ValueError, match="padding must be at most half"):
        fastnn.max_pool2d(fake(np.ones((2, 3, 8, 8))), 2, padding=2)
    with pytest.raises(ValueError, match="grad_out must have the output's shape"):
        fastnn.avg_pool2d_backward(fake(np.ones((2, 3, 5, 4))), fake(np.ones((2, 3, 8, 8))), 2)
    with pytest.raises(TypeError, match="indices must be int64"):
        fastnn.max_pool2d_backward(fake(np.ones((2, 3, 4, 4))), fake(np.ones((2, 3, 8, 8))),
                                   fake(np.zeros((2, 3, 4, 4)), np.int32), 2)
    with pytest.raises(ValueError, match="the pooling window"):
        kernels().max_pool2d(desc((1, 1, 2, 2)), (5, 5), (1, 1), (0, 0), (1, 1), False, desc((1, 1, 1, 1)), None, 0)
