"""2-D pooling (float64 oracles), NCHW input (N, C, H, W)."""
import numpy as np

__all__ = [
    "pool_output_size",
    "max_pool2d", "max_pool2d_backward",
    "avg_pool2d", "avg_pool2d_backward",
    "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward",
]


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def _pair(v, name="value"):
    if isinstance(v, (int, np.integer)):
        return (int(v), int(v))
    v = tuple(int(a) for a in v)
    if len(v) == 1:
        return (v[0], v[0])
    if len(v) != 2:
        raise ValueError(f"{name} must be an int or a pair, got {v}")
    return v


def pool_output_size(L, k, s, p, d=1, ceil_mode=False):
    """PyTorch pooling_output_shape for one dim.

    out = floor_or_ceil((L + 2p - d*(k-1) - 1) / s) + 1; with ceil_mode the last
    window is dropped if it would start at or beyond L + p (i.e. entirely in the
    right padding / outside the input).
    """
    num = L + 2 * p - d * (k - 1) - 1
    if num < 0:
        raise ValueError("pooling window larger than the padded input")
    out = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (out - 1) * s >= L + p:
        out -= 1
    return out


def _pool_args(x, kernel_size, stride, padding, dilation, ceil_mode):
    if x.ndim != 4:
        raise ValueError("expected (N, C, H, W) input")
    k = _pair(kernel_size, "kernel_size")
    s = k if stride is None or (not isinstance(stride, (int, np.integer)) and len(stride) == 0) \
        else _pair(stride, "stride")
    p, d = _pair(padding, "padding"), _pair(dilation, "dilation")
    for i in range(2):
        if p[i] > k[i] // 2:
            raise ValueError("pad should be at most half of the kernel size")
    H, W = x.shape[2:]
    out = (pool_output_size(H, k[0], s[0], p[0], d[0], ceil_mode),
           pool_output_size(W, k[1], s[1], p[1], d[1], ceil_mode))
    # pad top/left by p and bottom/right far enough that every window fits
    # (ceil_mode windows may overhang past the right padding).
    pads = []
    for i, L in enumerate((H, W)):
        span = (out[i] - 1) * s[i] + d[i] * (k[i] - 1) + 1
        pads.append((p[i], max(0, span - L - p[i])))
    return k, s, p, d, out, pads


def _tap(a, r, c, s, d, out):
    return a[:, :, r * d[0]:r * d[0] + s[0] * (out[0] - 1) + 1:s[0],
             c * d[1]:c * d[1] + s[1] * (out[1] - 1) + 1:s[1]]


# ---------------------------------------------------------------------------
def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """-> y (N, C, Ho, Wo) [, indices (N, C, Ho, Wo) int64].

    Padding acts as -inf.  indices are flat h*W + w into the (unpadded) input plane.
    Ties keep the first maximum in row-major tap order; a NaN in the window wins
    (the last NaN), as in PyTorch's CPU kernel.
    """
    x = _f64(x)
    k, s, p, d, out, pads = _pool_args(x, kernel_size, stride, padding, dilation, ceil_mode)
    H, W = x.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), pads[0], pads[1]), constant_values=-np.inf)
    best = np.full(x.shape[:2] + out, -np.inf)
    idx = np.full(x.shape[:2] + out, -1, dtype=np.int64)
    oh = np.arange(out[0])[:, None]
    ow = np.arange(out[1])[None, :]
    for r in range(k[0]):
        for c in range(k[1]):
            v = _tap(xp, r, c, s, d, out)
            ih = oh * s[0] + r * d[0] - p[0]
            iw = ow * s[1] + c * d[1] - p[1]
            inside = (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)  # (Ho, Wo)
            # idx < 0: the first in-bounds tap initialises the window (like hstart*W+wstart)
            take = inside & ((v > best) | np.isnan(v) | (idx < 0))
            best = np.where(take, v, best)
            idx = np.where(take, ih * W + iw, idx)
    return (best, idx) if return_indices else best


