"""Flash attention never materialises the Lq×Lk matrix: the peak memory growth of one forward and
one backward call (fresh process, VmHWM reset before each call) is its outputs plus O(L·D) scratch.
At L = 4096, B·H = 8, D = 64 one (B, H, L, D) tensor is 8 MiB and the score matrix would be 512 MiB."""
from __future__ import annotations

import os

import pytest

from fastnn.benchmark import attention as suite


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc/self/clear_refs")
def test_attention_peak_memory_is_outputs_plus_small_scratch():
    res = suite.memory(B=1, H=8, L=4096, D=64, causal=True)
    assert res is not None and res["finite"]
    one = res["qkvo"] // 4  # 8 MiB
    # forward: out (1x) + lse (1/64x) + per-thread scratch (< 1 MiB per thread here)
    assert one <= res["forward_extra"] < 1.5 * one, res
    # backward: dq, dk, dv (3x) + per-thread dK/dV accumulators (2.5 MiB per thread) and scratch
    # (5.8 MiB measured with 2 threads; the bound leaves room for more threads)
    assert 3 * one <= res["backward_extra"] < 5 * one, res
    lines = suite.memory_lines(res)
    assert len(lines) == 2 and all("MET" in line and "not met" not in line for line in lines), lines
