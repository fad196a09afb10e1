#!/usr/bin/env python
"""CPU attention benchmark: fastnn vs PyTorch SDPA (CPU) vs naive NumPy, forward and backward.

Writes bench/results/<YYYY-MM-DD>-<machine>-attention.md and .json and prints the table.
    python bench/attention.py [--quick] [--lengths 1024,2048] [--head-dims 64]
The machine may be shared: ratios come from the same run (anchors timed right after fastnn, each a
median of several calls); the load average before and after is recorded with the results.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import pathlib
import re
import sys

from fastnn import _C, get_isa, get_num_threads
from fastnn.benchmark import attention as suite
from fastnn.benchmark import harness


def machine_slug(info: dict) -> str:
    cpu = re.sub(r"[^a-z0-9]+", "-", info["cpu"].lower()).strip("-") or "cpu"
    return f"{cpu}-{info['isa']}-{info['threads']}t"


def bar_summary(rows: list[harness.Row], peak_gflops: float) -> list[str]:
    """The issue's bar, evaluated on the rows of this run."""
    lines = []
    for r in rows:
        if r.impl != "fastnn" or "torch" not in r.ratios:
            continue
        m = re.match(r"B\d+ H\d+ L(\d+) D(\d+)( causal)?$", r.shape)
        if not m:
            continue
        L, causal = int(m.group(1)), bool(m.group(3))
        ratio = r.ratios["torch"]
        if r.op == "forward" and L >= 1024:
            lines.append(f"- forward {r.shape}: {ratio:.2f}x torch (bar 1.5x) {'MET' if ratio >= 1.5 else 'not met'}")
        if r.op == "backward":
            lines.append(f"- backward {r.shape}: {ratio:.2f}x torch (bar 1.0x) {'MET' if ratio >= 1.0 else 'not met'}")
        if r.op == "forward" and L >= 2048 and not causal:
            pct = 100 * r.gflops / peak_gflops
            lines.append(f"- forward {r.shape}: {pct:.0f}% of measured FP32 peak (bar 50%) "
                         f"{'MET' if pct >= 50 else 'not met'}")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--lengths", type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--head-dims", type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--out-dir", default=str(pathlib.Path(__file__).parent / "results"))
    args = ap.parse_args(argv)

    load_before = os.getloadavg()
    peak = dict(_C.measure_peak(get_isa(), 0.3, 256 << 20))
    rows = suite.run(quick=args.quick, lengths=args.lengths, head_dims=args.head_dims)
    harness.attach_ratios(rows)
    mem = suite.memory_lines(suite.memory() if not args.quick else suite.memory(L=2048))
    load_after = os.getloadavg()
    info = harness.machine_info()
    table = harness.format_table(rows, peak["gflops_fp32"], peak["copy_gbps"])
    summary = bar_summary(rows, peak["gflops_fp32"])
    head = (f"machine: {info['cpu']}, {info['threads']} threads, ISA {info['isa']}, torch {info.get('torch')}; "
            f"measured peak {peak['gflops_fp32']:.0f} GFLOP/s FP32, {peak['copy_gbps']:.1f} GB/s copy\n"
            f"load average (1/5/15 min) before {load_before[0]:.1f}/{load_before[1]:.1f}/{load_before[2]:.1f}, "
            f"after {load_after[0]:.1f}/{load_after[1]:.1f}/{load_after[2]:.1f} (shared machine: timings are noisy)")
    print(head)
    print(table)
    print("\n".join(summary))
    print("\n".join(mem))

    out_dir = pathlib.Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{dt.date.today().isoformat()}-{machine_slug(info)}-attention"
    (out_dir / f"{stem}.json").write_text(harness.to_json(rows, {**info, "load_before": load_before,
                                                                  "load_after": load_after}, peak))
    md = [f"# attention benchmark {info['date']}", "", "```", f"$ python bench/attention.py {' '.join(sys.argv[1:])}",
          head, "```", "", "```", table, "```", "", "Bar (issue): forward >= 1.5x PyTorch SDPA for L >= 1024; "
          "backward >= 1.0x; >= 50% of measured FP32 peak at L >= 2048 non-causal.", "", *summary, *mem, "",
          "Memory: peak resident set (VmHWM, reset before the call) in a fresh process, minus the resident set "
          "before the call.",
          "FLOPs: forward 4·B·H·L²·D (halved when causal), backward 2.5x forward; decode rows report GB/s of K+V read.",
          f"NumPy anchor: naive float32, materialises the L×L matrix; skipped for L > {suite.NUMPY_MAX_L}."]
    (out_dir / f"{stem}.md").write_text("\n".join(md) + "\n")
    print(f"wrote {out_dir / stem}.md|json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
