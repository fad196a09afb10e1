"""Timing and reporting."""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass
class Timing:
    median: float  # seconds
    p10: float
    p90: float
    runs: int

    @property
    def spread(self) -> float:
        """(p90 - p10) / median: the relative spread of the runs."""
        return (self.p90 - self.p10) / self.median if self.median > 0 else 0.0


# Other libraries' worker threads keep spinning after a call returns (OpenBLAS for about 0.1 s,
# OpenMP runtimes for milliseconds): timing one implementation right after another charges it for
# the first one's spinning threads, which on a 2-core machine halves its speed. Each implementation
# is therefore timed in its own block, after this pause and a warm-up that wakes its own threads.
SETTLE_SECONDS = 0.25


def _timing(times: list[float]) -> Timing:
    times = sorted(times)
    q = statistics.quantiles(times, n=10) if len(times) >= 2 else [times[0]] * 9
    return Timing(statistics.median(times), q[0], q[-1], len(times))


def _timed_block(fn: Callable[[], Any], *, warmup: int, min_runs: int, min_time: float, max_runs: int,
                 sync: Callable[[], None] | None, settle: float) -> list[float]:
    if settle > 0:
        time.sleep(settle)
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_runs or (time.perf_counter() - start < min_time and len(times) < max_runs):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t0)
    return times


def time_fn(fn: Callable[[], Any], *, warmup: int = 2, min_runs: int = 5, min_time: float = 0.3,
            max_runs: int = 200, sync: Callable[[], None] | None = None,
            settle: float = SETTLE_SECONDS) -> Timing:
    """Median wall time of fn() after a settling pause and warm-up; runs at least min_runs times and
    min_time seconds."""
    return _timing(_timed_block(fn, warmup=warmup, min_runs=min_runs, min_time=min_time, max_runs=max_runs,
                                sync=sync, settle=settle))


def time_interleaved(fns: dict[str, Callable[[], Any]], *, rounds: int = 3, warmup: int = 2, min_runs: int = 5,
                     min_time: float = 0.5, max_runs: int = 200, sync: Callable[[], None] | None = None,
                     settle: float = SETTLE_SECONDS) -> dict[str, Timing]:
    """Median wall time of each fn, timed in alternating blocks (fn1's block, fn2's block, ... and
    again, `rounds` times) so that a shared machine's changing load hits all of them alike. Each
    block settles and warms up first (see SETTLE_SECONDS); min_runs and min_time are totals per fn."""
    per_block_runs = max(1, -(-min_runs // rounds))
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            times[name] += _timed_block(fn, warmup=warmup, min_runs=per_block_runs, min_time=min_time / rounds,
                                        max_runs=max(1, max_runs // rounds), sync=sync, settle=settle)
    return {name: _timing(ts) for name, ts in times.items()}


@dataclass
class Row:
    family: str
    op: str
    shape: str
    impl: str                 # "fastnn", "numpy", "torch", ...
    timing: Timing
    flops: float = 0.0        # per call; 0 when bytes is the figure of merit
    bytes: float = 0.0
    peak_fraction: float | None = None
    ratios: dict[str, float] = field(default_factory=dict)  # anchor impl → anchor time / this time

    @property
    def gflops(self) -> float:
        return self.flops / self.timing.median * 1e-9 if self.flops else 0.0

    @property
    def gbps(self) -> float:
        return self.bytes / self.timing.median * 1e-9 if self.bytes else 0.0


def attach_ratios(rows: list[Row], subject: str = "fastnn") -> None:
    """For each (op, shape), ratio = anchor median / subject median (> 1: fastnn is faster)."""
    by_key: dict[tuple[str, str, str], dict[str, Row]] = {}
    for r in rows:
        by_key.setdefault((r.family, r.op, r.shape), {})[r.impl] = r
    for impls in by_key.values():
        mine = impls.get(subject)
        if mine is None:
            continue
        for name, other in impls.items():
            if name != subject:
                mine.ratios[name] = other.timing.median / mine.timing.median


def machine_info() -> dict[str, Any]:
    from .. import _C, get_isa, get_num_threads

    cpu = _C.cpu_info()
    info = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu["brand"] or platform.processor(),
        "cores": os.cpu_count(),
        "isa": get_isa(),
        "threads": get_num_threads(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "openblas_env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ},
    }
    try:
        from threadpoolctl import threadpool_info

        info["numpy_blas"] = [
            {k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads")} for d in threadpool_info()
        ]
    except ImportError:
        pass
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        pass
    return info


def format_table(rows: list[Row], peak_gflops: float | None = None, peak_gbps: float | None = None) -> str:
    head = ["family", "op", "shape", "impl", "median ms", "spread", "GFLOP/s", "GB/s", "% peak", "ratio vs anchors"]
    lines = []
    for r in rows:
        pct = ""
        if r.flops and peak_gflops:
            pct = f"{100 * r.gflops / peak_gflops:.0f}%"
        elif r.bytes and peak_gbps:
            pct = f"{100 * r.gbps / peak_gbps:.0f}%"
        ratios = " ".join(f"{k}:{v:.2f}x" for k, v in sorted(r.ratios.items()))
        lines.append([r.family, r.op, r.shape, r.impl, f"{r.timing.median * 1e3:.3f}", f"{100 * r.timing.spread:.0f}%",
                      f"{r.gflops:.1f}" if r.flops else "", f"{r.gbps:.1f}" if r.bytes else "", pct, ratios])
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(head)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths)), "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(l, widths)) for l in lines]
    return "\n".join(out)


def to_json(rows: list[Row], machine: dict[str, Any], peak: dict[str, Any] | None) -> str:
    return json.dumps({
        "machine": machine,
        "peak": peak,
        "rows": [
            {**{k: v for k, v in asdict(r).items() if k != "timing"}, "median_s": r.timing.median,
             "p10_s": r.timing.p10, "p90_s": r.timing.p90, "runs": r.timing.runs,
             "gflops": r.gflops, "gbps": r.gbps}
            for r in rows
        ],
    }, indent=2)
