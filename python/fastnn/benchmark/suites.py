"""Benchmark families known to `fastnn bench`: name → run(quick) returning harness Rows."""
from __future__ import annotations

from . import gemm

SUITES = {
    "gemm": gemm.run,
}
