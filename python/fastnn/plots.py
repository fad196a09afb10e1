"""PNG figures of training runs: loss/metric curves from a History, and grids of images (GAN samples).

Drawn with matplotlib's object API on an Agg canvas (no pyplot, no global backend switch), so it works
headless and leaves a user's matplotlib state alone. matplotlib is optional (`pip install matplotlib`,
or `fastnn[plot]`); without it `plots_unavailable_reason()` says so and the functions raise ImportError.
"""
from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np

__all__ = ["plots_available", "plots_unavailable_reason", "plot_history", "save_image_grid", "PLOT_INSTALL"]

PLOT_INSTALL = "pip install matplotlib"


def plots_unavailable_reason() -> str | None:
    """None when PNGs can be drawn, else why not (with the install command)."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    except ImportError as exc:
        return f"matplotlib is not installed ({exc}); for PNG plots: {PLOT_INSTALL}"
    return None


def plots_available() -> bool:
    return plots_unavailable_reason() is None


def _figure(width: float, height: float):
    reason = plots_unavailable_reason()
    if reason:
        raise ImportError(reason)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | os.PathLike) -> str:
    """Write the PNG through a temp file and a rename, so a crash leaves no half-written file."""
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}.png"
    try:
        fig.savefig(tmp, format="png")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def plot_history(history: Mapping[str, Sequence[float]], path: str | os.PathLike, title: str = "",
                 x_label: str = "epoch") -> str:
    """Curves of a `History.history` dict: one panel for the losses (every key ending in 'loss', train
    and validation) and one for the other metrics (accuracy, ...), train solid and val_ dashed."""
    keys = [k for k, v in history.items() if len(v) and k != "lr"]
    if not keys:
        raise ValueError("plot_history: the history is empty (train for at least one epoch)")
    losses = [k for k in keys if k.removeprefix("val_").endswith("loss")]
    others = [k for k in keys if k not in losses]
    panels = [p for p in (losses, others) if p]
    fig = _figure(5.0 * len(panels), 3.6)
    for i, group in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for k in group:
            v = np.asarray(history[k], dtype=np.float64)
            ax.plot(np.arange(1, len(v) + 1), v, "--" if k.startswith("val_") else "-", marker="o" if len(v) < 30 else None,
                    markersize=3, label=k)
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(x_label)
        ax.set_ylabel("loss" if group is losses else "metric")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def save_image_grid(images: np.ndarray, path: str | os.PathLike, ncols: int = 8, title: str = "") -> str:
    """A grid of grey images (N, 1, H, W) or (N, H, W) with values in [0, 1] (white background, dark ink
    is not assumed: values are drawn as given, 0 black and 1 white)."""
    imgs = np.asarray(images, dtype=np.float32)
    if imgs.ndim == 4:
        if imgs.shape[1] != 1:
            raise ValueError(f"save_image_grid: images must be grey (N, 1, H, W), got {imgs.shape}")
        imgs = imgs[:, 0]
    if imgs.ndim != 3 or len(imgs) == 0:
        raise ValueError(f"save_image_grid: images must be (N, 1, H, W) or (N, H, W) with N >= 1, got {imgs.shape}")
    n, h, w = imgs.shape
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    canvas = np.ones((nrows * (h + 1) + 1, ncols * (w + 1) + 1), np.float32) * 0.5
    for i, img in enumerate(np.clip(imgs, 0.0, 1.0)):
        r, c = divmod(i, ncols)
        canvas[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + c * (w + 1):1 + c * (w + 1) + w] = img
    width = min(8.0, 0.75 * ncols)  # inches; dpi 100
    fig = _figure(width, width * canvas.shape[0] / canvas.shape[1] / (0.92 if title else 1.0))
    ax = fig.add_axes((0, 0, 1, 0.92 if title else 1))
    ax.imshow(canvas, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=9)
    return _save(fig, path)
