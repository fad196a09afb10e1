"""Benchmark families known to `fastnn bench`: name → run(quick) returning harness Rows."""
from __future__ import annotations

from . import attention, gemm

SUITES = {
    "gemm": gemm.run,
    "attention": attention.run,
}
