"""The AVX-512 kernel path, run under SIMDe emulation (this machine has no AVX-512): the norm,
reduction, elementwise and optimizer bodies (tools/avx512_emulation/check.cpp) and the depthwise
convolution and pooling bodies (check_conv_pool.cpp), each against its scalar twin."""
from __future__ import annotations

from simde_check import run_simde_check


def test_avx512_bodies_match_scalar_under_emulation(tmp_path):
    run_simde_check(tmp_path, "check")


def test_avx512_conv_pool_bodies_match_scalar_under_emulation(tmp_path):
    run_simde_check(tmp_path, "check_conv_pool")
