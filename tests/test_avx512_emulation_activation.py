"""The AVX-512 path of the activation / softmax / loss / dropout / embedding kernels and of the
vector math, run under SIMDe emulation (this machine has no AVX-512): see
tools/avx512_emulation/check_activation_loss.cpp. Skips, saying why, when g++, the SIMDe headers
or an FMA-capable host (for fused emulated FMAs) are missing."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

import fastnn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _simde_include() -> str | None:
    for base in ("/usr/include", "/usr/local/include", os.environ.get("SIMDE_INCLUDE", "")):
        if base and os.path.exists(os.path.join(base, "simde", "x86", "avx512.h")):
            return base
    return None


def test_avx512_activation_loss_bodies_under_emulation(tmp_path):
    cxx = shutil.which("g++")
    inc = _simde_include()
    if cxx is None or inc is None:
        pytest.skip("needs g++ and the SIMDe headers (apt install libsimde-dev, or set SIMDE_INCLUDE)")
    if "avx2" not in fastnn.available_isas():
        pytest.skip("the emulation is built with -mavx2 -mfma (fused FMAs, as AVX-512 hardware); this CPU lacks them")
    exe = tmp_path / "check"
    # -O0: the check runs in a second either way, and compiles twice as fast
    src = os.path.join(ROOT, "tools", "avx512_emulation", "check_activation_loss.cpp")
    build = subprocess.run([cxx, "-std=c++17", "-O0", "-w", "-Wno-psabi", "-mavx2", "-mfma",
                            f"-I{os.path.join(ROOT, 'csrc')}", f"-I{inc}", src, "-o", str(exe)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " 0 failures" in run.stdout
