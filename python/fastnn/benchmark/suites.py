"""Benchmark families known to `fastnn bench`: name → run(quick) returning harness Rows."""
from __future__ import annotations

from . import gemm
from . import nn as nn_suite

SUITES = {
    "gemm": gemm.run,
    "nn": nn_suite.run,
}
