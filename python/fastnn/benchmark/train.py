"""Whole-training benchmarks: the same CNN and the same small Transformer (a character GPT) trained for
a fixed number of steps in fastnn (through the Keras-style `fit`, as `fastnn train` runs them) and in
PyTorch on the CPU (a plain training loop doing the same bookkeeping: loss and accuracy per batch),
with identical architecture, initialisation scheme, batch size, optimizer, data and thread count.

One measured "run" is `steps` optimizer steps over shuffled batches; runs of the two libraries
alternate (fastnn, torch, fastnn, ...; harness.time_interleaved, with its settling pause) so load
changes on a shared machine hit both alike. The
ratio is torch time / fastnn time (> 1: fastnn faster).

CNN: `fastnn.models.ConvNet` on 28x28 images as `fastnn train cnn --dataset mnist` trains it
(conv3x3 16-16, pool, 32-32, pool, with batch norm; dropout; FC 128; FC 10), batch 64, Adam. Transformer: `fastnn.models.CharGPT` (block 64, d_model
128, 4 heads, 2 pre-norm layers, GELU MLP x4), batch 32, AdamW. MNIST images / Shakespeare text
when their packages are installed, else random images and the shipped sonnets (the timing does not
depend on the values).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .. import get_num_threads, manual_seed
from .harness import Row, Timing, time_interleaved


@dataclass
class Workload:
    name: str
    shape: str
    fastnn_run: Callable[[], Any]
    torch_run: Callable[[], Any] | None
    params: tuple[int, int | None]  # parameter counts (fastnn, torch): must agree
    data: str


def _torch():
    try:
        import torch

        return torch
    except ImportError:
        return None


# ----------------------------------------------------------------------------- CNN
def _images(n: int, real: bool = True):
    from .. import datasets

    if real and datasets.mnist_available():
        (x, y), _, _ = datasets.load_mnist()
        return x[:n], y[:n], "MNIST"
    rng = np.random.default_rng(0)
    return rng.random((n, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, n), "random 28x28 images"


def _torch_convnet(torch, channels=(16, 32), hidden=128, dropout=0.25):
    nn = torch.nn
    layers, cin = [], 1
    for c in channels:
        for _ in range(2):
            layers += [nn.Conv2d(cin, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
            cin = c
        layers.append(nn.MaxPool2d(2))
    side = 28 // 2 ** len(channels)
    return nn.Sequential(*layers, nn.Flatten(), nn.Dropout(dropout), nn.Linear(cin * side * side, hidden), nn.ReLU(),
                         nn.Dropout(dropout), nn.Linear(hidden, 10))


def _torch_loop(torch, model, opt, x, y, batch_size: int, steps: int, seed: int = 0):
    """A plain PyTorch epoch of `steps` shuffled batches with the bookkeeping Keras' fit does (mean loss and
    accuracy over the epoch, read back per batch)."""
    F = torch.nn.functional
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)

    def run():
        model.train()
        need = steps * batch_size  # as fit's steps_per_epoch: passes follow each other when data runs short
        order = torch.cat([torch.randperm(len(xt), generator=gen) for _ in range(-(-need // len(xt)))])[:need]
        total_loss, correct, seen = 0.0, 0, 0
        for i in range(steps):
            idx = order[i * batch_size:(i + 1) * batch_size]
            xb, yb = xt[idx], yt[idx]
            out = model(xb)
            loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), yb.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total_loss += loss.item() * len(idx)
            correct += (out.detach().argmax(-1) == yb).sum().item()
            seen += len(idx)
        return total_loss / seen, correct / (seen * (yb[0].numel()))
    return run


def _fastnn_fit(model, x, y, batch_size: int, steps: int, seed: int = 0):
    def run():
        model.fit(x, y, epochs=1, batch_size=batch_size, steps_per_epoch=steps, verbose=0, seed=seed)
    return run


def _count(params) -> int:
    return int(sum(int(np.prod(tuple(p.shape))) for p in params))


def cnn_workload(steps: int, batch_size: int = 64, real_data: bool = True) -> Workload:
    from .. import models
    from ..keras import losses, optimizers

    x, y, data = _images(max(steps * batch_size, 1024), real_data)
    manual_seed(0)
    model = models.ConvNet(1, 10, image_size=28, channels=(16, 32), hidden=128, dropout=0.25)
    model.compile(optimizers.Adam(1e-3), losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"])
    torch = _torch()
    trun, tcount = None, None
    if torch is not None:
        torch.manual_seed(0)
        tm = _torch_convnet(torch)
        trun = _torch_loop(torch, tm, torch.optim.Adam(tm.parameters(), lr=1e-3), x, y, batch_size, steps)
        tcount = _count(tm.parameters())
    model.build((1, 28, 28))
    return Workload("cnn", f"ConvNet 16-16/32-32 BN, 28x28, batch {batch_size}, Adam, {steps} steps",
                    _fastnn_fit(model, x, y, batch_size, steps), trun, (_count(model.parameters()), tcount), data)


# ----------------------------------------------------------------------------- Transformer (char GPT)
def _torch_chargpt(torch, vocab: int, block: int, d: int, nhead: int, layers: int):
    """The same network as fastnn.models.CharGPT, in PyTorch modules."""
    nn, F = torch.nn, torch.nn.functional

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.k, self.v, self.out = (nn.Linear(d, d) for _ in range(4))

        def forward(self, x):
            n, length, _ = x.shape
            heads = lambda t: t.reshape(n, length, nhead, -1).transpose(1, 2)  # noqa: E731
            y = F.scaled_dot_product_attention(heads(self.q(x)), heads(self.k(x)), heads(self.v(x)), is_causal=True)
            return self.out(y.transpose(1, 2).reshape(n, length, d))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.attn, self.ln2 = nn.LayerNorm(d), Attention(), nn.LayerNorm(d)
            self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(block, d)
            self.blocks = nn.ModuleList(Block() for _ in range(layers))
            self.norm, self.head = nn.LayerNorm(d), nn.Linear(d, vocab)

        def forward(self, ids):
            h = self.tok(ids) + self.pos(torch.arange(ids.shape[1]))
            for b in self.blocks:
                h = b(h)
            return self.head(self.norm(h))

    return GPT()


def gpt_workload(steps: int, batch_size: int = 32, block: int = 64, d: int = 128, nhead: int = 4,
                 layers: int = 2) -> Workload:
    from .. import datasets, models
    from ..keras import losses, optimizers

    name = "shakespeare" if datasets.shakespeare_available() else "sonnets"
    text = datasets.load_text(name)[:400_000]
    x, y, vocab = datasets.char_windows(text, seq_len=block, stride=block // 2)
    manual_seed(0)
    model = models.CharGPT(len(vocab), block_size=block, d_model=d, nhead=nhead, num_layers=layers)
    model.compile(optimizers.AdamW(1e-3), losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"])
    torch = _torch()
    trun, tcount = None, None
    if torch is not None:
        torch.manual_seed(0)
        tm = _torch_chargpt(torch, len(vocab), block, d, nhead, layers)
        trun = _torch_loop(torch, tm, torch.optim.AdamW(tm.parameters(), lr=1e-3), x, y, batch_size, steps)
        tcount = _count(tm.parameters())
    model.build((block,), "int64")
    return Workload("transformer", f"CharGPT L{block} d{d} h{nhead} x{layers} layers, vocab {len(vocab)}, "
                    f"batch {batch_size}, AdamW, {steps} steps", _fastnn_fit(model, x, y, batch_size, steps), trun,
                    (_count(model.parameters()), tcount), f"{name} text")


# ----------------------------------------------------------------------------- suite
def time_epochs(fns: dict[str, Callable[[], Any]], runs: int, warmup: bool = True) -> dict[str, Timing]:
    """Each fn is one whole training run (seconds long): one warm-up call each, then `runs` alternating
    blocks of one timed call (harness.time_interleaved: a settling pause before each block)."""
    if warmup:
        for fn in fns.values():
            fn()
    return time_interleaved(fns, rounds=runs, warmup=0, min_runs=runs, min_time=0.0, max_runs=runs)


# ----------------------------------------------------------------------------- suite
def workloads(quick: bool) -> list[Workload]:
    # quick: random images rather than reading all of MNIST for 5 steps (the timing does not depend on values)
    return [cnn_workload(steps=5 if quick else 100, real_data=not quick), gpt_workload(steps=5 if quick else 100)]


def measure(quick: bool = False, runs: int | None = None) -> tuple[list[Row], list[Workload]]:
    """Rows (impl fastnn / torch) for each workload, with the same thread count in both libraries."""
    torch = _torch()
    if torch is not None:
        torch.set_num_threads(get_num_threads())
    runs = runs or (2 if quick else 5)
    rows, loads = [], workloads(quick)
    for w in loads:
        if w.params[1] is not None and w.params[0] != w.params[1]:
            raise RuntimeError(f"train benchmark {w.name}: fastnn has {w.params[0]} parameters, torch {w.params[1]}: "
                               f"not the same architecture")
        fns = {"fastnn": w.fastnn_run}
        if w.torch_run is not None:
            fns["torch"] = w.torch_run
        for impl, t in time_epochs(fns, runs).items():
            rows.append(Row("train", w.name, w.shape, impl, t))
    return rows, loads


def run(quick: bool = False) -> list[Row]:
    return measure(quick)[0]
