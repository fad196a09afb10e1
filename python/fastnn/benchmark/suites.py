"""Benchmark families known to `fastnn bench`: name → run(quick) returning harness Rows."""
from __future__ import annotations

from . import elementwise, gemm

SUITES = {
    "gemm": gemm.run,
    "elementwise": elementwise.run,
}
