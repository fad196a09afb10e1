"""The zoo models train on the GPU through fastnn's own CUDA kernels: one epoch each with
every autograd op recorded, none of them served by the host round-trip of the oracle adapter
(kernels._CUDA_PENDING), and the loss is finite. Skips with the reason when no GPU is usable."""
from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pytest

from fastnn import train
from fastnn.autograd import kernels as K


@pytest.mark.parametrize("name", ["mlp", "lenet", "resnet", "transformer", "gpt"])
def test_zoo_model_trains_on_gpu_kernels(cupy, monkeypatch, name):
    routed = {}
    route = K._route

    def spy(op, a):
        fn = route(op, a)
        if not isinstance(a, np.ndarray):
            routed[op] = fn
        return fn

    monkeypatch.setattr(K, "_route", spy)
    with contextlib.redirect_stdout(io.StringIO()):
        logs = train.run(name, epochs=1, device="cuda", verbose=0)
    pending = {op for op, fn in routed.items() if fn is K._CUDA_PENDING.get(op)}
    assert routed and not pending, f"ops served through the host on CUDA: {sorted(pending)}"
    assert math.isfinite(logs["loss"])


def test_pending_cuda_ops_are_the_unported_ones():
    assert set(K._CUDA_PENDING) <= {"binary_cross_entropy", "binary_cross_entropy_backward",
                                    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_backward",
                                    "mse_loss", "mse_loss_backward", "max", "max_backward"}
