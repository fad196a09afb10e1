"""Bad input raises a clear exception naming the argument: never a crash or a wrong answer."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import fastnn


def f32(*shape):
    return np.ones(shape, np.float32)


def test_inner_dimension_mismatch():
    with pytest.raises(ValueError, match="inner dimensions"):
        fastnn.matmul(f32(3, 4), f32(5, 6))


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.complex64, object, bool, np.float16])
def test_bad_dtypes(dtype):
    with pytest.raises(TypeError, match="matmul: a must be float32"):
        fastnn.matmul(np.ones((2, 2), dtype=dtype), f32(2, 2))


def test_float64_rejected_with_hint():
    with pytest.raises(TypeError, match=r"b must be float32, got float64.*astype"):
        fastnn.matmul(f32(2, 2), np.ones((2, 2)))


def test_zero_dim_arrays():
    with pytest.raises(ValueError, match="a must have at least 1 dimension"):
        fastnn.matmul(np.ones((), np.float32), f32(2, 2))


def test_non_arrays():
    with pytest.raises(TypeError, match="matmul: a: expected a NumPy or CuPy array"):
        fastnn.matmul([[1.0]], f32(1, 1))


def test_batch_not_broadcastable():
    with pytest.raises(ValueError, match="do not broadcast"):
        fastnn.matmul(f32(2, 3, 4), f32(3, 4, 5))


def test_bad_out():
    with pytest.raises(ValueError, match="out must have shape"):
        fastnn.matmul(f32(2, 3), f32(3, 4), out=f32(2, 5))
    with pytest.raises(TypeError, match="out must be float32"):
        fastnn.matmul(f32(2, 3), f32(3, 4), out=np.ones((2, 4)))
    ro = f32(2, 4)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fastnn.matmul(f32(2, 3), f32(3, 4), out=ro)


def test_cpp_validates_too():
    """The raw binding trusts nothing from Python."""
    C = fastnn._C
    with pytest.raises(ValueError, match="inner dimensions must match"):
        C.matmul(f32(3, 4), f32(5, 6), f32(3, 6))
    with pytest.raises(TypeError, match="out must be float32"):
        C.matmul(f32(3, 4), f32(4, 6), np.ones((3, 6)))
    with pytest.raises(ValueError, match="rank >= 2"):
        C.matmul(f32(4), f32(4, 6), f32(6))
    with pytest.raises(ValueError, match="read-only"):
        out = f32(3, 6)
        out.flags.writeable = False
        C.matmul(f32(3, 4), f32(4, 6), out)
    with pytest.raises(ValueError, match="out must end in"):
        C.matmul(f32(3, 4), f32(4, 6), f32(3, 7))


def test_huge_shapes_fail_cleanly():
    a = np.broadcast_to(np.ones((1, 1, 2, 2), np.float32), (2**20, 2**20, 2, 2))
    with pytest.raises((ValueError, MemoryError)):
        fastnn.matmul(a, f32(2, 2))  # the output cannot be allocated


def test_strides_whose_offsets_overflow_are_rejected_in_cpp():
    base = np.ones(4, np.float32)
    bad = np.lib.stride_tricks.as_strided(base, shape=(2**40, 2), strides=(2**40, 4))
    out = np.lib.stride_tricks.as_strided(np.ones(4, np.float32), shape=(2**40, 2), strides=(2**40, 4))
    with pytest.raises(ValueError, match="matmul: a: strides overflow|size overflows"):
        fastnn._C.matmul(bad, f32(2, 2), out)  # nothing is written: validation fails first


def test_cuda_array_without_cuda_is_clear():
    if fastnn.cuda_available():
        pytest.skip("CUDA is available here")

    class FakeCudaArray:
        __cuda_array_interface__ = {"shape": (2, 2), "typestr": "<f4", "data": (0, False), "version": 3}

    with pytest.raises(RuntimeError, match="CUDA is unavailable"):
        fastnn.matmul(FakeCudaArray(), FakeCudaArray())


def test_bad_isa_env_fails_at_import():
    env = {"FASTNN_ISA": "sse9", "PATH": ""}
    r = subprocess.run([sys.executable, "-c", "import fastnn"], capture_output=True, text=True, env=env)
    assert r.returncode != 0
    assert "FASTNN_ISA='sse9' is not a known ISA" in r.stderr


def test_unsupported_isa_is_an_error():
    for name in ("avx512", "avx2"):
        if name not in fastnn.available_isas():
            with pytest.raises(ValueError, match="not supported"):
                fastnn.set_isa(name)
    with pytest.raises(ValueError, match="not a known ISA"):
        fastnn.set_isa("neon")


def test_set_num_threads_validates():
    with pytest.raises(ValueError, match="n must be in"):
        fastnn.set_num_threads(0)
    with pytest.raises(TypeError):
        fastnn.set_num_threads(2.5)
