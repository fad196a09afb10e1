"""Convolution bad input: a clear ValueError/TypeError naming the function and argument."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import _C


def f32(*shape):
    return np.ones(shape, np.float32)


X, W = f32(2, 4, 8, 8), f32(6, 4, 3, 3)

CASES = [
    (lambda: fastnn.conv2d(np.ones((2, 4, 8, 8)), W), TypeError, r"conv2d: x must be float32, got float64.*astype"),
    (lambda: fastnn.conv2d(X, W.astype(np.int32)), TypeError, "conv2d: weight must be float32"),
    (lambda: fastnn.conv2d(X, W, np.ones(6)), TypeError, "conv2d: bias must be float32"),
    (lambda: fastnn.conv2d(f32(4, 8, 8), W), ValueError, "conv2d: x must have 4 dimensions"),
    (lambda: fastnn.conv2d(X, f32(6, 4, 3)), ValueError, "conv2d: weight must have 4 dimensions"),
    (lambda: fastnn.conv2d(X, f32(6, 3, 3, 3)), ValueError, r"conv2d: weight must have shape \(K, 4, R, S\)"),
    (lambda: fastnn.conv2d(X, W, f32(5)), ValueError, r"conv2d: bias must have shape \(6,\)"),
    (lambda: fastnn.conv2d(X, W, f32(6, 1)), ValueError, "conv2d: bias must have 1 dimensions"),
    (lambda: fastnn.conv2d(X, f32(6, 2, 3, 3), groups=3), ValueError, "groups=3 must divide"),
    (lambda: fastnn.conv2d(X, f32(6, 2, 3, 3), groups=0), ValueError, "groups must be >= 1"),
    (lambda: fastnn.conv2d(X, f32(6, 2, 3, 3), groups=2.0), TypeError, "groups must be an int"),
    (lambda: fastnn.conv2d(X, W, stride=0), ValueError, "conv2d: stride must be >= 1"),
    (lambda: fastnn.conv2d(X, W, stride=(1, 2, 3)), ValueError, "stride must be an int or 2 ints"),
    (lambda: fastnn.conv2d(X, W, stride=True), TypeError, "stride must be an int"),
    (lambda: fastnn.conv2d(X, W, dilation=0), ValueError, "dilation must be >= 1"),
    (lambda: fastnn.conv2d(X, W, padding=-1), ValueError, "padding must be >= 0"),
    (lambda: fastnn.conv2d(X, W, padding="full"), ValueError, "padding must be an int, a tuple, 'same' or 'valid'"),
    (lambda: fastnn.conv2d(X, W, stride=2, padding="same"), ValueError, "'same' is not supported for strided"),
    (lambda: fastnn.conv2d(f32(1, 4, 2, 2), W), ValueError, "smaller than the dilated kernel"),
    (lambda: fastnn.conv2d(X, W, activation="swish"), ValueError, "conv2d: activation must be None or one of"),
    (lambda: fastnn.conv2d(X, W, out=f32(2, 6, 8, 8)), ValueError, r"conv2d: out must have shape \(2, 6, 6, 6\)"),
    (lambda: fastnn.conv2d([[1.0]], W), TypeError, "conv2d: x: expected a NumPy or CuPy array"),
    (lambda: fastnn.conv2d_backward(f32(2, 6, 5, 5), X, W), ValueError, "grad_out must have the output's shape"),
    (lambda: fastnn.conv2d_backward(np.ones((2, 6, 6, 6)), X, W), TypeError,
     "conv2d_backward: grad_out must be float32"),
    (lambda: fastnn.conv_transpose2d(X, f32(3, 2, 3, 3)), ValueError,
     r"conv_transpose2d: weight must have shape \(4, C_out/groups, R, S\)"),
    (lambda: fastnn.conv_transpose2d(X, f32(4, 2, 3, 3), output_padding=1), ValueError,
     "output_padding must be smaller than either stride or dilation"),
    (lambda: fastnn.conv_transpose2d(X, f32(4, 2, 3, 3), padding=9), ValueError, "output size .* is not positive"),
    (lambda: fastnn.conv_transpose2d(X, f32(4, 2, 3, 3), f32(3)), ValueError, r"bias must have shape \(2,\)"),
    (lambda: fastnn.conv_transpose2d(X, f32(4, 2, 3, 3), groups=3), ValueError, "groups=3 must divide"),
    (lambda: fastnn.conv_transpose2d_backward(f32(2, 2, 9, 9), X, f32(4, 2, 3, 3)), ValueError,
     "conv_transpose2d_backward: grad_out must have the output's shape"),
    (lambda: fastnn.conv1d(X, W), ValueError, "conv1d: x must have 3 dimensions"),
    (lambda: fastnn.conv1d(f32(2, 4, 8), f32(6, 4, 3), stride=0), ValueError, "conv1d: stride must be >= 1"),
    (lambda: fastnn.conv1d(f32(2, 4, 8), f32(6, 3, 3)), ValueError, "conv1d: weight must have shape"),
    (lambda: fastnn.conv1d(f32(2, 4, 8), f32(6, 4, 3), padding=(1, 1)), ValueError,
     "conv1d: padding must be an int or 1 ints"),
    (lambda: fastnn.conv1d_backward(f32(2, 6, 5), f32(2, 4, 8), f32(6, 4, 3)), ValueError,
     "conv1d_backward: grad_out must have the output's shape"),
    (lambda: fastnn.conv_transpose1d(f32(2, 4, 8), f32(4, 2, 3), output_padding=2, stride=2), ValueError,
     "conv_transpose1d: output_padding must be smaller"),
]


@pytest.mark.parametrize("call,exc,match", CASES, ids=[str(i) for i in range(len(CASES))])
def test_conv_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_conv_cpp_validates_too():
    """The raw bindings trust nothing from Python."""
    y = f32(2, 6, 6, 6)
    with pytest.raises(ValueError, match=r"conv2d: out must have shape \(2, 6, 6, 6\)"):
        _C.conv2d(X, W, None, (1, 1), (0, 0, 0, 0), (1, 1), 1, "none", f32(2, 6, 8, 8))
    with pytest.raises(ValueError, match="conv2d: x must be C-contiguous"):
        _C.conv2d(f32(2, 4, 8, 16)[..., ::2], W, None, (1, 1), (0, 0, 0, 0), (1, 1), 1, "none", y)
    with pytest.raises(ValueError, match="conv2d: weight must have shape"):
        _C.conv2d(X, f32(6, 3, 3, 3), None, (1, 1), (0, 0, 0, 0), (1, 1), 1, "none", y)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        _C.conv2d(X, W, None, (0, 1), (0, 0, 0, 0), (1, 1), 1, "none", y)
    with pytest.raises(ValueError, match="padding must be >= 0"):
        _C.conv2d(X, W, None, (1, 1), (0, -1, 0, 0), (1, 1), 1, "none", y)
    with pytest.raises(ValueError, match="unknown activation 'bogus'"):
        _C.conv2d(X, W, None, (1, 1), (0, 0, 0, 0), (1, 1), 1, "bogus", y)
    with pytest.raises(ValueError, match=r"bias must have shape \(6,\)"):
        _C.conv2d(X, W, f32(5), (1, 1), (0, 0, 0, 0), (1, 1), 1, "none", y)
    with pytest.raises(TypeError, match="conv2d: x must be float32"):
        _C.conv2d(np.ones((2, 4, 8, 8)), W, None, (1, 1), (0, 0, 0, 0), (1, 1), 1, "none", y)
    with pytest.raises(ValueError, match="grad_weight must have shape"):
        _C.conv2d_backward(y, X, W, None, (1, 1), (0, 0, 0, 0), (1, 1), 1, "none", None, f32(6, 4, 3, 2), None)
    with pytest.raises(ValueError, match="output_padding must be smaller"):
        _C.conv_transpose2d(X, f32(4, 2, 3, 3), None, (1, 1), (0, 0), (1, 0), (1, 1), 1, f32(2, 2, 11, 10))
    ro = f32(2, 6, 6, 6)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        _C.conv2d(X, W, None, (1, 1), (0, 0, 0, 0), (1, 1), 1, "none", ro)


def test_cuda_arrays_run_the_cuda_path_and_bad_ones_are_refused_clearly(cupy):
    y = fastnn.conv2d(cupy.ones((1, 1, 3, 3), cupy.float32), cupy.ones((1, 1, 1, 1), cupy.float32))
    assert isinstance(y, cupy.ndarray) and float(y.sum()) == 9.0
    with pytest.raises(TypeError, match="x must be float32, float16 or bfloat16"):
        fastnn.conv2d(cupy.ones((1, 1, 3, 3)), cupy.ones((1, 1, 1, 1)))
    with pytest.raises(ValueError, match="one device"):
        fastnn.conv2d(cupy.ones((1, 1, 3, 3), cupy.float32), np.ones((1, 1, 1, 1), np.float32))
