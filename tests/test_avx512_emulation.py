"""The AVX-512 kernel path, run under SIMDe emulation (this machine has no AVX-512): see
tools/avx512_emulation/check.cpp. Skips, saying why, when g++ or the SIMDe headers are absent."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _simde_include() -> str | None:
    for base in ("/usr/include", "/usr/local/include", os.environ.get("SIMDE_INCLUDE", "")):
        if base and os.path.exists(os.path.join(base, "simde", "x86", "avx512.h")):
            return base
    return None


def test_avx512_bodies_match_scalar_under_emulation(tmp_path):
    cxx = shutil.which("g++")
    inc = _simde_include()
    if cxx is None or inc is None:
        pytest.skip("needs g++ and the SIMDe headers (apt install libsimde-dev, or set SIMDE_INCLUDE)")
    exe = tmp_path / "check"
    build = subprocess.run([cxx, "-std=c++17", "-O1", "-w", f"-I{os.path.join(ROOT, 'csrc')}", f"-I{inc}",
                            os.path.join(ROOT, "tools", "avx512_emulation", "check.cpp"), "-o", str(exe)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "0 failures" in run.stdout


def test_avx512_conv_pool_bodies_match_scalar_under_emulation(tmp_path):
    """Depthwise convolution and pooling bodies: tools/avx512_emulation/check_conv_pool.cpp."""
    cxx = shutil.which("g++")
    inc = _simde_include()
    if cxx is None or inc is None:
        pytest.skip("needs g++ and the SIMDe headers (apt install libsimde-dev, or set SIMDE_INCLUDE)")
    exe = tmp_path / "check_conv_pool"
    build = subprocess.run([cxx, "-std=c++17", "-O1", "-w", f"-I{os.path.join(ROOT, 'csrc')}", f"-I{inc}",
                            os.path.join(ROOT, "tools", "avx512_emulation", "check_conv_pool.cpp"), "-o", str(exe)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " 0 failures" in run.stdout
