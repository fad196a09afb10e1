"""attention / attention_backward: bad input raises ValueError/TypeError naming the function and
argument — in Python and again in the raw C++ binding."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn


def f32(*shape):
    return np.ones(shape, np.float32)


Q, K, V = f32(2, 4, 5, 8), f32(2, 2, 6, 8), f32(2, 2, 6, 8)


@pytest.mark.parametrize("arg", ["q", "k", "v"])
def test_float64_rejected_with_hint(arg):
    args = {"q": Q, "k": K, "v": V}
    args[arg] = args[arg].astype(np.float64)
    with pytest.raises(TypeError, match=rf"attention: {arg} must be float32, got float64.*astype"):
        fastnn.attention(**args)


@pytest.mark.parametrize("arg", ["q", "k", "v"])
def test_rank(arg):
    args = {"q": Q, "k": K, "v": V}
    args[arg] = args[arg][0]
    with pytest.raises(ValueError, match=rf"attention: {arg} must have 4 dimensions"):
        fastnn.attention(**args)


def test_shape_mismatches():
    with pytest.raises(ValueError, match="same head dim"):
        fastnn.attention(Q, f32(2, 2, 6, 9), f32(2, 2, 6, 9))
    with pytest.raises(ValueError, match="multiple of k/v heads"):
        fastnn.attention(Q, f32(2, 3, 6, 8), f32(2, 3, 6, 8))
    with pytest.raises(ValueError, match="k and v must agree"):
        fastnn.attention(Q, K, f32(2, 2, 7, 8))
    with pytest.raises(ValueError, match="batch sizes differ"):
        fastnn.attention(Q, f32(1, 2, 6, 8), f32(1, 2, 6, 8))
    with pytest.raises(ValueError, match="head dims must be >= 1"):
        fastnn.attention(f32(2, 4, 5, 0), f32(2, 2, 6, 0), V)


def test_mask_errors():
    with pytest.raises(TypeError, match="mask must be bool .* or float32"):
        fastnn.attention(Q, K, V, mask=np.ones((5, 6), np.int32))
    with pytest.raises(TypeError, match="mask must be bool .* or float32"):
        fastnn.attention(Q, K, V, mask=np.ones((5, 6)))
    with pytest.raises(ValueError, match=r"mask of shape \(5, 7\) does not broadcast to \(2, 4, 5, 6\)"):
        fastnn.attention(Q, K, V, mask=np.ones((5, 7), bool))
    with pytest.raises(ValueError, match="mask must broadcast"):
        fastnn.attention(Q, K, V, mask=np.ones((1, 2, 4, 5, 6), bool))


def test_scalar_arguments():
    for bad in (np.inf, np.nan):
        with pytest.raises(ValueError, match="attention: scale must be finite"):
            fastnn.attention(Q, K, V, scale=bad)
    with pytest.raises(TypeError, match="scale must be a real number"):
        fastnn.attention(Q, K, V, scale="half")
    with pytest.raises(TypeError, match="causal must be a bool"):
        fastnn.attention(Q, K, V, causal=1)
    with pytest.raises(TypeError, match="return_lse must be a bool"):
        fastnn.attention(Q, K, V, return_lse="yes")


def test_non_arrays_and_cuda():
    with pytest.raises(TypeError, match="attention: q: expected a NumPy or CuPy array"):
        fastnn.attention([[1.0]], K, V)


def test_backward_argument_errors():
    out, lse = fastnn.attention(Q, K, V, return_lse=True)
    with pytest.raises(ValueError, match=r"attention_backward: lse must have shape \(2, 4, 5\)"):
        fastnn.attention_backward(out, Q, K, V, out, lse[:, :, :4])
    with pytest.raises(ValueError, match="attention_backward: grad_out must have shape"):
        fastnn.attention_backward(out[:, :2], Q, K, V, out, lse)
    with pytest.raises(TypeError, match="attention_backward: out must be float32"):
        fastnn.attention_backward(out, Q, K, V, out.astype(np.float64), lse)
    with pytest.raises(ValueError, match="attention_backward: q heads"):
        fastnn.attention_backward(out, Q, f32(2, 3, 6, 8), f32(2, 3, 6, 8), out, lse)


def test_cpp_validates_too():
    """The raw bindings trust nothing from Python."""
    C = fastnn._C
    out, lse = f32(2, 4, 5, 8), f32(2, 4, 5)
    with pytest.raises(ValueError, match="attention: q heads"):
        C.attention_forward(Q, f32(2, 3, 6, 8), f32(2, 3, 6, 8), None, False, 1.0, out, None)
    with pytest.raises(ValueError, match="attention: q must have 4 dimensions"):
        C.attention_forward(Q[0], K, V, None, False, 1.0, out, None)
    with pytest.raises(ValueError, match=r"attention: out must have shape \(2, 4, 5, 8\)"):
        C.attention_forward(Q, K, V, None, False, 1.0, f32(2, 4, 5, 7), None)
    with pytest.raises(ValueError, match="attention: lse must have shape"):
        C.attention_forward(Q, K, V, None, False, 1.0, out, f32(2, 4, 6))
    with pytest.raises(TypeError, match="attention: mask must be bool or float32"):
        C.attention_forward(Q, K, V, np.ones((1, 1, 1, 6), np.int32), False, 1.0, out, None)
    with pytest.raises(ValueError, match="attention: mask must broadcast"):
        C.attention_forward(Q, K, V, np.ones((5, 6), bool), False, 1.0, out, None)
    with pytest.raises(ValueError, match="attention: scale must be finite"):
        C.attention_forward(Q, K, V, None, False, float("nan"), out, None)
    with pytest.raises(ValueError, match="out must not have zero strides"):
        zero_stride = np.lib.stride_tricks.as_strided(f32(4, 5, 8), shape=(2, 4, 5, 8), strides=(0, 160, 32, 4))
        C.attention_forward(Q, K, V, None, False, 1.0, zero_stride, None)
    with pytest.raises(ValueError, match="out is read-only"):
        ro = f32(2, 4, 5, 8)
        ro.flags.writeable = False
        C.attention_forward(Q, K, V, None, False, 1.0, ro, None)
    dq, dk, dv = f32(*Q.shape), f32(*K.shape), f32(*V.shape)
    with pytest.raises(ValueError, match=r"attention_backward: dk must have shape \(2, 2, 6, 8\)"):
        C.attention_backward(out, Q, K, V, out, lse, None, False, 1.0, dq, f32(2, 2, 6, 9), dv)
    with pytest.raises(ValueError, match="attention_backward: lse must have shape"):
        C.attention_backward(out, Q, K, V, out, f32(2, 4), None, False, 1.0, dq, dk, dv)


def test_strides_whose_offsets_overflow_are_rejected_in_cpp():
    bad = np.lib.stride_tricks.as_strided(f32(4), shape=(2, 4, 2**40, 8), strides=(0, 0, 2**40, 4))
    with pytest.raises(ValueError, match="attention: k: strides overflow|size overflows"):
        fastnn._C.attention_forward(Q, bad, bad, None, False, 1.0, f32(2, 4, 5, 8), None)
