"""CUDA parity cases of the glue, attention, convolution and pooling kernels (every dtype path:
float32, float16, bfloat16) against the float64 oracles, for `fastnn check --backend cuda`.
(checks/cuda_gemm.py covers the GEMM family.) The shape column names the kernel that ran where a
family has several."""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from ..ops import cuda_attention, cuda_conv, cuda_gemm, cuda_glue
from ..reference import activation as ract
from ..reference import attention as rattn
from ..reference import conv as rconv
from ..reference import embedding as remb
from ..reference import loss as rloss
from ..reference import norm as rnorm
from ..reference import pool as rpool
from ..reference import softmax as rsm
from ..testing import rand, rng
from . import Case

PATHS = ("float32", "float16", "bfloat16")


def _cast(x32, path):
    """(device array in the path's storage dtype, exact float64 values)."""
    import cupy

    if path == "bfloat16":
        bits = cuda_gemm.to_bf16_bits(x32)
        return cupy.asarray(bits), cuda_gemm.from_bf16_bits(bits).astype(np.float64)
    if path == "float16":
        h = np.asarray(x32, np.float32).astype(np.float16)
        return cupy.asarray(h), h.astype(np.float64)
    x32 = np.asarray(x32, np.float32)
    return cupy.asarray(x32), x32.astype(np.float64)


def _host(x, path):
    h = x.get()
    return cuda_gemm.from_bf16_bits(h) if path == "bfloat16" else h.astype(np.float32)


def _kw(path):
    return {"dtype": "bfloat16"} if path == "bfloat16" else {}


def _flat(*arrays):
    return np.concatenate([np.asarray(a, np.float64).ravel() for a in arrays])


def _case(op: str, shape: str, path: str, fn: Callable[[np.random.Generator], tuple], seed: int,
          kernel: Callable[[], str] | None = None) -> Case:
    def run():
        got, want, k = fn(rng(seed))
        if kernel is not None:
            case.shape += f" [{kernel()}]"
        return got, want, k

    case = Case(op, shape, run, dtype=path)
    return case


# ---- glue ------------------------------------------------------------------------------------------

