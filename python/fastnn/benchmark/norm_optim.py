"""Benchmarks for the memory-bound glue kernels of glue-b: layer_norm, rms_norm, batch_norm,
broadcasting add/mul, bias_add, sum/mean/max and the fused optimizer steps, forward and
backward, against PyTorch CPU (same thread count) in the same run.

The figure of merit is bandwidth: ``bytes`` is what each call must move to or from memory at
minimum for its algorithm, stated per row (e.g. batch_norm training reads x twice: the
statistics must be complete before the first output, and 16M elements do not fit in cache).

Implementations per row:
  fastnn            the public function, allocating its outputs (like torch's functional API);
  fastnn-prealloc   the same kernel writing into preallocated outputs (``out=``, or the raw
                    binding for backwards): the kernel's own bandwidth, judged against the copy
                    bandwidth (a fresh 64 MB output costs page faults on first touch);
  torch             the PyTorch function, allocating;
  torch-prealloc    PyTorch's ``out=`` variant where one exists.
fastnn-prealloc rows carry their ratio against torch-prealloc (torch where there is none).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import _C, get_num_threads
from ..ops import elementwise as ew
from ..ops import norm, optim
from ..ops import reduce as red
from ..testing import rand, rng
from .harness import Row, time_interleaved

F = 4  # bytes per float32


class _Bench:
    def __init__(self, quick: bool):
        self.quick = quick
        self.rows: list[Row] = []
        try:
            import torch

            torch.set_num_threads(get_num_threads())
            self.torch = torch
        except ImportError:
            self.torch = None

    def add(self, op: str, shape: str, nbytes: float, impls: dict[str, Callable[[], Any] | None]) -> None:
        live = {k: f for k, f in impls.items() if f is not None}
        for impl, t in time_interleaved(live, min_time=0.2 if self.quick else 1.0,
                                         min_runs=5 if self.quick else 10).items():
            self.rows.append(Row("norm_optim", op, shape, impl, t, bytes=nbytes))


def _norms(b: _Bench, n_big: int) -> None:
    torch, g = b.torch, rng(1)
    tF = torch.nn.functional if torch else None
    aten = torch.ops.aten if torch else None
    shapes = [(n_big // 4096, 4096), (4096, 1024)] if b.quick else [(4096, 4096), (4096, 1024), (8192, 32000)]
    for m, n in shapes:
        x = rand((m, n), gen=g)
        w, bias = rand(n, gen=g), rand(n, gen=g)
        y = np.zeros((m, n), np.float32)  # touched once: no page faults inside the timing
        label = f"({m}, {n})"
        if torch:
            tx, tw, tb, ty = (torch.from_numpy(a) for a in (x, w, bias, y))
            tmean, trstd = torch.empty(m, 1), torch.empty(m, 1)
        b.add("layer_norm", label, 2 * x.nbytes, {
            "fastnn": lambda: norm.layer_norm(x, n, w, bias),
            "fastnn-prealloc": lambda: norm.layer_norm(x, n, w, bias, out=y),
            "torch": torch and (lambda: tF.layer_norm(tx, (n,), tw, tb)),
            "torch-prealloc": torch and (lambda: aten.native_layer_norm.out(tx, (n,), tw, tb, 1e-5, out0=ty, out1=tmean,
                                                                              out2=trstd))})
        b.add("rms_norm", label, 2 * x.nbytes, {
            "fastnn": lambda: norm.rms_norm(x, n, w),
            "fastnn-prealloc": lambda: norm.rms_norm(x, n, w, out=y),
            "torch": torch and (lambda: tF.rms_norm(tx, (n,), tw))})
        if m * n > 64 << 20:  # 1 GiB per array: forward only
            continue
        go = rand((m, n), gen=g)
        dw, db = np.empty(n, np.float32), np.empty(n, np.float32)
        _, mean, rstd = norm.layer_norm(x, n, w, bias, return_stats=True)
        if torch:
            tgo = torch.from_numpy(go)
            _, tmean, trstd = aten.native_layer_norm(tx, (n,), tw, tb, 1e-5)
            tdw, tdb = torch.empty(n), torch.empty(n)
        b.add("layer_norm_backward", label, 3 * x.nbytes, {
            "fastnn": lambda: norm.layer_norm_backward(go, x, n, w, bias, mean=mean, rstd=rstd),
            "fastnn-prealloc": lambda: _C.layer_norm_backward(go, x, w, mean, rstd, 1e-5, y, dw, db),
            "torch": torch and (lambda: aten.native_layer_norm_backward(tgo, tx, (n,), tmean, trstd, tw, tb,
                                                                        [True, True, True])),
            "torch-prealloc": torch and (lambda: aten.native_layer_norm_backward.out(
                tgo, tx, (n,), tmean, trstd, tw, tb, [True, True, True], out0=ty, out1=tdw, out2=tdb))})
        _, rr = norm.rms_norm(x, n, w, return_stats=True)
        if torch:
            txr, twr = tx.clone().requires_grad_(True), tw.clone().requires_grad_(True)
            tyr = tF.rms_norm(txr, (n,), twr)
        b.add("rms_norm_backward", label, 3 * x.nbytes, {
            "fastnn": lambda: norm.rms_norm_backward(go, x, n, w, rstd=rr),
            "fastnn-prealloc": lambda: _C.rms_norm_backward(go, x, w, rr, 1e-6, y, dw),
            "torch": torch and (lambda: torch.autograd.grad(tyr, (txr, twr), tgo, retain_graph=True))})
        del go

    for shape in ([(n_big // 4096, 64, 8, 8)] if b.quick else [(64, 64, 64, 64), (65536, 256)]):
        x, go = rand(shape, gen=g), rand(shape, gen=g)
        y = np.zeros(shape, np.float32)
        c = shape[1]
        w, bias = rand(c, gen=g), rand(c, gen=g)
        rm, rv = np.zeros(c, np.float32), np.ones(c, np.float32)
        x3, go3, y3 = (a.reshape(shape[0], c, -1) for a in (x, go, y))
        dw, db = np.empty(c, np.float32), np.empty(c, np.float32)
        label = str(shape)
        if torch:
            tx, tgo, tw, tb, trm, trv, ty = (torch.from_numpy(a) for a in (x, go, w, bias, rm.copy(), rv.copy(), y))
            tsm, tsr, tdw, tdb = torch.empty(c), torch.empty(c), torch.empty(c), torch.empty(c)
        # training: the statistics pass and the normalisation pass each read x; eval reads it once
        b.add("batch_norm train", label, 3 * x.nbytes, {
            "fastnn": lambda: norm.batch_norm(x, rm, rv, w, bias, training=True),
            "fastnn-prealloc": lambda: norm.batch_norm(x, rm, rv, w, bias, training=True, out=y),
            "torch": torch and (lambda: tF.batch_norm(tx, trm, trv, tw, tb, training=True)),
            "torch-prealloc": torch and (lambda: aten.native_batch_norm.out(tx, tw, tb, trm, trv, True, 0.1, 1e-5,
                                                                              out=ty, save_mean=tsm, save_invstd=tsr))})
        b.add("batch_norm eval", label, 2 * x.nbytes, {
            "fastnn": lambda: norm.batch_norm(x, rm, rv, w, bias, training=False),
            "fastnn-prealloc": lambda: norm.batch_norm(x, rm, rv, w, bias, training=False, out=y),
            "torch": torch and (lambda: tF.batch_norm(tx, trm, trv, tw, tb, training=False)),
            "torch-prealloc": torch and (lambda: aten.native_batch_norm.out(tx, tw, tb, trm, trv, False, 0.1, 1e-5,
                                                                              out=ty, save_mean=tsm, save_invstd=tsr))})
        _, mean, rstd = norm.batch_norm(x, rm.copy(), rv.copy(), w, bias, training=True, return_stats=True)
        if torch:
            _, smean, srstd = aten.native_batch_norm(tx, tw, tb, trm.clone(), trv.clone(), True, 0.1, 1e-5)
        # training backward: the sums pass reads (g, x), the grad_x pass reads them again and writes
        b.add("batch_norm_backward train", label, 5 * x.nbytes, {
            "fastnn": lambda: norm.batch_norm_backward(go, x, w, bias, rm, rv, True, mean=mean, rstd=rstd),
            "fastnn-prealloc": lambda: _C.batch_norm_backward(go3, x3, w, rm, rv, True, 1e-5, mean, rstd, y3, dw, db),
            "torch": torch and (lambda: aten.native_batch_norm_backward(
                tgo, tx, tw, trm, trv, smean, srstd, True, 1e-5, [True, True, True])),
            "torch-prealloc": torch and (lambda: aten.native_batch_norm_backward.out(
                tgo, tx, tw, trm, trv, smean, srstd, True, 1e-5, [True, True, True], out0=ty, out1=tdw, out2=tdb))})
        b.add("batch_norm_backward eval", label, 3 * x.nbytes, {
            "fastnn": lambda: norm.batch_norm_backward(go, x, w, bias, rm, rv, False),
            "fastnn-prealloc": lambda: _C.batch_norm_backward(go3, x3, w, rm, rv, False, 1e-5, None, None, y3, dw, db),
            "torch": torch and (lambda: aten.native_batch_norm_backward(
                tgo, tx, tw, trm, trv, None, None, False, 1e-5, [True, True, True])),
            "torch-prealloc": torch and (lambda: aten.native_batch_norm_backward.out(
                tgo, tx, tw, trm, trv, None, None, False, 1e-5, [True, True, True], out0=ty, out1=tdw, out2=tdb))})
        del x, go, y


def _elementwise(b: _Bench, n_big: int) -> None:
    torch, g = b.torch, rng(2)
    side = int(round(n_big ** 0.5))
    a, c = rand(n_big, gen=g), rand(n_big, gen=g)
    out, out_b = np.zeros(n_big, np.float32), np.zeros(n_big, np.float32)
    m2, row = rand((side, side), gen=g), rand(side, gen=g)
    out2 = np.zeros((side, side), np.float32)
    nchw = (n_big // (64 * 64 * 64), 64, 64, 64)
    xc, bc = rand(nchw, gen=g), rand(64, gen=g)
    outc = np.zeros(nchw, np.float32)
    t = {}
    if torch:
        t = {k: torch.from_numpy(v) for k, v in dict(a=a, c=c, out=out, out_b=out_b, m2=m2, row=row, out2=out2,
                                                      xc=xc, bc=bc, outc=outc).items()}
    lab1 = f"({n_big},)"
    for op, ours, theirs in [("add", ew.add, torch and torch.add), ("mul", ew.mul, torch and torch.mul)]:
        b.add(op, lab1, 3 * a.nbytes, {
            "fastnn": lambda: ours(a, c), "fastnn-prealloc": lambda: ours(a, c, out=out),
            "torch": torch and (lambda: theirs(t["a"], t["c"])),
            "torch-prealloc": torch and (lambda: theirs(t["a"], t["c"], out=t["out"]))})
    lab2 = f"({side}, {side}) + ({side},)"
    b.add("add (broadcast row)", lab2, 2 * m2.nbytes, {
        "fastnn": lambda: ew.add(m2, row), "fastnn-prealloc": lambda: ew.add(m2, row, out=out2),
        "torch": torch and (lambda: torch.add(t["m2"], t["row"])),
        "torch-prealloc": torch and (lambda: torch.add(t["m2"], t["row"], out=t["out2"]))})
    b.add("bias_add NCHW", str(nchw), 2 * xc.nbytes, {
        "fastnn": lambda: ew.bias_add(xc, bc, axis=1), "fastnn-prealloc": lambda: ew.bias_add(xc, bc, axis=1, out=outc),
        "torch": torch and (lambda: torch.add(t["xc"], t["bc"].view(64, 1, 1))),
        "torch-prealloc": torch and (lambda: torch.add(t["xc"], t["bc"].view(64, 1, 1), out=t["outc"]))})
    # mul's backward for equal shapes: reads grad, a, b once, writes both gradients (one pass)
    b.add("mul_backward", lab1, 5 * a.nbytes, {
        "fastnn": lambda: ew.mul_backward(out, a, c),
        "fastnn-prealloc": lambda: _C.mul_backward(out, a, c, out_b, out2.reshape(-1)),
        "torch": torch and (lambda: (torch.mul(t["out"], t["c"]), torch.mul(t["out"], t["a"]))),
        "torch-prealloc": torch and (lambda: (torch.mul(t["out"], t["c"], out=t["out_b"]),
                                              torch.mul(t["out"], t["a"], out=t["out2"].view(-1))))})
    b.add("add_backward (broadcast row)", lab2, m2.nbytes, {
        "fastnn": lambda: ew.add_backward(out2, m2, row),
        "torch": torch and (lambda: (t["out2"], t["out2"].sum(0)))})


def _reductions(b: _Bench, n_big: int) -> None:
    torch, g = b.torch, rng(3)
    side = int(round(n_big ** 0.5))
    x1, x2 = rand(n_big, gen=g), rand((side, side), gen=g)
    nchw = (n_big // (64 * 64 * 64), 64, 64, 64)
    x4 = rand(nchw, gen=g)
    t = {k: torch.from_numpy(v) for k, v in dict(x1=x1, x2=x2, x4=x4).items()} if torch else {}
    cases = [("sum", f"({n_big},) all", x1, None, "x1", None),
             ("sum", f"({side}, {side}) axis=-1", x2, -1, "x2", -1),
             ("sum", f"({side}, {side}) axis=0", x2, 0, "x2", 0),
             ("mean", f"{nchw} axis=(0, 2, 3)", x4, (0, 2, 3), "x4", (0, 2, 3))]
    for op, label, x, axis, tk, tdim in cases:
        ours = getattr(red, op)
        theirs = getattr(torch, op) if torch else None
        b.add(op, label, x.nbytes, {
            "fastnn": lambda: ours(x, axis),
            "torch": torch and ((lambda: theirs(t[tk])) if tdim is None else (lambda: theirs(t[tk], dim=tdim)))})
    for axis in (-1, 0):
        b.add("max (values, indices)", f"({side}, {side}) axis={axis}", x2.nbytes, {
            "fastnn": lambda: red.max(x2, axis), "torch": torch and (lambda: torch.max(t["x2"], dim=axis))})
    gsum = rand(side, gen=g)
    b.add("sum_backward", f"({side}, {side}) axis=0", x2.nbytes, {
        "fastnn": lambda: red.sum_backward(gsum, x2.shape, 0),
        "torch": torch and (lambda: torch.from_numpy(gsum).expand(side, side).contiguous())})


def _optim(b: _Bench, n_big: int) -> None:
    torch, g = b.torch, rng(4)
    p, grad = rand(n_big, gen=g), rand(n_big, gen=g)
    s1, s2, s3 = (np.zeros(n_big, np.float32) for _ in range(3))
    step = [1]

    def torch_opt(ctor, **kw):
        if not torch:
            return None
        tp = torch.nn.Parameter(torch.from_numpy(p.copy()))
        tp.grad = torch.from_numpy(grad.copy())
        try:
            opt = ctor([tp], fused=True, **kw)  # PyTorch's fastest CPU path
        except (RuntimeError, TypeError):
            opt = ctor([tp], foreach=False, **kw)
        opt.step()  # create the state outside the timing
        return opt.step

    def nxt():
        step[0] += 1
        return step[0]

    label = f"({n_big},)"
    sgd_kw = dict(lr=1e-3, momentum=0.9, nesterov=True, weight_decay=1e-4)
    b.add("sgd_step_ (momentum, nesterov, wd)", label, 5 * p.nbytes, {
        "fastnn": lambda: optim.sgd_step_(p, grad, s1, step=nxt(), **sgd_kw),
        "torch": torch_opt(torch.optim.SGD, **sgd_kw) if torch else None})
    b.add("adam_step_", label, 7 * p.nbytes, {
        "fastnn": lambda: optim.adam_step_(p, grad, s1, s2, step=nxt(), lr=1e-3),
        "torch": torch_opt(torch.optim.Adam, lr=1e-3) if torch else None})
    b.add("adamw_step_", label, 7 * p.nbytes, {
        "fastnn": lambda: optim.adamw_step_(p, grad, s1, s2, step=nxt(), lr=1e-3),
        "torch": torch_opt(torch.optim.AdamW, lr=1e-3) if torch else None})
    b.add("adam_step_ amsgrad", label, 9 * p.nbytes, {
        "fastnn": lambda: optim.adam_step_(p, grad, s1, s2, step=nxt(), lr=1e-3, amsgrad=True, max_exp_avg_sq=s3),
        "torch": torch_opt(torch.optim.Adam, lr=1e-3, amsgrad=True) if torch else None})


def _prealloc_ratios(rows: list[Row]) -> None:
    by_key: dict[tuple[str, str], dict[str, Row]] = {}
    for r in rows:
        by_key.setdefault((r.op, r.shape), {})[r.impl] = r
    for impls in by_key.values():
        mine = impls.get("fastnn-prealloc")
        anchor = impls.get("torch-prealloc") or impls.get("torch")
        if mine is not None and anchor is not None:
            mine.ratios[anchor.impl] = anchor.timing.median / mine.timing.median


def run(quick: bool = False) -> list[Row]:
    """Rows for every op; 16M-element tensors (1M with quick)."""
    b = _Bench(quick)
    n_big = (1 << 20) if quick else (1 << 24)
    _elementwise(b, n_big)
    _reductions(b, n_big)
    _optim(b, n_big)
    _norms(b, n_big)
    _prealloc_ratios(b.rows)
    return b.rows
