#!/usr/bin/env python
"""Glue-kernel benchmark (activations, softmax, losses, dropout, embedding, and whatever other
families add to fastnn.benchmark.elementwise.CASE_BUILDERS) against PyTorch CPU, with % of the copy
bandwidth `fastnn info --peak` measures. Writes bench/results/<date>-<machine>-elementwise.md|json.

    python bench/elementwise.py [--quick] [--family activation --family softmax ...]

The machine may be shared: the load average before and after the run is recorded, and ratios are
taken against PyTorch in the same run (medians of >= 5 timed calls after 2 warm-ups).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
from pathlib import Path

import fastnn
from fastnn.benchmark import elementwise, harness

BAR_PEAK = 0.80   # fraction of the measured copy bandwidth for memory-bound kernels
BAR_RATIO = 1.0   # vs PyTorch CPU


def machine_slug(info: dict) -> str:
    cpu = re.sub(r"[^a-z0-9]+", "-", str(info.get("cpu", "cpu")).lower()).strip("-")[:24] or "cpu"
    return f"{cpu}-{info.get('threads', 0)}t"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small shapes, short runs")
    ap.add_argument("--family", action="append", help="only this family (repeatable)")
    ap.add_argument("--out-dir", default=str(Path(__file__).resolve().parent / "results"))
    args = ap.parse_args(argv)

    load_before = os.getloadavg()
    peak = dict(fastnn._C.measure_peak(fastnn.get_isa(), 0.3, 256 << 20))
    rows = elementwise.run(quick=args.quick, only=args.family)
    harness.attach_ratios(rows)
    peak_after = dict(fastnn._C.measure_peak(fastnn.get_isa(), 0.3, 256 << 20))
    load_after = os.getloadavg()
    machine = harness.machine_info()
    bw = max(peak["copy_gbps"], peak_after["copy_gbps"])  # the better of two probes: the bar is not lowered by noise

    lines = [
        f"# fastnn glue kernels vs PyTorch CPU — {machine['date']}",
        "",
        f"- machine: {machine['cpu']}, {machine['threads']} threads, ISA {machine['isa']}, numpy {machine['numpy']}, "
        f"torch {machine.get('torch', 'n/a')}",
        f"- measured copy bandwidth (read + write, `fastnn info --peak` probe): {peak['copy_gbps']:.2f} GB/s before, "
        f"{peak_after['copy_gbps']:.2f} GB/s after the run; % of peak below uses {bw:.2f} GB/s",
        f"- load average (1/5/15 min) before {load_before[0]:.1f}/{load_before[1]:.1f}/{load_before[2]:.1f}, "
        f"after {load_after[0]:.1f}/{load_after[1]:.1f}/{load_after[2]:.1f} (shared machine: timings are noisy)",
        f"- mode: {'quick' if args.quick else 'full'}; GB/s = minimal bytes of the op / median time; ratio = torch "
        "median / fastnn median (> 1: fastnn faster)",
        "",
        "| family | op | shape | impl | median ms | spread | GB/s | % copy bw | vs torch | bar |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for r in rows:
        pct = r.gbps / bw if bw else 0.0
        ratio = r.ratios.get("torch")
        bar = ""
        if r.impl == "fastnn":
            ok_bw = pct >= BAR_PEAK
            ok_ratio = ratio is None or ratio >= BAR_RATIO
            bar = ("ok" if ok_bw and ok_ratio else
                   " / ".join(m for m, bad in (("<80% bw", not ok_bw), ("<1.0x torch", not ok_ratio)) if bad))
            verdicts.append((r.op, r.shape, bar))
        lines.append(f"| {r.family} | {r.op} | {r.shape} | {r.impl} | {r.timing.median * 1e3:.3f} | "
                     f"{100 * r.timing.spread:.0f}% | {r.gbps:.2f} | {100 * pct:.0f}% | "
                     f"{'' if ratio is None else f'{ratio:.2f}x'} | {bar} |")
    text = "\n".join(lines) + "\n"
    print(text)

    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{dt.date.today().isoformat()}-{machine_slug(machine)}-elementwise{'-quick' if args.quick else ''}"
    (out_dir / f"{stem}.md").write_text(text)
    payload = json.loads(harness.to_json(rows, machine, peak))
    payload.update({"peak_after": peak_after, "copy_gbps_used": bw, "load_before": load_before,
                    "load_after": load_after, "bars": {"copy_fraction": BAR_PEAK, "vs_torch": BAR_RATIO}})
    (out_dir / f"{stem}.json").write_text(json.dumps(payload, indent=2))
    print(f"wrote {out_dir / stem}.md / .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