def _glue(path: str, quick: bool) -> Iterator[Case]:
    for kind, ref in (("gelu", "gelu"), ("silu", "silu"), ("relu", "relu")):
        def act(g, kind=kind, ref=ref):
            x, x64 = _cast(rand((33, 129), gen=g, low=-4, high=4), path)
            go, g64 = _cast(rand((33, 129), gen=g), path)
            y = cuda_glue.activation(kind, kind, x, **_kw(path))
            dx = cuda_glue.activation_backward(kind, kind, go, x, **_kw(path))
            want = _flat(getattr(ract, ref)(x64), getattr(ract, ref + "_backward")(g64, x64))
            return _flat(_host(y, path), _host(dx, path)), want, 16
        yield _case(kind + " (+backward)", "(33, 129)", path, act, 1)
    for shape, dim in (((37, 700), -1), ((5, 3000), -1), ((9, 33, 7), 1)):
        def sm(g, shape=shape, dim=dim):
            x, x64 = _cast(rand(shape, gen=g, low=-6, high=6), path)
            y = cuda_glue.softmax("softmax", x, dim, **_kw(path))
            ly = cuda_glue.softmax("log_softmax", x, dim, log=True, **_kw(path))
            return _flat(_host(y, path), _host(ly, path)), _flat(rsm.softmax(x64, dim), rsm.log_softmax(x64, dim)), \
                shape[dim]
        yield _case("softmax, log_softmax", f"{shape} dim={dim}", path, sm, 2)

    def ce(g):
        x, x64 = _cast(rand((67, 1001), gen=g, low=-3, high=3), path)
        t = g.integers(0, 1001, size=67).astype(np.int64)
        t[::5] = -100
        import cupy

        kw = dict(label_smoothing=0.1, **_kw(path))
        loss = cuda_glue.cross_entropy(x, cupy.asarray(t), **kw)
        dx = cuda_glue.cross_entropy_backward(1.0, x, cupy.asarray(t), **kw)
        want = _flat(rloss.cross_entropy(x64, t, label_smoothing=0.1),
                     rloss.cross_entropy_backward(1.0, x64, t, label_smoothing=0.1))
        return _flat(_host(loss, path), _host(dx, path)), want, 1001
    yield _case("cross_entropy (+backward)", "(67, 1001) smoothing 0.1", path, ce, 3)

    for n in (96, 1030) if quick else (96, 1030, 9000):
        def ln(g, n=n):
            x, x64 = _cast(rand((37, n), gen=g, low=-2, high=2), path)
            w, w64 = _cast(rand((n,), gen=g, low=0.5, high=1.5), path)
            b, b64 = _cast(rand((n,), gen=g), path)
            go, g64 = _cast(rand((37, n), gen=g), path)
            y, mean, rstd = cuda_glue.row_norm("layer_norm", False, x, n, w, b, 1e-5, return_stats=True, out=None,
                                               **_kw(path))
            grads = cuda_glue.row_norm_backward("layer_norm_backward", False, go, x, n, w, b, 1e-5, mean=mean,
                                                rstd=rstd, **_kw(path))
            want = _flat(rnorm.layer_norm(x64, n, w64, b64), *rnorm.layer_norm_backward(g64, x64, n, w64, b64))
            return _flat(_host(y, path), *(_host(t, path) for t in grads)), want, 4 * n
        yield _case("layer_norm (+backward)", f"(37, {n})", path, ln, 4)

    def rms(g):
        x, x64 = _cast(rand((37, 600), gen=g), path)
        w, w64 = _cast(rand((600,), gen=g), path)
        go, g64 = _cast(rand((37, 600), gen=g), path)
        y = cuda_glue.row_norm("rms_norm", True, x, 600, w, None, 1e-6, return_stats=False, out=None, **_kw(path))
        gx, gw = cuda_glue.row_norm_backward("rms_norm_backward", True, go, x, 600, w, None, 1e-6, mean=None,
                                             rstd=None, **_kw(path))
        want = _flat(rnorm.rms_norm(x64, 600, w64, eps=1e-6), *rnorm.rms_norm_backward(g64, x64, 600, w64, eps=1e-6))
        return _flat(_host(y, path), _host(gx, path), _host(gw, path)), want, 2400
    yield _case("rms_norm (+backward)", "(37, 600)", path, rms, 5)

    def bn(g):
        import cupy

        x, x64 = _cast(rand((8, 6, 9, 11), gen=g, low=-1, high=3), path)
        w, w64 = _cast(rand((6,), gen=g, low=0.5, high=1.5), path)
        b, b64 = _cast(rand((6,), gen=g), path)
        go, g64 = _cast(rand((8, 6, 9, 11), gen=g), path)
        rm, rv = cupy.zeros(6, cupy.float32), cupy.ones(6, cupy.float32)
        y, mean, rstd = cuda_glue.batch_norm(x, rm, rv, w, b, True, 0.1, 1e-5, return_stats=True, **_kw(path))
        grads = cuda_glue.batch_norm_backward(go, x, w, b, None, None, True, 1e-5, mean=mean, rstd=rstd, **_kw(path))
        wy, wrm, wrv = rnorm.batch_norm(x64, np.zeros(6), np.ones(6), w64, b64, True, 0.1, 1e-5)
        want = _flat(wy, wrm, wrv, *rnorm.batch_norm_backward(g64, x64, w64, b64, None, None, True, 1e-5))
        return _flat(_host(y, path), rm.get(), rv.get(), *(_host(t, path) for t in grads)), want, 4 * 792
    yield _case("batch_norm (+backward)", "(8, 6, 9, 11) training", path, bn, 6)

    def emb(g):
        import cupy

        w, w64 = _cast(rand((50, 72), gen=g), path)
        idx = g.integers(0, 50, size=(9, 11)).astype(np.int64)
        go, g64 = _cast(rand((9, 11, 72), gen=g), path)
        y = cuda_glue.embedding(cupy.asarray(idx), w, **_kw(path))
        gw = cuda_glue.embedding_backward(go, cupy.asarray(idx), 50, 0, **_kw(path))
        want = _flat(remb.embedding(idx, w64), remb.embedding_backward(g64, idx, 50, 0))
        return _flat(_host(y, path), _host(gw, path)), want, 8
    yield _case("embedding (+backward)", "idx (9, 11), w (50, 72)", path, emb, 7)

    def drop(g):
        from .. import dropout, dropout_mask

        x32 = rand((17, 133), gen=g)
        x, x64 = _cast(x32, path)
        y = cuda_glue.dropout(x, 0.3, seed=42, offset=3, training=True, return_mask=False, **_kw(path))
        mask = dropout_mask((17, 133), 0.3, seed=42, offset=3)  # the CPU's stream
        if path == "float32":
            return _host(y, path), dropout(x32, 0.3, seed=42, offset=3).astype(np.float64), 1
        return _host(y, path), x64 * mask / 0.7, 1
    yield _case("dropout (CPU stream)", "(17, 133) p=0.3", path, drop, 8)


