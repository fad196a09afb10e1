"""Training-step time of fastnn.nn against PyTorch (same models, data, threads), and the
per-op overhead of the autograd layer.

    python bench/nn.py [--quick] [--out-dir bench/results]

Writes bench/results/<date>-<machine>-nn.md and .json. The ops still served by PENDING adapters
(fastnn.autograd.kernels) are listed: rows that use them time the float64 oracle, not a kernel.
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
from fastnn.benchmark import nn as bnn  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out-dir", default=os.path.join(os.path.dirname(__file__), "results"))
    args = ap.parse_args(argv)
    machine = harness.machine_info()
    rows = bnn.run(args.quick)
    harness.attach_ratios(rows)
    pending = bnn.pending()
    table = harness.format_table(rows)
    note = ("ratio = torch time / fastnn time (> 1: fastnn faster). Ops on PENDING adapters "
            f"({len(pending)}): {', '.join(pending) or 'none'}")
    print(table)
    print(note)
    os.makedirs(args.out_dir, exist_ok=True)
    host = re.sub(r"[^A-Za-z0-9]+", "-", machine["cpu"]).strip("-").lower()[:40] or "cpu"
    stem = os.path.join(args.out_dir, f"{dt.date.today().isoformat()}-{host}-nn")
    with open(stem + ".md", "w") as f:
        f.write(f"# fastnn.nn training steps vs PyTorch\n\nmachine: `{json.dumps(machine)}`\n\n```\n{table}\n```\n\n{note}\n")
    with open(stem + ".json", "w") as f:
        doc = json.loads(harness.to_json(rows, machine, None))
        doc["pending_ops"] = pending
        json.dump(doc, f, indent=2)
    print(f"wrote {stem}.md / .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
