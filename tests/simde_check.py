"""Build and run one of the SIMDe checks under tools/avx512_emulation/: the AVX-512 kernel bodies
compiled against SIMDe's emulated intrinsics, so this machine (no AVX-512) still executes them.
Skips, saying why, when g++, the SIMDe headers or (for fused emulated FMAs) an AVX2+FMA host are
missing."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

import fastnn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSRC = os.path.join(ROOT, "csrc")


def _simde_include() -> str | None:
    for base in ("/usr/include", "/usr/local/include", os.environ.get("SIMDE_INCLUDE", "")):
        if base and os.path.exists(os.path.join(base, "simde", "x86", "avx512.h")):
            return base
    return None


def run_simde_check(tmp_path, check: str, *, extra_sources: tuple[str, ...] = (), fused_fma: bool = False,
                    extra_flags: tuple[str, ...] = ()) -> str:
    """Compile tools/avx512_emulation/<check>.cpp (plus extra_sources, relative to csrc/), run it,
    assert it reports no failures and return its output. fused_fma builds with -mavx2 -mfma so the
    emulated FMAs round once, as AVX-512 hardware does (-O0 then: it compiles twice as fast)."""
    cxx = shutil.which("g++")
    inc = _simde_include()
    if cxx is None or inc is None:
        pytest.skip("needs g++ and the SIMDe headers (apt install libsimde-dev, or set SIMDE_INCLUDE)")
    flags = ["-O1"]
    if fused_fma:
        if "avx2" not in fastnn.available_isas():
            pytest.skip("the check is built with -mavx2 -mfma (fused FMAs, as AVX-512 hardware); this CPU lacks them")
        flags = ["-O0", "-Wno-psabi", "-mavx2", "-mfma"]
    exe = tmp_path / check
    sources = [os.path.join(ROOT, "tools", "avx512_emulation", f"{check}.cpp")]
    sources += [os.path.join(CSRC, s) for s in extra_sources]
    build = subprocess.run([cxx, "-std=c++17", "-w", *flags, *extra_flags, f"-I{CSRC}", f"-I{inc}", *sources, "-o", str(exe)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " 0 failures" in run.stdout, run.stdout[-3000:]
    return run.stdout
