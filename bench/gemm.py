"""CPU GEMM evidence: speed against NumPy (OpenBLAS) and PyTorch, the issue's bars, and parity.

    python bench/gemm.py [--quick] [--out-dir bench/results]

Prints and writes bench/results/<date>-<machine>-gemm.md and .json:
  - measured FP32 peak of this machine (FMA loop, all threads; best of before and after the run);
  - square n = 64..4096, skinny (inference M = 1..32, K-heavy), transposed, batched and the
    (8192×768)·(3072×768)ᵀ training shape: median time (≥ 5 calls after warm-up, implementations
    interleaved), GFLOP/s, % of peak, ratio against NumPy and PyTorch;
  - linear + bias + GELU fused against the same GEMM followed by separate bias and GELU passes;
  - the bars of the GEMM issue, each PASS / FAIL;
  - parity on every ISA path this CPU has: odd sizes × all transpose combinations against the
    float64 oracle, and bit-exactness on small-integer inputs.
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are removed from the environment before NumPy loads.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys

for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_var, None)

import numpy as np  # noqa: E402

import fastnn  # noqa: E402
from fastnn import _C  # noqa: E402
from fastnn import reference as ref  # noqa: E402
from fastnn.benchmark import gemm as bgemm  # noqa: E402
from fastnn.benchmark import harness  # noqa: E402
from fastnn.testing import max_rel_error, rand, randint, rng, tolerance  # noqa: E402

ODD = [1, 7, 13, 31, 33, 127, 129, 1000]


def parity() -> list[dict]:
    """Every ISA path: odd (M, N, K) × {NN, NT, TN, TT} against float64, and small-integer exactness."""
    results = []
    g = rng(7)
    for isa in fastnn.available_isas():
        with fastnn.use_isa(isa):
            for s in ODD:
                m, n, k = s, max(1, (s * 3) // 2 + 1), 2 * s + 1
                row = {"isa": isa, "shape": f"{m}x{n}x{k}", "k": k}
                worst, tol = 0.0, tolerance(np.float32, k)
                for ta in (False, True):
                    for tb in (False, True):
                        a = rand((k, m), gen=g).T if ta else rand((m, k), gen=g)
                        b = rand((n, k), gen=g).T if tb else rand((k, n), gen=g)
                        err = max_rel_error(fastnn.matmul(a, b), ref.gemm.matmul(a, b))
                        row[("T" if ta else "N") + ("T" if tb else "N")] = err
                        worst = max(worst, err)
                ai, bi = randint((m, k), gen=g), randint((n, k), gen=g).T
                exact = np.array_equal(fastnn.matmul(ai, bi), (ai.astype(np.int64) @ bi.astype(np.int64)).astype(np.float32))
                row.update(tolerance=tol, bit_exact=bool(exact), ok=bool(worst <= tol and exact))
                results.append(row)
    return results


def bars(rows: list[harness.Row], peak: float) -> list[tuple[str, bool, str]]:
    by = {(r.op, r.shape, r.impl): r for r in rows}
    out = []

    def ratio(op, shape, anchor="numpy"):
        r = by.get((op, shape, "fastnn"))
        return r.ratios.get(anchor) if r else None

    for n in bgemm.SQUARE:
        r = ratio("matmul", str(n))
        if r is None:
            continue
        if n >= 512:
            out.append((f"square n={n}: >= 1.0x NumPy", r >= 1.0, f"{r:.2f}x"))
        elif n >= 128:
            out.append((f"square n={n}: >= 0.9x NumPy", r >= 0.9, f"{r:.2f}x"))
        if n >= 1024:
            pct = 100 * by[("matmul", str(n), "fastnn")].gflops / peak
            out.append((f"square n={n}: >= 85% of peak", pct >= 85.0, f"{pct:.0f}%"))
    for label, *_ in bgemm.SKINNY + [(b[0],) for b in bgemm.BATCHED]:
        r = ratio("matmul", label)
        if r is not None:
            out.append((f"{label}: >= 1.0x NumPy", r >= 1.0, f"{r:.2f}x"))
    for label, *_ in bgemm.LINEAR:
        r = ratio("linear", label, "fastnn matmul+bias+gelu")
        if r is not None:
            out.append((f"{label}: fused faster than matmul + separate bias, gelu", r > 1.0, f"{r:.2f}x"))
    return out


def machine_slug(info: dict) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", str(info.get("cpu", "cpu")).lower()).strip("-")
    return f"{name}-{info.get('cores')}c"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a few shapes only (smoke test)")
    p.add_argument("--out-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    p.add_argument("--no-parity", action="store_true")
    args = p.parse_args(argv)

    isa = fastnn.get_isa()
    peak_before = dict(_C.measure_peak(isa, 0.3, 256 << 20))
    rows = bgemm.run(quick=args.quick)
    peak_after = dict(_C.measure_peak(isa, 0.3, 256 << 20))
    peak = max(peak_before["gflops_fp32"], peak_after["gflops_fp32"])
    for r in rows:
        r.peak_fraction = r.gflops / peak if r.flops else None
    harness.attach_ratios(rows)
    machine = harness.machine_info()
    machine["load_average"] = os.getloadavg()
    machine["sgemm_kernel"] = _C.sgemm_kernel_name(isa)
    table = harness.format_table(rows, peak)
    checks = bars(rows, peak)
    par = [] if args.no_parity else parity()

    lines = [f"# fastnn CPU GEMM — {machine['date']}", "",
             f"machine: {machine['cpu']}, {machine['cores']} cores, {machine['threads']} threads, ISA {isa} "
             f"({machine['sgemm_kernel']}), load average {machine['load_average'][0]:.1f} at the end (shared machine)",
             f"NumPy {machine['numpy']}" + (f", torch {machine['torch']}" if "torch" in machine else ""),
             f"measured peak: {peak:.1f} GFLOP/s FP32 (before {peak_before['gflops_fp32']:.1f}, after "
             f"{peak_after['gflops_fp32']:.1f})", "",
             "ratio = anchor median / fastnn median (> 1: fastnn faster); medians of >= 5 interleaved calls after warm-up",
             "", "```", table, "```", "", "## Bars", ""]
    lines += [f"- {'PASS' if ok else 'FAIL'}  {name}  ({val})" for name, ok, val in checks]
    if par:
        lines += ["", "## Parity (max relative error vs float64 oracle; bit-exact on small integers)", "", "```"]
        lines.append(f"{'isa':8} {'M x N x K':>16} {'NN':>9} {'NT':>9} {'TN':>9} {'TT':>9} {'tol':>9}  exact  result")
        for r in par:
            lines.append(f"{r['isa']:8} {r['shape']:>16} {r['NN']:9.2e} {r['NT']:9.2e} {r['TN']:9.2e} {r['TT']:9.2e} "
                         f"{r['tolerance']:9.2e}  {str(r['bit_exact']):5}  {'PASS' if r['ok'] else 'FAIL'}")
        lines.append("```")
    text = "\n".join(lines)
    print(text)

    os.makedirs(args.out_dir, exist_ok=True)
    stem = os.path.join(args.out_dir, f"{dt.date.today().isoformat()}-{machine_slug(machine)}-gemm"
                        + ("-quick" if args.quick else ""))
    with open(stem + ".md", "w") as f:
        f.write(text + "\n")
    data = json.loads(harness.to_json(rows, machine, {**peak_before, "gflops_fp32": peak}))
    data["bars"] = [{"bar": n, "pass": ok, "value": v} for n, ok, v in checks]
    data["parity"] = par
    with open(stem + ".json", "w") as f:
        json.dump(data, f, indent=2)
    print(f"\nwrote {stem}.md and {stem}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
