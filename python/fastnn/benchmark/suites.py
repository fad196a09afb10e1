"""Benchmark families known to `fastnn bench`: name → run(quick) returning harness Rows."""
from __future__ import annotations

from . import conv, gemm

SUITES = {
    "gemm": gemm.run,
    "conv": conv.run,
}
