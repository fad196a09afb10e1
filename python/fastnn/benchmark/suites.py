"""Benchmark families known to `fastnn bench`: name → run(quick) returning harness Rows."""
from __future__ import annotations

from . import attention, conv, elementwise, gemm, norm_optim
from . import minilm
from . import nn as nn_suite
from . import train as train_suite

SUITES = {
    "gemm": gemm.run,
    "conv": conv.run,
    "attention": attention.run,
    "elementwise": elementwise.run,
    "norm_optim": norm_optim.run,
    "nn": nn_suite.run,
    "minilm": minilm.run,
    "train": train_suite.run,
}
