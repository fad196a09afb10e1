"""The AVX-512 attention leaves (kernels_avx512.cpp) under SIMDe emulation against the generic twin,
and exp2_softmax (both ISAs) against float64 exp2: see tools/avx512_emulation/check_attention.cpp.
Skips, saying why, when g++, the SIMDe headers or an AVX2+FMA host are missing. Mutation-checked:
a wrong register-tile tail, a perturbed rescale factor, a dropped P·V tail and an off-by-one
causal threshold in the AVX-512 leaves each make it fail."""
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


def test_attention_avx512_leaves_under_emulation(tmp_path):
    cxx = shutil.which("g++")
    inc = _simde_include()
    if cxx is None or inc is None:
        pytest.skip("needs g++ and the SIMDe headers (apt install libsimde-dev, or set SIMDE_INCLUDE)")
    if "avx2" not in fastnn.available_isas():
        pytest.skip("the check is built with -mavx2 -mfma (fused FMAs, as AVX-512 hardware); this CPU lacks them")
    exe = tmp_path / "check_attention"
    csrc = os.path.join(ROOT, "csrc")
    # -O0: the check runs in under a second either way, and compiles twice as fast
    build = subprocess.run([cxx, "-std=c++17", "-O0", "-w", "-Wno-psabi", "-mavx2", "-mfma", f"-I{csrc}", f"-I{inc}",
                            os.path.join(ROOT, "tools", "avx512_emulation", "check_attention.cpp"),
                            os.path.join(csrc, "cpu", "attention", "kernels_ref.cpp"), "-o", str(exe)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " 0 failures" in run.stdout
