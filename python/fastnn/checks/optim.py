"""Parity cases for the fused optimizer steps (three steps each, every state buffer)."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from ..ops import optim as ops
from ..reference import optimizer as ro
from ..testing import rand, rng
from . import Case


def _sgd(shape, opts, seed) -> Iterator[Case]:
    def run():
        g = rng(seed)
        p, buf = rand(shape, gen=g), np.zeros(shape, np.float32)
        want_p, want_b = p.astype(np.float64), None
        for step in (1, 2, 3):
            grad = rand(shape, gen=g)
            want_p, want_b = ro.sgd_step(want_p, grad, want_b, lr=0.1, step=step, **opts)
            ops.sgd_step_(p, grad, buf, lr=0.1, step=step, **opts)
        return [(p, want_p, 1), (buf, want_b, 1)]

    label = f"{shape} {opts}"
    memo: dict = {}
    yield Case("sgd_step_", label, lambda: memo.setdefault("r", run())[0])
    yield Case("sgd_step_.momentum_buf", label, lambda: memo.setdefault("r", run())[1])


def _adam(shape, decoupled, opts, seed) -> Iterator[Case]:
    ours, oracle = (ops.adamw_step_, ro.adamw_step) if decoupled else (ops.adam_step_, ro.adam_step)
    name = "adamw_step_" if decoupled else "adam_step_"

    def run():
        g = rng(seed)
        p = rand(shape, gen=g)
        state = [np.zeros(shape, np.float32) for _ in range(3)]
        want = [p.astype(np.float64), np.zeros(shape), np.zeros(shape), np.zeros(shape)]
        for step in (1, 2, 3):
            grad = rand(shape, gen=g)
            want = list(oracle(want[0], grad, want[1], want[2], step=step, lr=1e-2, max_exp_avg_sq=want[3], **opts))
            ours(p, grad, state[0], state[1], step=step, lr=1e-2, max_exp_avg_sq=state[2], **opts)
        return [(p, want[0], 1), (state[0], want[1], 1), (state[1], want[2], 1)]

    label = f"{shape} {opts}"
    memo: dict = {}
    for i, suffix in enumerate(("", ".exp_avg", ".exp_avg_sq")):
        yield Case(name + suffix, label, lambda i=i: memo.setdefault("r", run())[i])


def cases(device: str, quick: bool) -> Iterator[Case]:
    if device != "cpu":
        return
    shapes = [(7, 13), (1000,)] if quick else [(7, 13), (1000,), (1 << 24,)]
    for i, shape in enumerate(shapes):
        yield from _sgd(shape, dict(momentum=0.9, nesterov=True, weight_decay=0.01), seed=60 + i)
        yield from _adam(shape, False, dict(weight_decay=0.01, amsgrad=True), seed=70 + i)
        yield from _adam(shape, True, dict(weight_decay=0.01), seed=80 + i)