def max_pool2d_backward(grad_out, x, indices=None, kernel_size=None, stride=None, padding=0,
                        dilation=1, ceil_mode=False):
    """grad_x: grad_out scatter-added to the argmax positions (overlapping windows
    that share a max both contribute).  indices=None recomputes them (needs kernel_size)."""
    x = _f64(x)
    if indices is None:
        _, indices = max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True)
    g = _f64(grad_out)
    N, C, H, W = x.shape
    plane = np.arange(N * C, dtype=np.int64)[:, None] * (H * W)
    flat = (plane + np.asarray(indices, dtype=np.int64).reshape(N * C, -1)).ravel()
    gx = np.bincount(flat, weights=g.ravel(), minlength=N * C * H * W)
    return gx.reshape(N, C, H, W)


# ---------------------------------------------------------------------------
def _avg_divisor(L, k, s, p, out, count_include_pad):
    """Per-output-position divisor along one dim (PyTorch: the window clipped to
    [-p, L + p) when counting padding, clipped to [0, L) otherwise)."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, L + p)
    if count_include_pad:
        return (end - start).astype(np.float64)
    return (np.minimum(end, L) - np.maximum(start, 0)).astype(np.float64)


def _avg_args(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    k, s, p, d, out, pads = _pool_args(x, kernel_size, stride, padding, 1, ceil_mode)
    H, W = x.shape[2:]
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError("divisor must be not zero")
        div = np.full(out, float(divisor_override))
    else:
        div = (_avg_divisor(H, k[0], s[0], p[0], out[0], count_include_pad)[:, None]
               * _avg_divisor(W, k[1], s[1], p[1], out[1], count_include_pad)[None, :])
    return k, s, d, out, pads, div


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Window sum over real (zero-padded) input / divisor, PyTorch rules:
    divisor_override, else the window size clipped to the padded input
    (count_include_pad=True), else the number of real input elements."""
    x = _f64(x)
    k, s, d, out, pads, div = _avg_args(x, kernel_size, stride, padding, ceil_mode,
                                        count_include_pad, divisor_override)
    xp = np.pad(x, ((0, 0), (0, 0), pads[0], pads[1]))
    acc = np.zeros(x.shape[:2] + out)
    for r in range(k[0]):
        for c in range(k[1]):
            acc += _tap(xp, r, c, s, d, out)
    return acc / div


def avg_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True, divisor_override=None):
    x = _f64(x)
    k, s, d, out, pads, div = _avg_args(x, kernel_size, stride, padding, ceil_mode,
                                        count_include_pad, divisor_override)
    H, W = x.shape[2:]
    gs = _f64(grad_out) / div
    gxp = np.zeros(x.shape[:2] + (H + sum(pads[0]), W + sum(pads[1])))
    for r in range(k[0]):
        for c in range(k[1]):
            view = _tap(gxp, r, c, s, d, out)
            view += gs
    return gxp[:, :, pads[0][0]:pads[0][0] + H, pads[1][0]:pads[1][0] + W]


# ---------------------------------------------------------------------------
def _adaptive_matrix(L, out):
    """(out, L) averaging matrix: row i averages [floor(i*L/out), ceil((i+1)*L/out))."""
    i = np.arange(out)
    start = (i * L) // out
    end = -((-(i + 1) * L) // out)
    cols = np.arange(L)
    inside = (cols[None, :] >= start[:, None]) & (cols[None, :] < end[:, None])
    return inside / (end - start)[:, None]


def _adaptive_size(x, output_size):
    oh, ow = (output_size, output_size) if isinstance(output_size, (int, np.integer)) \
        else tuple(output_size)
    H, W = x.shape[-2:]
    return (H if oh is None else int(oh)), (W if ow is None else int(ow))


def adaptive_avg_pool2d(x, output_size):
    """x (N, C, H, W) -> (N, C, oh, ow); output_size int | (oh, ow), None keeps the size."""
    x = _f64(x)
    oh, ow = _adaptive_size(x, output_size)
    Ah = _adaptive_matrix(x.shape[-2], oh)
    Aw = _adaptive_matrix(x.shape[-1], ow)
    return Ah @ x @ Aw.T


def adaptive_avg_pool2d_backward(grad_out, x, output_size):
    x = _f64(x)
    oh, ow = _adaptive_size(x, output_size)
    Ah = _adaptive_matrix(x.shape[-2], oh)
    Aw = _adaptive_matrix(x.shape[-1], ow)
    return Ah.T @ _f64(grad_out) @ Aw
