"""Per-epoch progress for fit/evaluate/predict, drawn by tqdm.

verbose=1: a live bar per epoch ("Epoch 3/10") with steps, rate, elapsed and ETA and the running
loss and metrics; when the epoch ends the bar's postfix gets the validation metrics and stays on
screen. Where the output is not a terminal (a pipe, a log file) a live bar would write a line per
refresh, so verbose=1 there prints what verbose=2 prints: one line per epoch with the final numbers.
verbose=0: silent.
"""
from __future__ import annotations

import sys
import time

__all__ = ["ProgressBar", "format_logs"]


def format_logs(logs: dict) -> str:
    return " - ".join(f"{k}: {_fmt(v)}" for k, v in logs.items())


def _fmt(v: float) -> str:
    return f"{v:.4f}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3e}"


class ProgressBar:
    """One epoch (or one evaluate/predict pass) of `total` steps."""

    def __init__(self, total: int, verbose: int, desc: str = "", file=None) -> None:
        self.verbose = verbose
        self.desc = desc
        self.file = file if file is not None else sys.stdout
        self.start = time.perf_counter()
        self.bar = None
        if verbose == 1 and not _is_terminal(self.file):
            self.verbose = 2
        if self.verbose == 1:
            from tqdm import tqdm  # only when a bar is drawn

            self.bar = tqdm(total=total, desc=desc, unit="step", file=self.file, dynamic_ncols=True, leave=True,
                            bar_format="{desc} {n_fmt}/{total_fmt} |{bar:20}| {elapsed}<{remaining}, "
                                       "{rate_fmt}{postfix}")

    def update(self, n: int, logs: dict | None = None) -> None:
        if self.bar is None:
            return
        if logs:
            self.bar.set_postfix_str(format_logs(logs), refresh=False)
        self.bar.update(n)

    def close(self, logs: dict | None = None) -> None:
        seconds = time.perf_counter() - self.start
        if self.bar is not None:
            if logs:
                self.bar.set_postfix_str(format_logs(logs), refresh=False)
            self.bar.close()
        elif self.verbose == 2:
            head = f"{self.desc} - " if self.desc else ""
            print(f"{head}{seconds:.1f}s - {format_logs(logs or {})}", file=self.file, flush=True)


def _is_terminal(f) -> bool:
    try:
        return bool(f.isatty())
    except (AttributeError, ValueError):
        return False
