"""Benchmark families known to `fastnn bench`: name → run(quick) returning harness Rows."""
from __future__ import annotations

from . import gemm, norm_optim

SUITES = {
    "gemm": gemm.run,
    "norm_optim": norm_optim.run,
from . import elementwise, gemm
    "elementwise": elementwise.run,
from . import conv, gemm
    "conv": conv.run,
from . import attention, gemm
    "attention": attention.run,
}
