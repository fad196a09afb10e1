"""Glue-kernel benchmarks (activations, softmax, losses, dropout, embedding; normalization,
reductions and optimizer steps are added by their family): fastnn against PyTorch CPU in the same
run, GB/s from explicit byte counts and % of the copy bandwidth that `fastnn info --peak`
measures.

Every case is a :class:`BenchCase` built by a function of ``quick`` listed in ``CASE_BUILDERS``;
a family adds its cases by appending its builder there. Byte counts are the minimum traffic of the
operation (each input read once, each output written once); both implementations are timed on the
same inputs, writing into preallocated outputs wherever the library has an ``out=`` form (PyTorch's
aten ``.out`` / ``.grad_input`` overloads), so allocation and page faults are not measured.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from .harness import Row, time_fn

F32 = 4


@dataclass
class BenchCase:
    family: str
    op: str
    shape: str
    bytes: float                                  # minimal bytes moved per call
    impls: dict[str, Callable[[], Any]] = field(default_factory=dict)
    memory_bound: bool = True                     # judged against the copy bandwidth (80% bar)


def _torch():
    try:
        import torch

        return torch
    except ImportError:  # the anchor is optional; fastnn rows still run
        return None


def _rand(shape, low=-4.0, high=4.0, seed=0) -> np.ndarray:
    x = np.random.default_rng(seed).uniform(low, high, size=shape).astype(np.float32)
    x[x == 0] = 0.5
    return x


# ---- activations ------------------------------------------------------------------------------

def activation_cases(quick: bool) -> Iterable[BenchCase]:
    import fastnn

    torch = _torch()
    n = 1 << 20 if quick else 1 << 24
    x, g = _rand((n,)), _rand((n,), seed=1)
    out = np.empty_like(x)
    ys, yt = fastnn.sigmoid(x), fastnn.tanh(x)  # forward outputs, for the backwards from y
    tx, tg, to, tys, tyt = (torch.from_numpy(a) for a in (x, g, out, ys, yt)) if torch else (None,) * 5
    A = torch.ops.aten if torch else None
    N = torch._C._nn if torch else None
    table = [
        # name, fastnn fwd, fastnn bwd, torch fwd, torch bwd
        ("relu", lambda: fastnn.relu(x, out=out), lambda: fastnn.relu_backward(g, x, out=out),
         lambda: torch.clamp_min(tx, 0, out=to), lambda: A.threshold_backward.grad_input(tg, tx, 0, grad_input=to)),
        ("leaky_relu", lambda: fastnn.leaky_relu(x, 0.01, out=out), lambda: fastnn.leaky_relu_backward(g, x, out=out),
         lambda: N.leaky_relu(tx, 0.01, out=to),
         lambda: A.leaky_relu_backward.grad_input(tg, tx, 0.01, False, grad_input=to)),
        ("gelu", lambda: fastnn.gelu(x, out=out), lambda: fastnn.gelu_backward(g, x, out=out),
         lambda: N.gelu(tx, approximate="none", out=to),
         lambda: A.gelu_backward.grad_input(tg, tx, approximate="none", grad_input=to)),
        ("gelu_tanh", lambda: fastnn.gelu(x, "tanh", out=out), lambda: fastnn.gelu_backward(g, x, "tanh", out=out),
         lambda: N.gelu(tx, approximate="tanh", out=to),
         lambda: A.gelu_backward.grad_input(tg, tx, approximate="tanh", grad_input=to)),
        ("silu", lambda: fastnn.silu(x, out=out), lambda: fastnn.silu_backward(g, x, out=out),
         lambda: N.silu(tx, out=to), lambda: A.silu_backward.grad_input(tg, tx, grad_input=to)),
        # PyTorch's sigmoid / tanh backwards take the forward output y; fastnn's take x (recomputing
        # the exp) or y= (the same math as PyTorch): both forms are timed, labelled "(x)" / "(y)",
        # against PyTorch's one (same traffic: grad and one operand read, the result written)
        ("sigmoid", lambda: fastnn.sigmoid(x, out=out), lambda: fastnn.sigmoid_backward(g, x, out=out),
         lambda: torch.sigmoid(tx, out=to), lambda: A.sigmoid_backward.grad_input(tg, tys, grad_input=to)),
        ("tanh", lambda: fastnn.tanh(x, out=out), lambda: fastnn.tanh_backward(g, x, out=out),
         lambda: torch.tanh(tx, out=to), lambda: A.tanh_backward.grad_input(tg, tyt, grad_input=to)),
        ("softplus", lambda: fastnn.softplus(x, out=out), lambda: fastnn.softplus_backward(g, x, out=out),
         lambda: N.softplus(tx, 1.0, 20.0, out=to),
         lambda: A.softplus_backward.grad_input(tg, tx, 1.0, 20.0, grad_input=to)),
    ]
    from_y = {"sigmoid": lambda: fastnn.sigmoid_backward(g, y=ys, out=out),
              "tanh": lambda: fastnn.tanh_backward(g, y=yt, out=out)}
    label = f"{n}"
    for name, f, b, tf, tb in table:
        yield BenchCase("activation", name, label, 2 * F32 * n,
                        {"fastnn": f, **({"torch": tf} if torch else {})})
        yield BenchCase("activation", name + "_backward" + ("(x)" if name in from_y else ""), label, 3 * F32 * n,
                        {"fastnn": b, **({"torch": tb} if torch else {})})
        if name in from_y:
            yield BenchCase("activation", name + "_backward(y)", label, 3 * F32 * n,
                            {"fastnn": from_y[name], **({"torch": tb} if torch else {})})


# ---- softmax ------------------------------------------------------------------------------------

ROW_SHAPES = [(4096, 1024), (8192, 32000)]
QUICK_ROW_SHAPES = [(1024, 1024)]


def softmax_cases(quick: bool) -> Iterable[BenchCase]:
    import fastnn

    torch = _torch()
    A = torch.ops.aten if torch else None
    for shape in QUICK_ROW_SHAPES if quick else ROW_SHAPES:
        x, g = _rand(shape, -8, 8), _rand(shape, seed=1)
        out, y = np.empty_like(x), fastnn.softmax(x, -1)
        ly = fastnn.log_softmax(x, -1)
        n = x.size
        label = f"{shape}"
        impls = {"fastnn": lambda x=x, out=out: fastnn.softmax(x, -1, out=out)}
        limpls = {"fastnn": lambda x=x, out=out: fastnn.log_softmax(x, -1, out=out)}
        bimpls = {"fastnn": lambda g=g, y=y, out=out: fastnn.softmax_backward(g, y, -1, out=out)}
        lbimpls = {"fastnn": lambda g=g, y=ly, out=out: fastnn.log_softmax_backward(g, y, -1, out=out)}
        if torch:
            tx, tg, to, ty, tly = (torch.from_numpy(a) for a in (x, g, out, y, ly))
            impls["torch"] = lambda tx=tx, to=to: A._softmax.out(tx, -1, False, out=to)
            limpls["torch"] = lambda tx=tx, to=to: A._log_softmax.out(tx, -1, False, out=to)
            bimpls["torch"] = lambda tg=tg, ty=ty, to=to: A._softmax_backward_data.out(tg, ty, -1, torch.float32,
                                                                                         grad_input=to)
            lbimpls["torch"] = lambda tg=tg, ty=tly, to=to: A._log_softmax_backward_data.out(tg, ty, -1, torch.float32,
                                                                                              out=to)
        yield BenchCase("softmax", "softmax", label, 2 * F32 * n, impls)
        yield BenchCase("softmax", "log_softmax", label, 2 * F32 * n, limpls)
        yield BenchCase("softmax", "softmax_backward", label, 3 * F32 * n, bimpls)
        yield BenchCase("softmax", "log_softmax_backward", label, 3 * F32 * n, lbimpls)


# ---- losses -------------------------------------------------------------------------------------

def loss_cases(quick: bool) -> Iterable[BenchCase]:
    import fastnn

    torch = _torch()
    A = torch.ops.aten if torch else None
    F = torch.nn.functional if torch else None
    for shape in QUICK_ROW_SHAPES if quick else ROW_SHAPES:
        N, C = shape
        x = _rand(shape, -8, 8)
        t = np.random.default_rng(2).integers(0, C, N)
        dx = np.empty_like(x)
        label = f"{shape}"
        fwd = {"fastnn": lambda x=x, t=t: fastnn.cross_entropy(x, t)}
        both = {"fastnn": lambda x=x, t=t, dx=dx: (fastnn.cross_entropy(x, t),
                                                   fastnn.cross_entropy_backward(np.float32(1), x, t, out=dx))}
        if torch:
            tx, tt = torch.from_numpy(x), torch.from_numpy(t)
            fwd["torch"] = lambda tx=tx, tt=tt: F.cross_entropy(tx, tt)
            txg = tx.clone().requires_grad_(True)

            def torch_both(txg=txg, tt=tt):
                txg.grad = None
                F.cross_entropy(txg, tt).backward()

            both["torch"] = torch_both
        # forward reads the logits once; forward + backward reads them twice more and writes dx
        yield BenchCase("loss", "cross_entropy", label, F32 * N * C, fwd)
        yield BenchCase("loss", "cross_entropy fwd+bwd", label, 4 * F32 * N * C, both)

    n = 1 << 20 if quick else 1 << 24
    p = _rand((n,), 0.01, 0.99)
    tgt = _rand((n,), 0.0, 1.0, seed=3)
    z = _rand((n,), -6, 6, seed=4)
    out = np.empty_like(p)
    one = np.float32(1.0)
    label = f"{n}"
    cases = [
        ("binary_cross_entropy", 2, lambda: fastnn.binary_cross_entropy(p, tgt), "bce"),
        ("binary_cross_entropy_backward", 3, lambda: fastnn.binary_cross_entropy_backward(one, p, tgt, out=out),
         "bce_b"),
        ("binary_cross_entropy_with_logits", 2, lambda: fastnn.binary_cross_entropy_with_logits(z, tgt), "bcel"),
        ("binary_cross_entropy_with_logits_backward", 3,
         lambda: fastnn.binary_cross_entropy_with_logits_backward(one, z, tgt, out=out), "bcel_b"),
        ("mse_loss", 2, lambda: fastnn.mse_loss(z, tgt), "mse"),
        ("mse_loss_backward", 3, lambda: fastnn.mse_loss_backward(one, z, tgt, out=out), "mse_b"),
    ]
    anchors: dict[str, Callable[[], Any]] = {}
    if torch:
        tp, tt, tz, to, tone = (torch.from_numpy(a) for a in (p, tgt, z, out, np.array(1.0, np.float32)))
        anchors = {
            "bce": lambda: F.binary_cross_entropy(tp, tt),
            "bce_b": lambda: A.binary_cross_entropy_backward.grad_input(tone, tp, tt, None, 1, grad_input=to),
            "bcel": lambda: F.binary_cross_entropy_with_logits(tz, tt),
            # "bcel_b": PyTorch has no standalone backward op (autograd only): no anchor
            "mse": lambda: F.mse_loss(tz, tt),
            "mse_b": lambda: A.mse_loss_backward.grad_input(tone, tz, tt, 1, grad_input=to),
        }
    for op, streams, f, key in cases:
        impls = {"fastnn": f}
        if key in anchors:
            impls["torch"] = anchors[key]
        yield BenchCase("loss", op, label, streams * F32 * n, impls)


# ---- dropout ------------------------------------------------------------------------------------

def dropout_cases(quick: bool) -> Iterable[BenchCase]:
    import fastnn

    torch = _torch()
    n = 1 << 20 if quick else 1 << 24
    x = _rand((n,))
    out = np.empty_like(x)
    impls = {"fastnn": lambda: fastnn.dropout(x, 0.1, seed=1, out=out)}
    bimpls = {"fastnn": lambda: fastnn.dropout_backward(x, 0.1, seed=1, out=out)}
    if torch:
        tx = torch.from_numpy(x)
        # PyTorch has no out= dropout: it allocates the output and draws a float mask (bernoulli_)
        impls["torch"] = lambda: torch.nn.functional.dropout(tx, 0.1, training=True)
    yield BenchCase("dropout", "dropout", f"{n}", 2 * F32 * n, impls)
    yield BenchCase("dropout", "dropout_backward", f"{n}", 2 * F32 * n, bimpls)


# ---- embedding ----------------------------------------------------------------------------------

def embedding_cases(quick: bool) -> Iterable[BenchCase]:
    import fastnn

    torch = _torch()
    V, D, T = (8192, 256, 4096) if quick else (50257, 768, 16384)
    w = _rand((V, D))
    idx = np.random.default_rng(5).integers(0, V, T)
    g = _rand((T, D), seed=6)
    out, gw = np.empty((T, D), np.float32), np.empty((V, D), np.float32)
    label = f"V={V} D={D} tokens={T}"
    impls = {"fastnn": lambda: fastnn.embedding(idx, w, out=out)}
    bimpls = {"fastnn": lambda: fastnn.embedding_backward(g, idx, V, out=gw)}
    if torch:
        tw, ti, tg, to, tgw = (torch.from_numpy(a) for a in (w, idx, g, out, gw))
        # F.embedding is index_select on the weight; both anchors write preallocated outputs
        impls["torch"] = lambda: torch.index_select(tw, 0, ti, out=to)
        bimpls["torch"] = lambda: torch.ops.aten.embedding_dense_backward.out(tg, ti, V, -1, False, out=tgw)
    # lookup: rows read + output written; backward: grad read + the (V, D) gradient zeroed and
    # its touched rows updated (bounded below by writing it once)
    yield BenchCase("embedding", "embedding", label, 2 * F32 * T * D + 8 * T, impls)
    yield BenchCase("embedding", "embedding_backward", label, F32 * (T * D + V * D) + 8 * T, bimpls)


# Families append their builders here (coordination through this file only).
CASE_BUILDERS: list[Callable[[bool], Iterable[BenchCase]]] = [
    activation_cases,
    softmax_cases,
    loss_cases,
    dropout_cases,
    embedding_cases,
]


def run(quick: bool = False, only: Iterable[str] | None = None) -> list[Row]:
    """Rows for every case (``only``: family names to keep)."""
    keep = set(only) if only else None
    rows: list[Row] = []
    for build in CASE_BUILDERS:
        for case in build(quick):
            if keep and case.family not in keep:
                continue
            for impl, fn in case.impls.items():
                timing = time_fn(fn, warmup=2, min_runs=5, min_time=0.2 if quick else 0.6, max_runs=50)
                rows.append(Row(case.family, case.op, case.shape, impl, timing, bytes=case.bytes))
    return rows
