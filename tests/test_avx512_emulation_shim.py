"""The intrinsics tools/avx512_emulation/emulated_avx512.h adds to SIMDe for the emulated AVX-512
build (FASTNN_EMULATE_AVX512, tools/avx512_emulation/run_suite.sh), each against a scalar
transcription of Intel's definition: see tools/avx512_emulation/check_shim.cpp."""
from __future__ import annotations

import os

from simde_check import ROOT, run_simde_check


def test_emulated_avx512_shim_matches_intel_definitions(tmp_path):
    out = run_simde_check(tmp_path, "check_shim", fused_fma=True,
                          extra_flags=("-include", os.path.join(ROOT, "tools", "avx512_emulation", "emulated_avx512.h")))
    assert "checks" in out
