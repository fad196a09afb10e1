#!/usr/bin/env python3
"""CUDA GEMM benchmark: fastnn's kernels against cuBLAS (through cupy.matmul and torch.matmul)
for fp32 (SIMT vs SGEMM), tf32, bf16 and fp16 at 4096³ / 8192³ and a few odd shapes.

Every case is validated before it is timed (fastnn's output against the anchor's, relative
Frobenius error), timed with CUDA events (warm-up, then the median of several batches of
calls), and reported as TFLOP/s (2·M·N·K / time) and as a ratio to each anchor measured in the
same run. The issue's bars are checked at the end: bf16 ≥ 70% of cuBLAS, fp32 SIMT ≥ 80% of
cuBLAS SGEMM, tf32 ≥ 70% of cuBLAS tf32 (best of the layouts fastnn runs on wgmma).

    python bench/gemm_cuda.py                 # full run (device machine), table printed last
    python bench/gemm_cuda.py --quick         # 4096³ only, fewer repeats
    python bench/gemm_cuda.py --dry-run       # no GPU: print the plan and exit
    python bench/gemm_cuda.py --json out.json
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import statistics
import sys
from dataclasses import asdict, dataclass, field

# (path, layout): layout NN = a (M,K) and b (K,N) row-major (plain matmul);
# TN = b given as bᵀ (N,K) row-major, i.e. K-contiguous (what linear's x·Wᵀ is).
PATHS = [("fp32", "NN"), ("tf32", "NN"), ("tf32", "TN"), ("bf16", "NN"), ("bf16", "TN"), ("fp16", "NN")]
SQUARE = [4096, 8192]
ODD = [(4097, 4097, 4097), (1000, 1000, 1000), (127, 4096, 4096), (8192, 1000, 17)]
BARS = {"bf16": ("torch", 0.70), "fp32": ("cupy", 0.80), "tf32": ("torch", 0.70)}


@dataclass
class Result:
    path: str
    layout: str
    shape: tuple
    impl: str
    ms: float = float("nan")
    tflops: float = float("nan")
    kernel: str = ""
    rel_err: float = float("nan")
    note: str = ""
    ratios: dict = field(default_factory=dict)


def plan(args) -> list[tuple[str, str, tuple]]:
    sizes = [4096] if args.quick else args.sizes
    cases = [(p, l, (n, n, n)) for n in sizes for p, l in PATHS if p in args.paths]
    if not args.quick and not args.no_odd:
        cases += [(p, "NN", s) for s in ODD for p in ("fp32", "tf32", "bf16") if p in args.paths]
    return cases


# ---- device side ----------------------------------------------------------------------------

def make_operands(cp, torch, path, layout, m, n, k, seed):
    """float32 random normal operands on the GPU, cast to the path's dtype (torch tensors for
    bf16, which CuPy lacks), plus the same values as CuPy float32 for the error check."""
    rs = cp.random.RandomState(seed)
    a32 = rs.standard_normal((m, k), dtype=cp.float32)
    bt32 = rs.standard_normal((n, k), dtype=cp.float32)  # bᵀ, row-major
    b32 = bt32.T if layout == "TN" else cp.ascontiguousarray(bt32.T)
    if path == "bf16":
        ta, tb = torch.from_dlpack(a32).bfloat16(), torch.from_dlpack(b32).bfloat16()
        if layout == "TN":
            tb = torch.from_dlpack(cp.ascontiguousarray(bt32)).bfloat16().T
        return ta, tb, cp.from_dlpack(ta.float().contiguous()), cp.from_dlpack(tb.float().contiguous())
    if path == "fp16":
        a, b = a32.astype(cp.float16), b32.astype(cp.float16)
        if layout == "TN":
            b = bt32.astype(cp.float16).T
        return a, b, a.astype(cp.float32), b.astype(cp.float32)
    return a32, b32, a32, b32


def time_call(cp, fn, reps, batches):
    """Median milliseconds per call: `batches` event-timed batches of `reps` calls after warm-up."""
    for _ in range(2):
        fn()
    cp.cuda.get_current_stream().synchronize()
    start, stop = cp.cuda.Event(), cp.cuda.Event()
    times = []
    for _ in range(batches):
        start.record()
        for _ in range(reps):
            fn()
        stop.record()
        stop.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, stop) / reps)
    return statistics.median(times)


def rel_err(cp, got, want):
    g = got.astype(cp.float64) if hasattr(got, "astype") else got
    w = want.astype(cp.float64)
    return float(cp.linalg.norm(g - w) / cp.linalg.norm(w))


def run_case(cp, torch, fastnn, cuda_gemm, path, layout, shape, quick):
    m, n, k = shape
    flops = 2.0 * m * n * k
    reps = 3 if max(shape) >= 8192 else 10
    batches = 3 if quick else 7
    a, b, a32, b32 = make_operands(cp, torch, path, layout, m, n, k, seed=m + n + k)
    tf32 = path == "tf32"
    rows = []

    def as_cupy(x):
        return cp.from_dlpack(x.float()) if torch is not None and isinstance(x, torch.Tensor) else x

    # Reference values: cuBLAS in float64 would be slow at 8192³; the fp32 cuBLAS product of the
    # (exactly representable) cast operands is accurate to ~1e-6 relative, far below every path's error.
    ref = cp.matmul(a32, b32)

    impls = {"fastnn": lambda: fastnn.matmul(a, b, allow_tf32=tf32)}
    if path in ("fp32", "fp16"):
        impls["cupy"] = lambda: cp.matmul(a, b)
    if torch is not None:
        ta = a if isinstance(a, torch.Tensor) else torch.from_dlpack(a)
        tb = b if isinstance(b, torch.Tensor) else torch.from_dlpack(b)

        def torch_mm():
            torch.backends.cuda.matmul.allow_tf32 = tf32
            return torch.matmul(ta, tb)

        impls["torch"] = torch_mm
    for impl, fn in impls.items():
        r = Result(path, layout, shape, impl)
        try:
            out = fn()
            if impl == "fastnn":
                r.kernel = cuda_gemm.last_kernel()
            r.rel_err = rel_err(cp, as_cupy(out), ref)
            r.ms = time_call(cp, fn, reps, batches)
            r.tflops = flops / (r.ms * 1e-3) / 1e12
        except Exception as exc:  # report and go on: one failing case must not hide the rest
            r.note = f"{type(exc).__name__}: {exc}"[:120]
        rows.append(r)
    if torch is not None:
        torch.backends.cuda.matmul.allow_tf32 = False
    mine = rows[0]
    for r in rows[1:]:
        if r.ms == r.ms and mine.ms == mine.ms:
            mine.ratios[r.impl] = r.ms / mine.ms
    return rows


def table(results: list[Result]) -> str:
    head = ["path", "layout", "M×N×K", "impl", "kernel", "ms", "TFLOP/s", "rel err", "vs cupy", "vs torch", "note"]
    lines = []
    for r in results:
        lines.append([r.path, r.layout, "×".join(map(str, r.shape)), r.impl, r.kernel,
                      f"{r.ms:.3f}" if r.ms == r.ms else "-", f"{r.tflops:.1f}" if r.tflops == r.tflops else "-",
                      f"{r.rel_err:.1e}" if r.rel_err == r.rel_err else "-",
                      f"{r.ratios['cupy']:.2f}" if "cupy" in r.ratios else "",
                      f"{r.ratios['torch']:.2f}" if "torch" in r.ratios else "", r.note])
    w = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(head)]
    out = ["  ".join(h.ljust(x) for h, x in zip(head, w)), "  ".join("-" * x for x in w)]
    out += ["  ".join(c.ljust(x) for c, x in zip(l, w)) for l in lines]
    return "\n".join(out)


def bars(results: list[Result]) -> list[str]:
    """The issue's bars at 4096³ and 8192³: best fastnn layout per path against its anchor."""
    lines = []
    for path, (anchor, need) in BARS.items():
        for n in SQUARE:
            best = None
            for r in results:
                if r.impl == "fastnn" and r.path == path and r.shape == (n, n, n) and anchor in r.ratios:
                    if best is None or r.ratios[anchor] > best.ratios[anchor]:
                        best = r
            if best is None:
                continue
            got = best.ratios[anchor]
            ok = got >= need and best.rel_err < {"fp32": 1e-5, "tf32": 5e-3, "bf16": 1e-2}[path]
            lines.append(f"BAR {path} {n}³ ({best.layout}, {best.kernel}): {100 * got:.0f}% of {anchor} "
                         f"(need {100 * need:.0f}%), rel err {best.rel_err:.1e}: {'PASS' if ok else 'FAIL'}")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=SQUARE,
                    help="square sizes, comma separated (default 4096,8192)")
    ap.add_argument("--paths", type=lambda s: s.split(","), default=[p for p, _ in PATHS],
                    help="dtype paths, comma separated: fp32,tf32,bf16,fp16")
    ap.add_argument("--quick", action="store_true", help="4096³ only, fewer timing batches")
    ap.add_argument("--no-odd", action="store_true", help="skip the odd shapes")
    ap.add_argument("--json", help="write the results here (default: $OUT/gemm_cuda.json when OUT is set)")
    ap.add_argument("--dry-run", action="store_true", help="print the plan without touching a GPU")
    args = ap.parse_args(argv)
    bad = [p for p in args.paths if p not in {p for p, _ in PATHS}]
    if bad:
        ap.error(f"unknown paths {bad}")
    cases = plan(args)
    if args.dry_run:
        for path, layout, shape in cases:
            print(f"plan: {path:5s} {layout}  {'x'.join(map(str, shape))}  2MNK = {2 * math.prod(shape):.3e} FLOP")
        print(f"{len(cases)} cases; anchors: cupy.matmul (fp32, fp16), torch.matmul (all); bars: {BARS}")
        return 0

    os.environ["CUPY_TF32"] = "0"  # cupy.matmul on float32 is the exact SGEMM anchor
    import cupy as cp

    import fastnn
    from fastnn.ops import cuda_gemm

    if not fastnn.cuda_available():
        print(f"CUDA unavailable: {fastnn.cuda_unavailable_reason()}")
        return 1
    try:
        import torch

        torch = torch if torch.cuda.is_available() else None
    except ImportError:
        torch = None
    dev = cp.cuda.runtime.getDeviceProperties(cp.cuda.runtime.getDevice())
    name = dev["name"].decode() if isinstance(dev["name"], bytes) else dev["name"]
    results: list[Result] = []
    for path, layout, shape in cases:
        if path == "bf16" and torch is None:
            results.append(Result(path, layout, shape, "fastnn", note="bf16 inputs need torch with CUDA"))
            continue
        results += run_case(cp, torch, fastnn, cuda_gemm, path, layout, shape, args.quick)
        cp.get_default_memory_pool().free_all_blocks()
    info = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "gpu": name,
            "kernels": list(fastnn._C_cuda.kernels_for_device(cp.cuda.runtime.getDevice())),
            "cupy": cp.__version__, "torch": None if torch is None else torch.__version__}
    path = args.json or (os.path.join(os.environ["OUT"], "gemm_cuda.json") if os.environ.get("OUT") else None)
    if path:
        with open(path, "w") as f:
            json.dump({"machine": info, "rows": [asdict(r) for r in results]}, f, indent=1)
    print(f"GPU: {name}; fastnn kernels: {', '.join(info['kernels'])}; cupy {info['cupy']}, torch {info['torch']}")
    print(table(results))
    for line in bars(results):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
