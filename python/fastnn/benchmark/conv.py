"""Convolution and pooling benchmarks against PyTorch CPU (oneDNN) in the same process.

Layers (issue "CPU convolution and pooling"): ResNet-50 3x3 layers (64→64 at 56², 128→128 at 28²,
256→256 at 14²), the 1x1 64→256 at 56², the 7x7/2 stem, all batch 8; a depthwise 3x3 (256
channels, 28², batch 8); a DCGAN generator transposed conv (512→256, 4²→8², kernel 4, stride 2,
padding 1, batch 64). Forward, and backward = data + weight (+ bias) gradients, the anchor being
torch.ops.aten.convolution_backward with the same output mask. Pooling rows follow.
FLOPs: 2·N·K·(C/groups)·R·S·Ho·Wo per pass (backward counts data + weight: twice that).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import ops
from ..testing import rng
from .harness import Row, time_fn

# (label, N, C, H, K, R, stride, padding, groups)
CONV_LAYERS = [
    ("3x3 64→64 56²", 8, 64, 56, 64, 3, 1, 1, 1),
    ("3x3 128→128 28²", 8, 128, 28, 128, 3, 1, 1, 1),
    ("3x3 256→256 14²", 8, 256, 14, 256, 3, 1, 1, 1),
    ("1x1 64→256 56²", 8, 64, 56, 256, 1, 1, 0, 1),
    ("stem 7x7/2 3→64 224²", 8, 3, 224, 64, 7, 2, 3, 1),
    ("depthwise 3x3 256 28²", 8, 256, 28, 256, 3, 1, 1, 256),
]
QUICK_LAYERS = {"3x3 128→128 28²", "depthwise 3x3 256 28²"}
# (label, N, C_in, H, C_out, R, stride, padding)
TRANSPOSED = [("DCGAN 512→256 4²→8² k4/2", 64, 512, 4, 256, 4, 2, 1)]


def _torch():
    try:
        import torch

        return torch
    except ImportError:
        return None


def _data(shape, g):
    return g.standard_normal(shape, dtype=np.float32)


def _conv_rows(quick: bool, min_time: float) -> list[Row]:
    torch = _torch()
    rows: list[Row] = []
    for label, N, C, H, K, R, s, p, groups in CONV_LAYERS:
        if quick and label not in QUICK_LAYERS:
            continue
        g = rng(0)
        x, w, b = _data((N, C, H, H), g), _data((K, C // groups, R, R), g) * 0.1, _data((K,), g)
        y = ops.conv.conv2d(x, w, b, s, p, 1, groups)
        go = _data(y.shape, g)
        flops = 2.0 * N * K * (C // groups) * R * R * y.shape[2] * y.shape[3]
        impls: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
            "fastnn": (lambda: ops.conv.conv2d(x, w, b, s, p, 1, groups),
                       lambda: ops.conv.conv2d_backward(go, x, w, b, s, p, 1, groups)),
        }
        if torch is not None:
            tx, tw, tb, tg = (torch.from_numpy(a) for a in (x, w, b, go))
            impls["torch"] = (
                lambda: torch.nn.functional.conv2d(tx, tw, tb, s, p, 1, groups),
                lambda: torch.ops.aten.convolution_backward(tg, tx, tw, [K], [s, s], [p, p], [1, 1], False, [0, 0],
                                                            groups, [True, True, True]))
        for impl, (fwd, bwd) in impls.items():
            rows.append(Row("conv", "conv2d", label, impl, time_fn(fwd, min_time=min_time), flops=flops))
            rows.append(Row("conv", "conv2d_backward", label, impl, time_fn(bwd, min_time=min_time),
                            flops=2 * flops))
    if quick:
        return rows
    for label, N, Cin, H, Cout, R, s, p in TRANSPOSED:
        g = rng(1)
        x, w, b = _data((N, Cin, H, H), g), _data((Cin, Cout, R, R), g) * 0.05, _data((Cout,), g)
        y = ops.conv.conv_transpose2d(x, w, b, s, p)
        go = _data(y.shape, g)
        flops = 2.0 * N * Cin * Cout * R * R * H * H
        impls = {"fastnn": (lambda: ops.conv.conv_transpose2d(x, w, b, s, p),
                            lambda: ops.conv.conv_transpose2d_backward(go, x, w, b, s, p))}
        if torch is not None:
            tx, tw, tb, tg = (torch.from_numpy(a) for a in (x, w, b, go))
            impls["torch"] = (
                lambda: torch.nn.functional.conv_transpose2d(tx, tw, tb, s, p),
                lambda: torch.ops.aten.convolution_backward(tg, tx, tw, [Cout], [s, s], [p, p], [1, 1], True, [0, 0],
                                                            1, [True, True, True]))
        for impl, (fwd, bwd) in impls.items():
            rows.append(Row("conv", "conv_transpose2d", label, impl, time_fn(fwd, min_time=min_time), flops=flops))
            rows.append(Row("conv", "conv_transpose2d_backward", label, impl, time_fn(bwd, min_time=min_time),
                            flops=2 * flops))
    return rows


def _pool_rows(quick: bool, min_time: float) -> list[Row]:
    torch = _torch()
    rows: list[Row] = []
    g = rng(2)
    x = _data((8, 64, 112, 112), g)          # after the ResNet stem
    xa = _data((8, 2048, 7, 7), g)           # before the ResNet head
    ym, idx = ops.pool.max_pool2d(x, 3, 2, 1, return_indices=True)
    gm = _data(ym.shape, g)
    ya = ops.pool.avg_pool2d(x, 2)
    gavg = _data(ya.shape, g)
    gad = _data((8, 2048, 1, 1), g)
    cases = {
        ("max_pool2d", "3x3/2 pad 1, 64x112², batch 8"): (
            lambda: ops.pool.max_pool2d(x, 3, 2, 1),
            lambda: ops.pool.max_pool2d_backward(gm, x, idx, 3, 2, 1), x.nbytes + ym.nbytes),
        ("avg_pool2d", "2x2/2, 64x112², batch 8"): (
            lambda: ops.pool.avg_pool2d(x, 2),
            lambda: ops.pool.avg_pool2d_backward(gavg, x, 2), x.nbytes + ya.nbytes),
        ("adaptive_avg_pool2d", "7²→1, 2048 ch, batch 8"): (
            lambda: ops.pool.adaptive_avg_pool2d(xa, 1),
            lambda: ops.pool.adaptive_avg_pool2d_backward(gad, xa, 1), xa.nbytes),
    }
    for (op, label), (fwd, bwd, nbytes) in cases.items():
        if quick and op != "max_pool2d":
            continue
        rows.append(Row("pool", op, label, "fastnn", time_fn(fwd, min_time=min_time), bytes=nbytes))
        rows.append(Row("pool", op + "_backward", label, "fastnn", time_fn(bwd, min_time=min_time), bytes=nbytes))
    if torch is not None:
        F = torch.nn.functional
        tx, txa, tgm, tgavg, tgad = (torch.from_numpy(a) for a in (x, xa, gm, gavg, gad))
        tidx = torch.from_numpy(idx)
        anchors = {
            ("max_pool2d", "3x3/2 pad 1, 64x112², batch 8"): (
                lambda: F.max_pool2d(tx, 3, 2, 1),
                lambda: torch.ops.aten.max_pool2d_with_indices_backward(tgm, tx, [3, 3], [2, 2], [1, 1], [1, 1], False,
                                                                        tidx)),
            ("avg_pool2d", "2x2/2, 64x112², batch 8"): (
                lambda: F.avg_pool2d(tx, 2),
                lambda: torch.ops.aten.avg_pool2d_backward(tgavg, tx, [2, 2], [2, 2], [0, 0], False, True, None)),
            ("adaptive_avg_pool2d", "7²→1, 2048 ch, batch 8"): (
                lambda: F.adaptive_avg_pool2d(txa, 1),
                lambda: torch.ops.aten._adaptive_avg_pool2d_backward(tgad, txa)),
        }
        for (op, label), (fwd, bwd) in anchors.items():
            if quick and op != "max_pool2d":
                continue
            mine = next(r for r in rows if r.op == op and r.impl == "fastnn")
            rows.append(Row("pool", op, label, "torch", time_fn(fwd, min_time=min_time), bytes=mine.bytes))
            rows.append(Row("pool", op + "_backward", label, "torch", time_fn(bwd, min_time=min_time),
                            bytes=mine.bytes))
    return rows


def run(quick: bool = False) -> list[Row]:
    torch = _torch()
    if torch is not None:
        from .. import get_num_threads

        torch.set_num_threads(get_num_threads())  # same thread budget for the anchor
    min_time = 0.2 if quick else 1.0
    return _conv_rows(quick, min_time) + _pool_rows(quick, min_time)