def _optim() -> Iterator[Case]:
    def adamw(g):
        import cupy

        from ..reference import optimizer as ropt
        p0, m0, v0 = rand((4097,), gen=g), np.zeros(4097, np.float32), np.zeros(4097, np.float32)
        p, m, v = cupy.asarray(p0), cupy.asarray(m0), cupy.asarray(v0)
        want = (p0, m0, v0)
        for step in (1, 2):
            gr = rand((4097,), gen=g)
            cuda_glue.adam_step_("adamw_step_", True, p, cupy.asarray(gr), m, v, step=step, lr=1e-2, beta1=0.9,
                                 beta2=0.999, eps=1e-8, weight_decay=0.1, amsgrad=False, max_exp_avg_sq=None,
                                 maximize=False)
            want = ropt.adamw_step(want[0], gr, want[1], want[2], step=step, lr=1e-2, weight_decay=0.1)[:3]
        return _flat(p.get(), m.get(), v.get()), _flat(*want), 16
    yield _case("adamw_step_", "(4097,) 2 steps", "float32", adamw, 9)


# ---- attention ------------------------------------------------------------------------------------

def _attention(path: str, kernel: str, shape, causal: bool, mask: bool) -> Case:
    B, Hq, Hkv, Lq, Lk, D = shape

    def run(g):
        import cupy

        q, q64 = _cast(rand((B, Hq, Lq, D), gen=g), path)
        k, k64 = _cast(rand((B, Hkv, Lk, D), gen=g), path)
        v, v64 = _cast(rand((B, Hkv, Lk, D), gen=g), path)
        go, g64 = _cast(rand((B, Hq, Lq, D), gen=g), path)
        m = None
        if mask:
            m = np.ones((B, 1, 1, Lk), bool)
            m[0, ..., Lk // 3:] = False
        dm = None if m is None else cupy.asarray(m)
        out, lse = cuda_attention.attention(q, k, v, causal=causal, mask=dm, return_lse=True, kernel=kernel,
                                            **_kw(path))
        grads = cuda_attention.attention_backward(go, q, k, v, out, lse, causal=causal, mask=dm, kernel=kernel,
                                                  **_kw(path))
        wo = rattn.attention(q64, k64, v64, causal=causal, mask=m)
        wg = rattn.attention_backward(g64, q64, k64, v64, causal=causal, mask=m)
        return _flat(_host(out, path), *(_host(t, path) for t in grads)), _flat(wo, *wg), 4 * Lk

    label = f"B{B} Hq{Hq} Hkv{Hkv} Lq{Lq} Lk{Lk} D{D}{' causal' if causal else ''}{' mask' if mask else ''}"
    return _case("attention (+backward)", label, path, run, 10, cuda_attention.last_kernel)


# ---- convolution and pooling -----------------------------------------------------------------------

def _conv(path: str, kernel: str, case) -> Case:
    N, C, H, W, K, R, st, p, groups = case

    def run(g):
        x, x64 = _cast(rand((N, C, H, W), gen=g), path)
        w, w64 = _cast(rand((K, C // groups, R, R), gen=g), path)
        b, b64 = _cast(rand((K,), gen=g), path)
        want = rconv.conv2d(x64, w64, b64, st, p, 1, groups, "relu")
        go, g64 = _cast(rand(want.shape, gen=g), path)
        pads = (p, p, p, p)
        y = cuda_conv.conv2d(x, w, b, (st, st), pads, (1, 1), groups, "relu", want.shape, None, kernel=kernel,
                             **_kw(path))
        grads = cuda_conv.conv2d_backward(go, x, w, b, (st, st), pads, (1, 1), groups, "relu",
                                          kernel="auto" if kernel == "mma_sync" else kernel, **_kw(path))
        wg = rconv.conv2d_backward(g64, x64, w64, b64, st, p, 1, groups, "relu")
        return _flat(_host(y, path), *(_host(t, path) for t in grads)), _flat(want, *wg), 4 * N * H * W

    return _case("conv2d relu (+backward)", f"x ({N},{C},{H},{W}) w ({K},{C // groups},{R},{R}) s{st} p{p} g{groups}",
                 path, run, 11, cuda_conv.last_kernel)


def _pool(path: str) -> Iterator[Case]:
    def maxp(g):
        x, x64 = _cast(rand((3, 5, 13, 14), gen=g), path)
        shape = (3, 5, 7, 7)
        y, ind = cuda_conv.max_pool2d(x, (3, 3), (2, 2), (1, 1), (1, 1), False, shape, True, **_kw(path))
        go, g64 = _cast(rand(shape, gen=g), path)
        gx = cuda_conv.max_pool2d_backward(go, x, ind, (3, 3), (2, 2), (1, 1), (1, 1), False, shape, **_kw(path))
        want = _flat(rpool.max_pool2d(x64, 3, 2, 1), rpool.max_pool2d_backward(g64, x64, None, 3, 2, 1))
        return _flat(_host(y, path), _host(gx, path)), want, 4
    yield _case("max_pool2d (+backward)", "(3, 5, 13, 14) k3 s2 p1", path, maxp, 12)

    def avgp(g):
        x, x64 = _cast(rand((3, 5, 13, 14), gen=g), path)
        shape = (3, 5, 7, 7)
        y = cuda_conv.avg_pool2d(x, (3, 3), (2, 2), (1, 1), False, False, 0, shape, **_kw(path))
        go, g64 = _cast(rand(shape, gen=g), path)
        gx = cuda_conv.avg_pool2d_backward(go, x, (3, 3), (2, 2), (1, 1), False, False, 0, shape, **_kw(path))
        want = _flat(rpool.avg_pool2d(x64, 3, 2, 1, count_include_pad=False),
                     rpool.avg_pool2d_backward(g64, x64, 3, 2, 1, count_include_pad=False))
        return _flat(_host(y, path), _host(gx, path)), want, 9
    yield _case("avg_pool2d (+backward)", "(3, 5, 13, 14) k3 s2 p1", path, avgp, 13)


def cases(device: str, quick: bool) -> Iterator[Case]:
    if device != "cuda":
        return
    from .. import _C_cuda
    import cupy

    have_mma = "mma_sync" in _C_cuda.kernels_for_device(cupy.cuda.runtime.getDevice())
    for path in PATHS:
        yield from _glue(path, quick)
        yield from _pool(path)
    yield from _optim()
    att = [((2, 4, 2, 97, 131, 64), True, False), ((1, 2, 1, 65, 65, 128), False, True)]
    for path in PATHS:
        kernels = ["simt"] + (["mma_sync"] if have_mma and path != "float32" else [])
        for kernel in kernels:
            for shape, causal, mask in att:
                yield _attention(path, kernel, shape, causal, mask)
        if path != "float16" or not quick:
            yield _attention(path, "simt", (1, 2, 2, 33, 40, 40), True, False)
    convs = [(2, 16, 11, 9, 24, 3, 1, 1, 1), (2, 32, 8, 8, 16, 3, 2, 1, 2), (2, 8, 9, 9, 8, 3, 1, 1, 8)]
    for path in PATHS:
        for case in convs:
            kernels = ["auto"] + (["mma_sync"] if have_mma and path != "float32" and case[8] != case[1] else [])
            for kernel in kernels:
                yield _conv(path, kernel, case)
