#!/usr/bin/env python3
"""Smoke run of the CUDA glue, attention, convolution and pooling kernels on a device: one small,
odd-sized call per kernel family and dtype against the float64 oracle, one line each (kernel that
ran, relative error, PASS/FAIL), under a watchdog so a hung kernel ends this process and not the
whole device check. The tensor-core kernels (flash attention mma_sync, implicit-GEMM conv) are run
forced, so a silent fallback cannot hide a broken fast path."""
from __future__ import annotations

import faulthandler
import sys

import numpy as np


def main() -> int:
    faulthandler.dump_traceback_later(55, exit=True)
    import cupy as cp

    import fastnn
    from fastnn.ops import cuda_attention, cuda_conv, cuda_gemm, cuda_glue
    from fastnn.reference import attention as rattn
    from fastnn.reference import conv as rconv
    from fastnn.reference import norm as rnorm
    from fastnn.reference import softmax as rsm

    if not fastnn.cuda_available():
        print(f"CUDA unavailable: {fastnn.cuda_unavailable_reason()}")
        return 1
    mma = "mma_sync" in fastnn._C_cuda.kernels_for_device(cp.cuda.runtime.getDevice())
    rng = np.random.default_rng(0)
    failures = 0

    def cast(x, path):
        x = np.asarray(x, np.float32)
        if path == "bfloat16":
            b = cuda_gemm.to_bf16_bits(x)
            return cp.asarray(b), cuda_gemm.from_bf16_bits(b).astype(np.float64)
        if path == "float16":
            h = x.astype(np.float16)
            return cp.asarray(h), h.astype(np.float64)
        return cp.asarray(x), x.astype(np.float64)

    def host(x, path):
        h = x.get()
        return cuda_gemm.from_bf16_bits(h).astype(np.float64) if path == "bfloat16" else h.astype(np.float64)

    def report(name, fn, limit):
        nonlocal failures
        try:
            got, want, kernel = fn()
            cp.cuda.get_current_stream().synchronize()
            err = float(np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-300))
            ok = bool(err < limit and np.isfinite(got).all())
            line = f"{name:34s} {kernel:22s} rel err {err:.2e} (limit {limit:.0e})"
        except Exception as exc:
            ok, line = False, f"{name:34s} {type(exc).__name__}: {exc}"
        failures += not ok
        print(f"smoke {'PASS' if ok else 'FAIL'}  {line}", flush=True)

    limits = {"float32": 1e-5, "float16": 3e-3, "bfloat16": 2e-2}
    for path in ("float32", "float16", "bfloat16"):
        kw = {"dtype": "bfloat16"} if path == "bfloat16" else {}
        x, x64 = cast(rng.standard_normal((37, 1001)), path)

        def sm():
            return host(cuda_glue.softmax("softmax", x, -1, **kw), path), rsm.softmax(x64, -1), "softmax"
        report(f"softmax {path}", sm, limits[path])

        def ln():
            y = cuda_glue.row_norm("layer_norm", False, x, 1001, None, None, 1e-5, return_stats=False, out=None, **kw)
            return host(y, path), rnorm.layer_norm(x64, 1001), "layer_norm"
        report(f"layer_norm {path}", ln, limits[path])

        for kernel in (["simt"] + (["mma_sync"] if mma and path != "float32" else [])):
            q, q64 = cast(rng.standard_normal((2, 4, 97, 128)), path)
            k, k64 = cast(rng.standard_normal((2, 2, 131, 128)), path)
            v, v64 = cast(rng.standard_normal((2, 2, 131, 128)), path)

            def att(q=q, k=k, v=v, q64=q64, k64=k64, v64=v64, kernel=kernel):
                out = cuda_attention.attention(q, k, v, causal=True, kernel=kernel, **kw)
                return host(out, path), rattn.attention(q64, k64, v64, causal=True), cuda_attention.last_kernel()
            report(f"attention fwd {kernel} {path}", att, limits[path] * 4)

            def attb(q=q, k=k, v=v, q64=q64, k64=k64, v64=v64, kernel=kernel):
                g, g64 = cast(rng.standard_normal((2, 4, 97, 128)), path)
                out, lse = cuda_attention.attention(q, k, v, causal=True, return_lse=True, kernel=kernel, **kw)
                dq, dk, dv = cuda_attention.attention_backward(g, q, k, v, out, lse, causal=True, kernel=kernel, **kw)
                want = rattn.attention_backward(g64, q64, k64, v64, causal=True)
                got = np.concatenate([host(t, path).ravel() for t in (dq, dk, dv)])
                return got, np.concatenate([t.ravel() for t in want]), cuda_attention.last_kernel()
            report(f"attention bwd {kernel} {path}", attb, limits[path] * 4)

        for kernel in (["simt"] + (["mma_sync"] if mma and path != "float32" else [])):
            xc, xc64 = cast(rng.standard_normal((2, 16, 13, 11)), path)
            w, w64 = cast(rng.standard_normal((24, 16, 3, 3)) * 0.2, path)

            def conv(xc=xc, w=w, xc64=xc64, w64=w64, kernel=kernel):
                want = rconv.conv2d(xc64, w64, padding=1)
                y = cuda_conv.conv2d(xc, w, None, (1, 1), (1, 1, 1, 1), (1, 1), 1, "none", want.shape, None,
                                     kernel=kernel, **kw)
                return host(y, path), want, cuda_conv.last_kernel()
            report(f"conv2d fwd {kernel} {path}", conv, limits[path])

            def convb(xc=xc, w=w, xc64=xc64, w64=w64, kernel=kernel):
                g, g64 = cast(rng.standard_normal((2, 24, 13, 11)), path)
                gx, gw, _ = cuda_conv.conv2d_backward(g, xc, w, None, (1, 1), (1, 1, 1, 1), (1, 1), 1, "none",
                                                      kernel=kernel, **kw)
                wx, ww, _ = rconv.conv2d_backward(g64, xc64, w64, padding=1)
                return (np.concatenate([host(gx, path).ravel(), host(gw, path).ravel()]),
                        np.concatenate([wx.ravel(), ww.ravel()]), cuda_conv.last_kernel())
            report(f"conv2d bwd {kernel} {path}", convb, limits[path] * 2)

    xd = rng.standard_normal(1000).astype(np.float32)

    def drop():
        got = fastnn.dropout(cp.asarray(xd), 0.3, seed=5).get().astype(np.float64)
        return got, fastnn.dropout(xd, 0.3, seed=5).astype(np.float64), "dropout (CPU bits)"
    report("dropout float32 vs CPU", drop, 1e-30)
    faulthandler.cancel_dump_traceback_later()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
