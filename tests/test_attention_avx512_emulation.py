"""The AVX-512 attention leaves (kernels_avx512.cpp) under SIMDe emulation against the generic twin,
and exp2_softmax (both ISAs) against float64 exp2: see tools/avx512_emulation/check_attention.cpp.
Mutation-checked: a wrong register-tile tail, a perturbed rescale factor, a dropped P·V tail and an
off-by-one causal threshold in the AVX-512 leaves each make it fail."""
from __future__ import annotations

from simde_check import run_simde_check


def test_attention_avx512_leaves_under_emulation(tmp_path):
    run_simde_check(tmp_path, "check_attention", extra_sources=("cpu/attention/kernels_ref.cpp",), fused_fma=True)
