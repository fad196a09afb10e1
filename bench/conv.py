#!/usr/bin/env python
"""Convolution + pooling benchmark vs PyTorch CPU, one run; writes
bench/results/<YYYY-MM-DD>-<machine>-conv.md and .json.

    python bench/conv.py [--quick] [--threads N]

Ratios are anchor time / fastnn time (> 1: fastnn faster), medians of repeated runs in one
process. Issue bar: forward >= 1.0x on the 3x3, 1x1 and stem layers, backward >= 0.8x.
"""
from __future__ import annotations

import argparse
import datetime as dt
import pathlib
import re
import sys

import fastnn
from fastnn import _C
from fastnn.benchmark import conv, harness


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="two layers and one pooling row")
    ap.add_argument("--threads", type=int, default=None, help="threads for fastnn and torch (default: all)")
    ap.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results"))
    args = ap.parse_args()
    if args.threads:
        fastnn.set_num_threads(args.threads)
    peak = dict(_C.measure_peak(fastnn.get_isa(), 0.3, 256 << 20))
    rows = conv.run(quick=args.quick)
    harness.attach_ratios(rows)
    machine = harness.machine_info()
    table = harness.format_table(rows, peak["gflops_fp32"], peak["copy_gbps"])
    head = (f"machine: {machine['cpu']}, {machine['cores']} cores, {machine['threads']} threads, ISA {machine['isa']}, "
            f"torch {machine.get('torch', 'absent')}; measured peak {peak['gflops_fp32']:.0f} GFLOP/s FP32, "
            f"{peak['copy_gbps']:.1f} GB/s copy")
    print(head)
    print(table)
    slug = re.sub(r"[^a-z0-9]+", "-", f"{machine['cpu']}-{machine['isa']}-{machine['threads']}t".lower()).strip("-")
    stem = pathlib.Path(args.out) / f"{dt.date.today().isoformat()}-{slug}-conv{'-quick' if args.quick else ''}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(harness.to_json(rows, machine, peak))
    stem.with_suffix(".md").write_text(
        f"# conv + pool benchmark, {machine['date']}\n\n`python bench/conv.py{' --quick' if args.quick else ''}`\n\n"
        f"{head}\n\n```\n{table}\n```\n")
    print(f"wrote {stem}.md / .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
