#!/usr/bin/env python3
"""Benchmark of the glue-b kernels (layer_norm, rms_norm, batch_norm, add/mul/bias_add,
sum/mean/max, fused SGD/Adam/AdamW steps; forward and backward) against PyTorch CPU in the
same run, with the measured copy bandwidth as the bar.

Usage: python bench/norm_optim.py [--quick]
Writes bench/results/<YYYY-MM-DD>-<machine>-norm_optim.md and .json and prints the table.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys

from fastnn import _C, get_isa
from fastnn.benchmark import harness, norm_optim


def machine_tag(info: dict) -> str:
    cpu = re.sub(r"[^a-z0-9]+", "-", info["cpu"].lower()).strip("-") or "cpu"
    return f"{cpu}-{info['cores']}c"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1M-element tensors and short runs")
    args = ap.parse_args()
    peak_before = dict(_C.measure_peak(get_isa(), 0.3, 256 << 20))
    rows = norm_optim.run(quick=args.quick)
    peak_after = dict(_C.measure_peak(get_isa(), 0.3, 256 << 20))
    harness.attach_ratios(rows)
    # The bar is the better of the two copy measurements (the machine is shared: load varies).
    peak = peak_before if peak_before["copy_gbps"] >= peak_after["copy_gbps"] else peak_after
    info = harness.machine_info()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    table = harness.format_table(rows, peak["gflops_fp32"], peak["copy_gbps"])
    head = (f"# glue-b kernels vs PyTorch CPU{' (quick)' if args.quick else ''}\n\n"
            f"- machine: {info['cpu']}, {info['cores']} cores, {info['threads']} threads, ISA {info['isa']}, "
            f"numpy {info['numpy']}, torch {info.get('torch', 'absent')}, {info['date']}\n"
            f"- copy bandwidth (`fastnn info --peak` probe, read+write): {peak_before['copy_gbps']:.1f} GB/s before, "
            f"{peak_after['copy_gbps']:.1f} GB/s after; '% peak' uses {peak['copy_gbps']:.1f}\n"
            f"- load average at the end: {load}\n"
            "- GB/s counts the bytes each call must move (stated per op in fastnn/benchmark/norm_optim.py);"
            " ratio = torch median / fastnn median (> 1: fastnn faster)\n\n")
    print(head + table)
    os.makedirs(os.path.join(os.path.dirname(__file__), "results"), exist_ok=True)
    stem = os.path.join(os.path.dirname(__file__), "results",
                        f"{dt.date.today().isoformat()}-{machine_tag(info)}-norm_optim{'-quick' if args.quick else ''}")
    with open(stem + ".md", "w") as f:
        f.write(head + "```\n" + table + "\n```\n")
    with open(stem + ".json", "w") as f:
        f.write(harness.to_json(rows, {**info, "load_average": load, "peak_before": peak_before,
                                       "peak_after": peak_after}, peak))
    print(f"wrote {stem}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
