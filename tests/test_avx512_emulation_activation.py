"""The AVX-512 path of the activation / softmax / loss / dropout / embedding kernels and of the
vector math, run under SIMDe emulation (this machine has no AVX-512): see
tools/avx512_emulation/check_activation_loss.cpp."""
from __future__ import annotations

from simde_check import run_simde_check


def test_avx512_activation_loss_bodies_under_emulation(tmp_path):
    run_simde_check(tmp_path, "check_activation_loss", fused_fma=True)
