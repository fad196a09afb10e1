"""Host-side checks of the CUDA benchmark and device scripts (no GPU needed): the benchmark's plan
covers the issue's cases, bad arguments fail cleanly, and the device script parses."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args, timeout=60):
    return subprocess.run([sys.executable, str(ROOT / "bench" / "cuda_kernels.py"), *args], capture_output=True,
                          text=True, timeout=timeout)


def test_cuda_kernels_benchmark_plan():
    r = run("--dry-run")
    assert r.returncode == 0, r.stderr
    for L in (1024, 4096, 8192):
        for causal in ("", " causal"):
            assert f"attention bf16 B4 H16 L{L} D128{causal}:" in r.stdout
    assert "memory: layer_norm 4096 fp32" in r.stdout and "C64 56x56 -> K64 3x3 s1" in r.stdout
    assert "26 cases" in r.stdout
    r = run("--dry-run", "--parts", "attention", "--quick")
    assert r.returncode == 0 and "L8192" not in r.stdout and "memory:" not in r.stdout


def test_cuda_kernels_benchmark_rejects_unknown_parts():
    r = run("--parts", "gemm")
    assert r.returncode == 2 and "unknown parts" in r.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_gpu_check_script_parses():
    r = subprocess.run(["bash", "-n", str(ROOT / "bench" / "gpu_check.sh")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    text = (ROOT / "bench" / "gpu_check.sh").read_text()
    for step in ("cuda_smoke.py", "cuda_smoke_kernels.py", "tests/cuda", "check --backend cuda", "gemm_cuda.py",
                 "cuda_kernels.py"):
        assert step in text
