#!/usr/bin/env python
"""Phase timing of the conv benchmark layers: forward, data gradient alone, weight gradient alone
(and torch's with the same output masks), so a slow backward can be traced to its half.

    python bench/conv_phases.py [--only SUBSTR] [--min-time S]

Prints medians (ms) and GFLOP/s; nothing is written. For tuning, not a results table.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

import fastnn
from fastnn import _C
from fastnn.benchmark.conv import CONV_LAYERS, TRANSPOSED
from fastnn.benchmark.harness import time_interleaved
from fastnn.testing import rng


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="substring of the layer label")
    ap.add_argument("--min-time", type=float, default=0.6)
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()
    torch = None
    if not args.no_torch:
        import torch
        torch.set_num_threads(fastnn.get_num_threads())
    for label, N, C, H, K, R, s, p, groups in CONV_LAYERS:
        if args.only not in label:
            continue
        g = rng(0)
        x = g.standard_normal((N, C, H, H), dtype=np.float32)
        w = g.standard_normal((K, C // groups, R, R), dtype=np.float32) * 0.1
        b = g.standard_normal((K,), dtype=np.float32)
        y = fastnn.conv2d(x, w, b, s, p, 1, groups)
        go = g.standard_normal(y.shape, dtype=np.float32)
        gx, gw, gb = np.empty_like(x), np.empty_like(w), np.empty_like(b)
        flops = 2.0 * N * K * (C // groups) * R * R * y.shape[2] * y.shape[3]
        st, pd = (s, s), (p, p, p, p)
        fns = {
            "fwd": lambda: fastnn.conv2d(x, w, b, s, p, 1, groups),
            "data": lambda: _C.conv2d_backward(go, x, w, b, st, pd, (1, 1), groups, "none", gx, None, None),
            "weight": lambda: _C.conv2d_backward(go, x, w, b, st, pd, (1, 1), groups, "none", None, gw, None),
            "bias": lambda: _C.conv2d_backward(go, x, w, b, st, pd, (1, 1), groups, "none", None, None, gb),
        }
        if torch is not None:
            tx, tw, tb, tg = (torch.from_numpy(a) for a in (x, w, b, go))
            cb = torch.ops.aten.convolution_backward
            fns["t.fwd"] = lambda: torch.nn.functional.conv2d(tx, tw, tb, s, p, 1, groups)
            fns["t.data"] = lambda: cb(tg, tx, tw, [K], [s, s], [p, p], [1, 1], False, [0, 0], groups,
                                       [True, False, False])
            fns["t.weight"] = lambda: cb(tg, tx, tw, [K], [s, s], [p, p], [1, 1], False, [0, 0], groups,
                                         [False, True, True])
        report(label, fns, flops, args.min_time)
    for label, N, Cin, H, Cout, R, s, p in TRANSPOSED:
        if args.only not in label:
            continue
        g = rng(1)
        x = g.standard_normal((N, Cin, H, H), dtype=np.float32)
        w = g.standard_normal((Cin, Cout, R, R), dtype=np.float32) * 0.05
        b = g.standard_normal((Cout,), dtype=np.float32)
        y = fastnn.conv_transpose2d(x, w, b, s, p)
        go = g.standard_normal(y.shape, dtype=np.float32)
        gx, gw = np.empty_like(x), np.empty_like(w)
        flops = 2.0 * N * Cin * Cout * R * R * H * H
        st, pd = (s, s), (p, p)
        fns = {
            "fwd": lambda: fastnn.conv_transpose2d(x, w, b, s, p),
            "data": lambda: _C.conv_transpose2d_backward(go, x, w, st, pd, (0, 0), (1, 1), 1, gx, None, None),
            "weight": lambda: _C.conv_transpose2d_backward(go, x, w, st, pd, (0, 0), (1, 1), 1, None, gw, None),
        }
        if torch is not None:
            tx, tw, tb, tg = (torch.from_numpy(a) for a in (x, w, b, go))
            cb = torch.ops.aten.convolution_backward
            fns["t.fwd"] = lambda: torch.nn.functional.conv_transpose2d(tx, tw, tb, s, p)
            fns["t.data"] = lambda: cb(tg, tx, tw, [Cout], [s, s], [p, p], [1, 1], True, [0, 0], 1,
                                       [True, False, False])
            fns["t.weight"] = lambda: cb(tg, tx, tw, [Cout], [s, s], [p, p], [1, 1], True, [0, 0], 1,
                                         [False, True, True])
        report(label, fns, flops, args.min_time)
    return 0


def report(label: str, fns: dict, flops: float, min_time: float) -> None:
    t = time_interleaved(fns, rounds=2, min_time=min_time, min_runs=4)
    parts = []
    for name, tm in t.items():
        gf = "" if name.endswith("bias") else f" {flops / tm.median * 1e-9:.0f}GF"
        parts.append(f"{name} {tm.median * 1e3:.2f}ms{gf}")
    print(f"{label:26s} " + " | ".join(parts), flush=True)


if __name__ == "__main__":
    sys.exit(main())
