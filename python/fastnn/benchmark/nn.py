"""Training-step benchmarks of the Python layer (fastnn.nn / optim / autograd over the kernels)
against PyTorch on the same models, shapes, thread count and data: one step = zero_grad, forward,
loss, backward, optimizer step. Implementations are interleaved (one step of each in turn) so
load changes on a shared machine hit both alike. A graph of tiny matmuls measures the per-op
overhead of the autograd layer itself.

Ops still served by a PENDING adapter (float64 oracle, see fastnn.autograd.kernels) are listed
with the results: a row that uses one measures the adapter, not a fastnn kernel."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import get_num_threads, manual_seed, nn, optim
from ..autograd import kernels
from ..tensor import Tensor
from .harness import Row, time_interleaved


def _torch():
    try:
        import torch

        return torch
    except ImportError:
        return None


def _mlp(mod):
    return mod.Sequential(mod.Linear(784, 512), mod.ReLU(), mod.Linear(512, 512), mod.ReLU(), mod.Linear(512, 10))


def _cnn(mod):
    return mod.Sequential(mod.Conv2d(1, 16, 3, padding=1), mod.ReLU(), mod.MaxPool2d(2),
                          mod.Conv2d(16, 32, 3, padding=1), mod.ReLU(), mod.MaxPool2d(2), mod.Flatten(),
                          mod.Linear(32 * 7 * 7, 10))


class _LSTMHead:
    """LSTM over the sequence, then a linear head on the last output."""

    def __init__(self, mod):
        self.rnn, self.head = mod.LSTM(128, 256), mod.Linear(256, 10)

    def parameters(self):
        return list(self.rnn.parameters()) + list(self.head.parameters())

    def state_dict(self):
        return {**{f"rnn.{k}": v for k, v in self.rnn.state_dict().items()},
                **{f"head.{k}": v for k, v in self.head.state_dict().items()}}

    def load_state_dict(self, sd):
        self.rnn.load_state_dict({k[4:]: v for k, v in sd.items() if k.startswith("rnn.")})
        self.head.load_state_dict({k[5:]: v for k, v in sd.items() if k.startswith("head.")})

    def __call__(self, x):
        out, _ = self.rnn(x)
        return self.head(out[-1])


def _encoder(mod):
    return mod.TransformerEncoderLayer(256, 4, 1024, dropout=0.0, batch_first=True)


# (label, model factory, input shape, loss: "ce" (10 classes) | "mse")
MODELS = [
    ("MLP 784-512-512-10, batch 256, SGD", _mlp, (256, 784), "ce", "sgd"),
    ("CNN 2 conv + pool, 28x28, batch 64, SGD", _cnn, (64, 1, 28, 28), "ce", "sgd"),
    ("LSTM I128 H256, L35 N32, Adam", _LSTMHead, (35, 32, 128), "ce", "adam"),
    ("TransformerEncoderLayer d256 h4 ff1024, N8 L128, AdamW", _encoder, (8, 128, 256), "mse", "adamw"),
]


def _fastnn_step(model, x, y, loss_kind, opt) -> Callable[[], Any]:
    xt = Tensor(x)

    def step():
        opt.zero_grad()
        out = model(xt)
        loss = nn.functional.cross_entropy(out, y) if loss_kind == "ce" else nn.functional.mse_loss(out, y)
        loss.backward()
        opt.step()
    return step


def _torch_step(torch, model, x, y, loss_kind, opt) -> Callable[[], Any]:
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    F = torch.nn.functional

    def step():
        opt.zero_grad()
        out = model(xt)
        loss = F.cross_entropy(out, yt) if loss_kind == "ce" else F.mse_loss(out, yt)
        loss.backward()
        opt.step()
    return step


def _opt(lib, kind, params):
    if kind == "sgd":
        return lib.SGD(params, lr=0.01, momentum=0.9)
    if kind == "adam":
        return lib.Adam(params, lr=1e-3)
    return lib.AdamW(params, lr=1e-3)


def run(quick: bool = False) -> list[Row]:
    torch = _torch()
    if torch is not None:
        torch.set_num_threads(get_num_threads())
    rows: list[Row] = []
    rng = np.random.default_rng(0)
    for label, make, shape, loss_kind, opt_kind in (MODELS[:2] if quick else MODELS):
        manual_seed(0)
        fm = make(nn)
        x = rng.standard_normal(shape).astype(np.float32)
        out_shape = (shape[1] if label.startswith("LSTM") else shape[0],)
        y = rng.integers(0, 10, out_shape) if loss_kind == "ce" else rng.standard_normal(shape).astype(np.float32)
        fns = {"fastnn": _fastnn_step(fm, x, y, loss_kind, _opt(optim, opt_kind, fm.parameters()))}
        if torch is not None:
            tm = make(torch.nn)
            fm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
            fns["torch"] = _torch_step(torch, tm, x, y, loss_kind, _opt(torch.optim, opt_kind, tm.parameters()))
        timings = time_interleaved(fns, min_runs=3 if quick else 5, min_time=0.3 if quick else 1.0, max_runs=50)
        rows += [Row("nn", "train_step", label, impl, t) for impl, t in timings.items()]
    rows += _overhead(torch, quick)
    return rows


def _overhead(torch, quick: bool) -> list[Row]:
    """Per-op cost of the autograd layer: a chain of 200 tiny (8x8) matmuls, forward + backward
    (matmul is a landed kernel, so this is Function.apply + the engine + the binding call)."""
    n = 200
    rng = np.random.default_rng(1)
    w = rng.standard_normal((8, 8)).astype(np.float32) * 0.3
    x0 = rng.standard_normal((8, 8)).astype(np.float32)

    def fastnn_chain():
        x = Tensor(x0, requires_grad=True)
        W = Tensor(w, requires_grad=True)
        y = x
        for _ in range(n):
            y = y @ W
        y.backward(np.ones((8, 8), np.float32))

    fns = {"fastnn": fastnn_chain}
    if torch is not None:
        tw, tx = torch.from_numpy(w), torch.from_numpy(x0)

        def torch_chain():
            x = tx.clone().requires_grad_(True)
            W = tw.clone().requires_grad_(True)
            y = x
            for _ in range(n):
                y = y @ W
            y.backward(torch.ones(8, 8))

        fns["torch"] = torch_chain
    timings = time_interleaved(fns, min_runs=5, min_time=0.3 if quick else 1.0)
    return [Row("nn", "autograd_overhead", f"chain of {n} matmuls 8x8, fwd+bwd", impl, t)
            for impl, t in timings.items()]


def pending() -> list[str]:
    return kernels.pending_ops()
