"""Host-side pieces of the CUDA GEMM family that run without a GPU: the bfloat16 bit helpers,
the benchmark script's plan, and the dispatch module's import on CPU-only installs."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from fastnn.ops import cuda_gemm

ROOT = Path(__file__).resolve().parents[1]


def test_bf16_bits_round_trip_and_rounding():
    exact = np.array([0.0, -0.0, 1.0, -2.5, 3.140625, 2.0**-100, 65280.0, np.inf, -np.inf], np.float32)
    bits = cuda_gemm.to_bf16_bits(exact)
    assert bits.dtype == np.uint16
    np.testing.assert_array_equal(cuda_gemm.from_bf16_bits(bits), exact)
    # 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0);
    # 1 + 3·2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: goes to 1 + 2^-6.
    x = np.array([1 + 2.0**-8, 1 + 3 * 2.0**-8, 1 + 2.0**-8 + 2.0**-20], np.float32)
    np.testing.assert_array_equal(cuda_gemm.from_bf16_bits(cuda_gemm.to_bf16_bits(x)),
                                  np.array([1.0, 1 + 2.0**-6, 1 + 2.0**-7], np.float32))
    nan = cuda_gemm.from_bf16_bits(cuda_gemm.to_bf16_bits(np.array([np.nan, -np.nan], np.float32)))
    assert np.isnan(nan).all()


def test_bf16_bits_relative_error_bound():
    x = np.random.default_rng(0).standard_normal(10000).astype(np.float32)
    back = cuda_gemm.from_bf16_bits(cuda_gemm.to_bf16_bits(x))
    assert np.max(np.abs(back - x) / np.abs(x)) <= 2.0**-8  # unit roundoff of an 8-bit significand


def test_activation_table_matches_cpu_enum_order():
    # The CUDA epilogue codes follow fastnn::Activation (none, relu, gelu, gelu_tanh, sigmoid, tanh, silu).
    assert [cuda_gemm.ACTIVATIONS[k] for k in (None, "relu", "gelu", "gelu_tanh", "sigmoid", "tanh", "silu")] == list(
        range(7))


def test_gemm_cuda_benchmark_dry_run():
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "gemm_cuda.py"), "--dry-run"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "plan: bf16  NN  8192x8192x8192" in r.stdout and "24 cases" in r.stdout
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "gemm_cuda.py"), "--dry-run", "--paths", "int8"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "unknown paths" in r.stderr
