#!/usr/bin/env python3
"""First thing the device run does after building: every CUDA GEMM kernel family × dtype once
on a small odd problem (with a watchdog, so a kernel that hangs ends this process rather than
the whole check), one line each: kernel that ran, relative error, PASS/FAIL."""
from __future__ import annotations

import faulthandler
import sys

import numpy as np


def main() -> int:
    faulthandler.dump_traceback_later(60, exit=True)  # a hung kernel must not eat the lease
    import cupy as cp

    import fastnn
    from fastnn.ops import cuda_gemm

    if not fastnn.cuda_available():
        print(f"CUDA unavailable: {fastnn.cuda_unavailable_reason()}")
        return 1
    kernels = fastnn._C_cuda.kernels_for_device(cp.cuda.runtime.getDevice())
    print(f"kernels for this device: {kernels}")
    rng = np.random.default_rng(0)
    m, n, k = 300, 520, 264  # odd tile counts, aligned leading dims
    a32, b32 = rng.standard_normal((m, k)).astype(np.float32), rng.standard_normal((k, n)).astype(np.float32)
    failures = 0
    families = {"float32": ("simt_general", "simt"), "tf32": ("mma_sync", "wgmma"),  # wgmma tf32 here: +repack
                "float16": ("simt_general", "mma_sync", "wgmma"), "bfloat16": ("simt_general", "mma_sync", "wgmma")}
    for path, limit in (("float32", 1e-5), ("tf32", 5e-3), ("float16", 2e-3), ("bfloat16", 1e-2)):
        for kernel in (k for k in families[path] if k in kernels):
            if path == "bfloat16":
                a, b = cuda_gemm.to_bf16_bits(a32), cuda_gemm.to_bf16_bits(b32)
                a64, b64 = (cuda_gemm.from_bf16_bits(x).astype(np.float64) for x in (a, b))
            elif path == "float16":
                a, b = a32.astype(np.float16), b32.astype(np.float16)
                a64, b64 = a.astype(np.float64), b.astype(np.float64)
            else:
                a, b, a64, b64 = a32, b32, a32.astype(np.float64), b32.astype(np.float64)
            B = cp.asarray(b)  # N-contiguous: tf32 wgmma repacks it K-major (forced here despite 300 rows)
            try:
                out = fastnn.matmul(cp.asarray(a), B, allow_tf32=path == "tf32",
                                    dtype="bfloat16" if path == "bfloat16" else None, kernel=kernel)
                cp.cuda.get_current_stream().synchronize()
                got = out.get()
                got = cuda_gemm.from_bf16_bits(got) if path == "bfloat16" else got
                want = a64 @ b64
                err = float(np.linalg.norm(got.astype(np.float64) - want) / np.linalg.norm(want))
                ok = err < limit and np.isfinite(got).all()
                line = f"{cuda_gemm.last_kernel():22s} rel err {err:.2e} (limit {limit:.0e})"
            except Exception as exc:
                ok, line = False, f"{kernel}:{path}  {type(exc).__name__}: {exc}"
            failures += not ok
            print(f"smoke {'PASS' if ok else 'FAIL'}  {line}", flush=True)
    if "wgmma" in kernels:
        failures += wgmma_layouts(cp, fastnn, cuda_gemm, a32, b32)
    faulthandler.cancel_dump_traceback_later()
    return 1 if failures else 0


def wgmma_layouts(cp, fastnn, cuda_gemm, a32, b32) -> int:
    """bf16 wgmma with every operand orientation; if the M/N-major ones fail, retry them with
    the descriptor's two offsets swapped (FASTNN_WGMMA_MN_DESC) and say which setting works."""
    import os

    a, b = cuda_gemm.to_bf16_bits(a32), cuda_gemm.to_bf16_bits(b32)
    want = cuda_gemm.from_bf16_bits(a).astype(np.float64) @ cuda_gemm.from_bf16_bits(b).astype(np.float64)
    failures = 0
    for desc in (None, "1024,8192"):
        if desc:
            os.environ["FASTNN_WGMMA_MN_DESC"] = desc
        bad = 0
        for ta in (False, True):
            for tb in (False, True):
                A = cp.ascontiguousarray(cp.asarray(a).T).T if ta else cp.asarray(a)  # M-major A
                B = cp.asarray(b) if not tb else cp.ascontiguousarray(cp.asarray(b).T).T  # K-major B
                got = cuda_gemm.from_bf16_bits(fastnn.matmul(A, B, dtype="bfloat16", kernel="wgmma").get())
                err = float(np.linalg.norm(got - want) / np.linalg.norm(want))
                ok = err < 1e-2
                bad += not ok
                print(f"wgmma layout A {'M' if ta else 'K'}-major, B {'K' if tb else 'N'}-major, "
                      f"MN desc {desc or 'default (8192,1024)'}: rel err {err:.2e} {'PASS' if ok else 'FAIL'}", flush=True)
        if desc is None:
            failures = bad
            if not bad:
                break
        else:
            print(f"with FASTNN_WGMMA_MN_DESC={desc}: {4 - bad}/4 layouts pass"
                  + ("  -> make these the defaults in mn_major_desc_offsets" if not bad else ""))
    os.environ.pop("FASTNN_WGMMA_MN_DESC", None)
    return failures


if __name__ == "__main__":
    sys.exit(main())
