"""Training speed of whole models, fastnn (Keras-style fit) against PyTorch CPU: the same CNN and the
same small Transformer (character GPT), same architecture, batch, optimizer, data and threads.

    python bench/train.py [--quick] [--runs N] [--threads N] [--out-dir bench/results]

Writes bench/results/<date>-<machine>-train.md and .json. ratio = torch time / fastnn time (> 1:
fastnn faster); median of N alternating runs, spread (p90 - p10) / median.
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

from fastnn.benchmark import harness  # noqa: E402
from fastnn.benchmark import train as btrain  # noqa: E402


def _load() -> str:
    try:
        return "/".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="5 steps per run instead of 100")
    ap.add_argument("--runs", type=int, default=None, help="timed runs per library (default 5, quick 2)")
    ap.add_argument("--threads", type=int, default=None, help="threads for both libraries (default: fastnn's)")
    ap.add_argument("--out-dir", default=os.path.join(os.path.dirname(__file__), "results"))
    args = ap.parse_args(argv)
    import fastnn

    if args.threads:
        fastnn.set_num_threads(args.threads)
    machine = harness.machine_info()
    load_before = _load()
    rows, loads = btrain.measure(args.quick, args.runs)
    load_after = _load()
    harness.attach_ratios(rows)
    table = harness.format_table(rows)
    lines = [f"{w.name}: {w.shape}; data {w.data}; parameters fastnn {w.params[0]:,}, torch "
             f"{w.params[1] if w.params[1] is None else format(w.params[1], ',')}" for w in loads]
    for r in rows:
        if r.impl == "fastnn" and "torch" in r.ratios:
            lines.append(f"{r.op}: fastnn {r.timing.median:.2f} s, ratio torch/fastnn {r.ratios['torch']:.2f}x")
    note = (f"ratio = torch time / fastnn time (> 1: fastnn faster); {machine['threads']} threads in both. "
            f"Load average (1/5/15 min) before {load_before}, after {load_after}: a shared machine, timings are noisy.")
    print(table)
    print("\n".join(lines))
    print(note)
    os.makedirs(args.out_dir, exist_ok=True)
    host = re.sub(r"[^A-Za-z0-9]+", "-", machine["cpu"]).strip("-").lower()[:40] or "cpu"
    stem = os.path.join(args.out_dir, f"{dt.date.today().isoformat()}-{host}-train")
    cmd = "python bench/train.py " + " ".join(argv if argv is not None else sys.argv[1:])
    with open(stem + ".md", "w") as f:
        f.write(f"# Training speed, fastnn vs PyTorch CPU\n\n```\n$ {cmd.strip()}\nmachine: {json.dumps(machine)}\n```\n\n"
                f"```\n{table}\n```\n\n" + "\n".join(f"- {l}" for l in lines) + f"\n\n{note}\n")
    with open(stem + ".json", "w") as f:
        doc = json.loads(harness.to_json(rows, machine, None))
        doc["workloads"] = [{"name": w.name, "shape": w.shape, "data": w.data, "params": list(w.params)} for w in loads]
        doc["load_before"], doc["load_after"] = load_before, load_after
        json.dump(doc, f, indent=2)
    print(f"wrote {stem}.md / .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
