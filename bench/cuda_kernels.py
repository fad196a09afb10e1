#!/usr/bin/env python3
"""CUDA benchmark of the glue, attention and convolution kernels against their anchors:

* attention: flash attention bf16, B=4, H=16, L ∈ {1024, 4096, 8192}, D=128, causal and not, forward
  and backward, against PyTorch SDPA's best backend (each backend torch offers timed, the fastest
  kept). FLOPs: forward 4·B·H·L²·D, backward 2.5× that (FlashAttention's convention), halved
  when causal. Bars: forward ≥ 70% of SDPA, backward ≥ 60%.
* memory-bound kernels (activations, softmax, layer/rms norm, cross entropy, dropout, AdamW,
  embedding): GB/s from the minimum bytes each must move, against the device copy bandwidth
  measured in the same run (cudaMemcpy device→device; bar ≥ 70%), and against torch where torch
  has the op.
* conv2d: ResNet-50 layers, batch 64, bf16, channels-last, forward, against cuDNN through
  torch.nn.functional.conv2d (bar ≥ 50%).

Every case is checked against its anchor (relative error) before it is timed; timings are CUDA-event
medians after warm-up. One failing case or part is reported and the rest go on. The summary table is
printed last.

    python bench/cuda_kernels.py                    # all parts (device machine)
    python bench/cuda_kernels.py --parts attention   # attention, memory, conv (comma separated)
    python bench/cuda_kernels.py --quick             # fewer sizes and repeats
    python bench/cuda_kernels.py --dry-run           # no GPU: print the plan
    python bench/cuda_kernels.py --json out.json
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import statistics
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field

PARTS = ("memory", "attention", "conv")
ATTN_L = (1024, 4096, 8192)
ATTN = dict(B=4, H=16, D=128)
# ResNet-50 convolutions (C_in, H=W, C_out, R, stride), batch 64
RESNET = [(64, 56, 64, 1, 1), (64, 56, 64, 3, 1), (64, 56, 256, 1, 1), (256, 56, 128, 1, 2), (128, 28, 128, 3, 1),
          (128, 28, 512, 1, 1), (256, 14, 256, 3, 1), (1024, 14, 256, 1, 1), (512, 7, 512, 3, 1),
          (512, 7, 2048, 1, 1)]
MEM_N = 1 << 26  # elements of the memory-bound cases (256 MB in float32)
BARS = {"attention fwd": 0.70, "attention bwd": 0.60, "conv fwd": 0.50, "memory": 0.70}


@dataclass
class Row:
    part: str
    case: str
    impl: str
    ms: float = float("nan")
    rate: float = float("nan")   # TFLOP/s (compute) or GB/s (memory)
    unit: str = ""
    rel_err: float = float("nan")
    kernel: str = ""
    note: str = ""
    ratio: dict = field(default_factory=dict)


def plan(args) -> list[str]:
    out = []
    if "memory" in args.parts:
        out += [f"memory: {name}" for name in MEMORY_CASES]
    if "attention" in args.parts:
        for L in ATTN_L[:2] if args.quick else ATTN_L:
            for causal in (False, True):
                out.append(f"attention bf16 B{ATTN['B']} H{ATTN['H']} L{L} D{ATTN['D']}{' causal' if causal else ''}: "
                           f"fwd {flops_attn(L, causal, False):.2e} FLOP, bwd {flops_attn(L, causal, True):.2e} FLOP")
    if "conv" in args.parts:
        for c in RESNET[:4] if args.quick else RESNET:
            out.append(f"conv bf16 NHWC batch 64: C{c[0]} {c[1]}x{c[1]} -> K{c[2]} {c[3]}x{c[3]} s{c[4]}: "
                       f"{flops_conv(*c):.2e} FLOP")
    return out


def flops_attn(L, causal, backward):
    f = 4.0 * ATTN["B"] * ATTN["H"] * L * L * ATTN["D"] * (2.5 if backward else 1.0)
    return f / 2 if causal else f


def flops_conv(C, HW, K, R, stride):
    Ho = (HW + 2 * (R // 2) - R) // stride + 1
    return 2.0 * 64 * K * Ho * Ho * C * R * R


# ---- timing -------------------------------------------------------------------------------------------

def time_ms(cp, fn, reps=10, batches=3, budget_s=1.0):
    """Median ms per call over event-timed batches after two warm-up calls (fewer reps for slow calls)."""
    fn()
    cp.cuda.get_current_stream().synchronize()
    t0 = time.perf_counter()
    fn()
    cp.cuda.get_current_stream().synchronize()
    one = time.perf_counter() - t0
    reps = max(1, min(reps, int(budget_s / max(batches, 1) / max(one, 1e-6))))
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
    g, w = cp.asarray(got, dtype=cp.float64), cp.asarray(want, dtype=cp.float64)
    n = float(cp.linalg.norm(w))
    return float(cp.linalg.norm(g - w)) / (n if n else 1.0)


def as_cupy(cp, x):
    """float32 CuPy view of a torch tensor / CuPy array (for error checks)."""
    if type(x).__module__.split(".")[0] == "torch":
        return cp.from_dlpack(x.float().contiguous())
    return x.astype(cp.float32)


# ---- memory-bound kernels ----------------------------------------------------------------------------

def _mem_cases(cp, fastnn, torch):
    """name -> (fastnn call, torch call or None, bytes moved, check pair (fastnn out, torch out) maker)."""
    n = MEM_N
    rs = cp.random.RandomState(0)
    x = rs.standard_normal(n, dtype=cp.float32)
    g = rs.standard_normal(n, dtype=cp.float32)
    rows, cols = n // 4096, 4096
    x2, g2 = x.reshape(rows, cols), g.reshape(rows, cols)
    w = cp.ones(cols, cp.float32)
    b = cp.zeros(cols, cp.float32)
    vocab = 32768
    logits = x[: 2048 * vocab].reshape(2048, vocab) if n >= 2048 * vocab else x2
    target = cp.asarray(rs.randint(0, logits.shape[1], size=logits.shape[0]), dtype=cp.int64)
    p, m, v = x.copy(), cp.zeros(n, cp.float32), cp.zeros(n, cp.float32)
    emb_w = rs.standard_normal((65536, 1024), dtype=cp.float32)
    idx = cp.asarray(rs.randint(0, 65536, size=n // 1024), dtype=cp.int64)
    T = torch
    tx = None if T is None else T.from_dlpack(x)
    tg = None if T is None else T.from_dlpack(g)
    F = None if T is None else T.nn.functional
    cases = {
        "relu fp32": (lambda: fastnn.relu(x), (lambda: F.relu(tx)) if T else None, 8 * n),
        "gelu_backward fp32": (lambda: fastnn.gelu_backward(g, x), None, 12 * n),
        "softmax rows 4096 fp32": (lambda: fastnn.softmax(x2, -1),
                                   (lambda: T.softmax(tx.view(rows, cols), -1)) if T else None, 8 * n),
        "layer_norm 4096 fp32": (lambda: fastnn.layer_norm(x2, cols, w, b),
                                 (lambda: F.layer_norm(tx.view(rows, cols), (cols,), T.from_dlpack(w),
                                                       T.from_dlpack(b))) if T else None, 8 * n),
        "rms_norm 4096 fp32": (lambda: fastnn.rms_norm(x2, cols, w, eps=1e-6),
                               (lambda: F.rms_norm(tx.view(rows, cols), (cols,), T.from_dlpack(w), 1e-6))
                               if T and hasattr(F, "rms_norm") else None, 8 * n),
        "layer_norm_backward 4096 fp32": (lambda: fastnn.layer_norm_backward(g2, x2, cols, w, b), None, 12 * n),
        "cross_entropy 2048x32768 fp32": (lambda: fastnn.cross_entropy(logits, target),
                                          (lambda: F.cross_entropy(T.from_dlpack(logits), T.from_dlpack(target)))
                                          if T else None, 4 * logits.size),
        "dropout p=0.1 fp32": (lambda: fastnn.dropout(x, 0.1, seed=1), (lambda: F.dropout(tx, 0.1)) if T else None,
                               8 * n),
        "adamw_step_ fp32": (lambda: fastnn.adamw_step_(p, g, m, v, step=3), None, 28 * n),
        "embedding 65536x1024 fp32": (lambda: fastnn.embedding(idx, emb_w),
                                      (lambda: F.embedding(T.from_dlpack(idx), T.from_dlpack(emb_w))) if T else None,
                                      8 * n),
    }
    return cases


MEMORY_CASES = ("relu fp32", "gelu_backward fp32", "softmax rows 4096 fp32", "layer_norm 4096 fp32",
                "rms_norm 4096 fp32", "layer_norm_backward 4096 fp32", "cross_entropy 2048x32768 fp32",
                "dropout p=0.1 fp32", "adamw_step_ fp32", "embedding 65536x1024 fp32")


def copy_bandwidth(cp):
    """Device→device cudaMemcpy of 1 GiB: GB/s counting read + write."""
    nbytes = 1 << 30
    a = cp.empty(nbytes, cp.uint8)
    b = cp.empty(nbytes, cp.uint8)
    a.fill(1)

    def copy():
        cp.cuda.runtime.memcpyAsync(b.data.ptr, a.data.ptr, nbytes, cp.cuda.runtime.memcpyDeviceToDevice,
                                    cp.cuda.get_current_stream().ptr)

    ms = time_ms(cp, copy, reps=10, batches=5)
    del a, b
    return 2 * nbytes / (ms * 1e-3) / 1e9


def part_memory(cp, fastnn, torch, quick, rows):
    bw = copy_bandwidth(cp)
    rows.append(Row("memory", "device copy 1 GiB", "cudaMemcpy", rate=bw, unit="GB/s"))
    cases = _mem_cases(cp, fastnn, torch)
    for name, (mine, anchor, nbytes) in cases.items():
        r = Row("memory", name, "fastnn", unit="GB/s")
        try:
            out = mine()
            if anchor is not None:
                want = anchor()
                got = out[0] if isinstance(out, tuple) else out
                if "dropout" not in name:
                    r.rel_err = rel_err(cp, as_cupy(cp, got), as_cupy(cp, want))
            r.ms = time_ms(cp, mine)
            r.rate = nbytes / (r.ms * 1e-3) / 1e9
            r.ratio["copy"] = r.rate / bw
            if anchor is not None:
                t_ms = time_ms(cp, anchor)
                r.ratio["torch"] = t_ms / r.ms
        except Exception as exc:
            r.note = f"{type(exc).__name__}: {exc}"[:120]
        rows.append(r)
    cp.get_default_memory_pool().free_all_blocks()


# ---- attention --------------------------------------------------------------------------------------------

def sdpa_backends(torch):
    """(name, context manager factory) for each SDPA backend this torch offers."""
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except ImportError:
        return [("default", None)]
    out = []
    for name in ("FLASH_ATTENTION", "EFFICIENT_ATTENTION", "CUDNN_ATTENTION"):
        be = getattr(SDPBackend, name, None)
        if be is not None:
            out.append((name.lower(), lambda be=be: sdpa_kernel([be])))
    return out


def part_attention(cp, fastnn, torch, quick, rows):
    from fastnn.ops import cuda_attention, cuda_gemm

    B, H, D = ATTN["B"], ATTN["H"], ATTN["D"]
    for L in (ATTN_L[:2] if quick else ATTN_L):
        rs = cp.random.RandomState(L)
        mk = [rs.standard_normal((B, H, L, D), dtype=cp.float32) for _ in range(4)]
        if torch is not None:
            q, k, v, go = (torch.from_dlpack(a).bfloat16() for a in mk)
            for t in (q, k, v):
                t.requires_grad_(True)
            kw = {}
        else:
            q, k, v, go = (cuda_gemm.to_bf16_bits(a) for a in mk)
            kw = {"dtype": "bfloat16"}
        for causal in (False, True):
            tag = f"B{B} H{H} L{L} D{D}{' causal' if causal else ''}"
            fwd = Row("attention fwd", tag, "fastnn", unit="TFLOP/s")
            bwd = Row("attention bwd", tag, "fastnn", unit="TFLOP/s")
            try:
                qd, kd, vd = (x.detach() if torch is not None else x for x in (q, k, v))
                out, lse = fastnn.attention(qd, kd, vd, causal=causal, return_lse=True, **kw)
                fwd.kernel = cuda_attention.last_kernel()
                fwd.ms = time_ms(cp, lambda: fastnn.attention(qd, kd, vd, causal=causal, return_lse=True, **kw))
                fwd.rate = flops_attn(L, causal, False) / (fwd.ms * 1e-3) / 1e12
                fastnn.attention_backward(go, qd, kd, vd, out, lse, causal=causal, **kw)
                bwd.kernel = cuda_attention.last_kernel()
                bwd.ms = time_ms(cp, lambda: fastnn.attention_backward(go, qd, kd, vd, out, lse, causal=causal, **kw))
                bwd.rate = flops_attn(L, causal, True) / (bwd.ms * 1e-3) / 1e12
                if torch is not None:
                    best_f, best_b = None, None
                    for name, ctx in sdpa_backends(torch):
                        try:
                            def tf():
                                with ctx() if ctx else _null():
                                    return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
                            ref = tf()
                            if best_f is None:
                                fwd.rel_err = rel_err(cp, as_cupy(cp, out), as_cupy(cp, ref))
                            f_ms = time_ms(cp, lambda: tf().detach())
                            if best_f is None or f_ms < best_f[1]:
                                best_f = (name, f_ms)
                            o = tf()

                            def tb():
                                return torch.autograd.grad(o, (q, k, v), go, retain_graph=True)
                            b_ms = time_ms(cp, tb)
                            if best_b is None or b_ms < best_b[1]:
                                best_b = (name, b_ms)
                        except Exception as exc:  # a backend that cannot run this case
                            fwd.note = (fwd.note + f" {name}: {type(exc).__name__}")[:120]
                    if best_f:
                        fwd.ratio["sdpa"] = best_f[1] / fwd.ms
                        fwd.note = f"sdpa best: {best_f[0]} {best_f[1]:.3f} ms"
                    if best_b:
                        bwd.ratio["sdpa"] = best_b[1] / bwd.ms
                        bwd.note = f"sdpa best: {best_b[0]} {best_b[1]:.3f} ms"
                else:
                    fwd.note = bwd.note = "no torch with CUDA: no SDPA anchor"
            except Exception as exc:
                fwd.note = f"{type(exc).__name__}: {exc}"[:120]
            rows += [fwd, bwd]
        del q, k, v, go, mk
        cp.get_default_memory_pool().free_all_blocks()


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


# ---- convolution ---------------------------------------------------------------------------------------------

def part_conv(cp, fastnn, torch, quick, rows):
    from fastnn.ops import cuda_conv, cuda_gemm

    for C, HW, K, R, s in (RESNET[:4] if quick else RESNET):
        tag = f"C{C} {HW}x{HW} K{K} {R}x{R} s{s}"
        r = Row("conv fwd", tag, "fastnn", unit="TFLOP/s")
        try:
            rs = cp.random.RandomState(C + K)
            x32 = rs.standard_normal((64, HW, HW, C), dtype=cp.float32).transpose(0, 3, 1, 2)  # channels-last
            w32 = rs.standard_normal((K, C, R, R), dtype=cp.float32) * (1.0 / math.sqrt(C * R * R))
            pad = R // 2
            if torch is not None:
                x = torch.from_dlpack(x32).bfloat16().contiguous(memory_format=torch.channels_last)
                w = torch.from_dlpack(w32).bfloat16().contiguous(memory_format=torch.channels_last)
                kw = {}
            else:
                x = cuda_gemm.to_bf16_bits(cp.ascontiguousarray(x32.transpose(0, 2, 3, 1))).transpose(0, 3, 1, 2)
                w = cuda_gemm.to_bf16_bits(w32)
                kw = {"dtype": "bfloat16"}

            def mine():
                return cuda_conv.conv2d(x, w, None, (s, s), (pad, pad, pad, pad), (1, 1), 1, "none",
                                        (64, K, (HW + 2 * pad - R) // s + 1, (HW + 2 * pad - R) // s + 1), None, **kw)
            y = mine()
            r.kernel = cuda_conv.last_kernel()
            r.ms = time_ms(cp, mine)
            r.rate = flops_conv(C, HW, K, R, s) / (r.ms * 1e-3) / 1e12
            if torch is not None:
                def ref():
                    return torch.nn.functional.conv2d(x, w, None, s, pad)
                r.rel_err = rel_err(cp, as_cupy(cp, y), as_cupy(cp, ref()))
                t_ms = time_ms(cp, ref)
                r.ratio["cudnn"] = t_ms / r.ms
                r.note = f"cudnn {t_ms:.3f} ms"
            else:
                r.note = "no torch with CUDA: no cuDNN anchor"
        except Exception as exc:
            r.note = f"{type(exc).__name__}: {exc}"[:120]
        rows.append(r)
        cp.get_default_memory_pool().free_all_blocks()


# ---- report ----------------------------------------------------------------------------------------------------

def table(rows: list[Row]) -> str:
    head = ["part", "case", "impl", "kernel", "ms", "rate", "vs anchor", "rel err", "note"]
    lines = []
    for r in rows:
        anchor = " ".join(f"{k} {v:.2f}" for k, v in r.ratio.items())
        lines.append([r.part, r.case, r.impl, r.kernel, f"{r.ms:.3f}" if r.ms == r.ms else "-",
                      f"{r.rate:.1f} {r.unit}" if r.rate == r.rate else "-", anchor,
                      f"{r.rel_err:.1e}" if r.rel_err == r.rel_err else "-", r.note])
    w = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(head)]
    out = ["  ".join(h.ljust(x) for h, x in zip(head, w)), "  ".join("-" * x for x in w)]
    out += ["  ".join(c.ljust(x) for c, x in zip(l, w)) for l in lines]
    return "\n".join(out)


def bars(rows: list[Row]) -> list[str]:
    out = []
    for r in rows:
        key = "memory" if r.part == "memory" else r.part
        need = BARS.get(key)
        anchor = {"memory": "copy", "attention fwd": "sdpa", "attention bwd": "sdpa", "conv fwd": "cudnn"}.get(key)
        if need is None or anchor not in r.ratio:
            continue
        got = r.ratio[anchor]
        out.append(f"BAR {r.part} {r.case}: {100 * got:.0f}% of {anchor} (need {100 * need:.0f}%): "
                   f"{'PASS' if got >= need else 'FAIL'}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", type=lambda s: s.split(","), default=list(PARTS), help=f"comma separated: {PARTS}")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", help="write the rows here (default: $OUT/cuda_kernels.json when OUT is set)")
    ap.add_argument("--dry-run", action="store_true", help="print the plan without touching a GPU")
    args = ap.parse_args(argv)
    bad = [p for p in args.parts if p not in PARTS]
    if bad:
        ap.error(f"unknown parts {bad}; choose from {PARTS}")
    if args.dry_run:
        for line in plan(args):
            print("plan:", line)
        print(f"{len(plan(args))} cases; anchors: torch SDPA (best backend), cuDNN via torch, cudaMemcpy; bars: {BARS}")
        return 0
    import cupy as cp

    import fastnn

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
    rows: list[Row] = []
    parts = {"memory": part_memory, "attention": part_attention, "conv": part_conv}
    for part in args.parts:
        t0 = time.perf_counter()
        try:
            parts[part](cp, fastnn, torch, args.quick, rows)
        except Exception as exc:  # one failing part must not hide the others
            rows.append(Row(part, "(part failed)", "fastnn", note=f"{type(exc).__name__}: {exc}"[:120]))
            traceback.print_exc()
        print(f"[{part}: {time.perf_counter() - t0:.0f} s]", flush=True)
    info = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "gpu": name,
            "cupy": cp.__version__, "torch": None if torch is None else torch.__version__}
    path = args.json or (os.path.join(os.environ["OUT"], "cuda_kernels.json") if os.environ.get("OUT") else None)
    if path:
        with open(path, "w") as f:
            json.dump({"machine": info, "rows": [asdict(r) for r in rows]}, f, indent=1)
    print(f"GPU: {name}; cupy {info['cupy']}, torch {info['torch']}")
    print(table(rows))
    for line in bars(rows):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
