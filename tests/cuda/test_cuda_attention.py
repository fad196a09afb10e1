"""CUDA flash attention (forward and backward) against the float64 oracle
(fastnn.reference.attention): tensor-core kernels (mma_sync, bf16 / f16, D = 64 / 128) and the
general SIMT kernels (float32 and any D ≤ 256, any strides), causal (bottom-right aligned) and not,
bool / additive / key-padding masks, GQA / MQA, Lq != Lk (including rows that see no key), awkward
lengths. Forced kernels are checked with last_kernel(). Skips with the reason when no GPU is usable."""
from __future__ import annotations

import numpy as np
import pytest
from cuda_paths import exact, host64, kw, rtol

import fastnn
from fastnn.ops import cuda_attention
from fastnn.reference import attention as rattn
from fastnn.testing import assert_close, rand

# (path, kernel)
PATHS = [("float32", "simt"), ("float16", "simt"), ("bfloat16", "simt"), ("float16", "mma_sync"),
         ("bfloat16", "mma_sync")]
# (B, Hq, Hkv, Lq, Lk, D, Dv)
FAST_SHAPES = [(2, 4, 2, 97, 97, 64, 64), (1, 2, 1, 33, 129, 128, 128), (2, 3, 3, 129, 65, 64, 64),
               (1, 4, 1, 1, 257, 128, 128), (1, 1, 1, 200, 200, 128, 128)]
GENERAL_SHAPES = [(2, 2, 1, 37, 41, 40, 24), (1, 1, 1, 17, 19, 256, 256), (1, 2, 2, 5, 7, 1, 3)]


def tag(path):
    return {"float32": "f32", "float16": "f16", "bfloat16": "bf16"}[path]


@pytest.fixture
def mma_ok(cupy):
    """Whether this build and device run the tensor-core kernels (sm_80+ machine code)."""
    return "mma_sync" in fastnn._C_cuda.kernels_for_device(cupy.cuda.runtime.getDevice())


def make(gen, path, shape):
    B, Hq, Hkv, Lq, Lk, D, Dv = shape
    q, q64 = exact(rand((B, Hq, Lq, D), gen=gen), path)
    k, k64 = exact(rand((B, Hkv, Lk, D), gen=gen), path)
    v, v64 = exact(rand((B, Hkv, Lk, Dv), gen=gen), path)
    g, g64 = exact(rand((B, Hq, Lq, Dv), gen=gen), path)
    return (q, k, v, g), (q64, k64, v64, g64)


def run(cupy, path, kernel, arrays, causal, mask_dev):
    q, k, v, g = (cupy.asarray(a) for a in arrays)
    out, lse = cuda_attention.attention(q, k, v, causal=causal, mask=mask_dev, return_lse=True, kernel=kernel,
                                        **kw(path))
    assert cuda_attention.last_kernel().startswith(f"{kernel}:{tag(path)}")
    grads = cuda_attention.attention_backward(g, q, k, v, out, lse, causal=causal, mask=mask_dev, kernel=kernel,
                                              **kw(path))
    assert cuda_attention.last_kernel().startswith(f"{kernel}:{tag(path)}")
    return out, lse, grads


def check(path, got, want_out, want_lse, want_grads, D, Lk):
    out, lse, (dq, dk, dv) = got
    slack = 1.0 if path == "float32" else 2.0
    assert_close(host64(out, path), want_out, rtol=rtol(path, Lk, slack), name="out")
    assert_close(lse.get(), want_lse, rtol=rtol("float32", D + Lk, 2), name="lse")
    for got_g, want_g, name in zip((dq, dk, dv), want_grads, ("dq", "dk", "dv")):
        assert_close(host64(got_g, path), want_g, rtol=rtol(path, Lk, 2 * slack), name=name)


@pytest.mark.parametrize("path,kernel", PATHS)
@pytest.mark.parametrize("shape", FAST_SHAPES)
@pytest.mark.parametrize("causal", [False, True])
def test_attention_fast_shapes(cupy, mma_ok, gen, path, kernel, shape, causal):
    if kernel == "mma_sync" and not mma_ok:
        pytest.skip("mma_sync needs compute capability 8.0+")
    arrays, a64 = make(gen, path, shape)
    got = run(cupy, path, kernel, arrays, causal, None)
    out, lse = rattn.attention(*a64[:3], causal=causal, return_lse=True)
    grads = rattn.attention_backward(a64[3], *a64[:3], causal=causal)
    check(path, got, out, lse, grads, shape[5], shape[4])


@pytest.mark.parametrize("path", ["float32", "bfloat16"])
@pytest.mark.parametrize("shape", GENERAL_SHAPES)
@pytest.mark.parametrize("causal", [False, True])
def test_attention_general_head_dims(cupy, gen, path, shape, causal):
    arrays, a64 = make(gen, path, shape)
    got = run(cupy, path, "simt", arrays, causal, None)
    out, lse = rattn.attention(*a64[:3], causal=causal, return_lse=True)
    grads = rattn.attention_backward(a64[3], *a64[:3], causal=causal)
    check(path, got, out, lse, grads, shape[5], shape[4])


MASKS = ["key_padding", "bool_full", "additive"]


def make_mask(gen, kind, B, Hq, Lq, Lk):
    if kind == "key_padding":
        m = np.ones((B, 1, 1, Lk), bool)
        m[0, ..., Lk // 2:] = False
        m[-1, ..., :3] = False
        return m
    if kind == "bool_full":
        m = gen.random((B, Hq, Lq, Lk)) > 0.3
        m[:, :, 0, :] = False  # a row with every key masked: zeros, lse = -inf
        return m
    return (gen.standard_normal((Lq, Lk)) * 2).astype(np.float32)


@pytest.mark.parametrize("path,kernel", PATHS)
@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("causal", [False, True])
def test_attention_masks(cupy, mma_ok, gen, path, kernel, mask_kind, causal):
    if kernel == "mma_sync" and not mma_ok:
        pytest.skip("mma_sync needs compute capability 8.0+")
    shape = (2, 4, 2, 70, 130, 64, 64)
    B, Hq, _, Lq, Lk, D, _ = shape
    arrays, a64 = make(gen, path, shape)
    mask = make_mask(gen, mask_kind, B, Hq, Lq, Lk)
    got = run(cupy, path, kernel, arrays, causal, cupy.asarray(mask))
    out, lse = rattn.attention(*a64[:3], causal=causal, mask=mask, return_lse=True)
    grads = rattn.attention_backward(a64[3], *a64[:3], causal=causal, mask=mask)
    check(path, got, out, lse, grads, D, Lk)


def test_attention_public_api_strided_views_and_auto(cupy, gen, mma_ok):
    B, L, H, D = 2, 45, 4, 64
    qkv = rand((B, L, 3, H, D), gen=gen)
    dev = cupy.asarray(qkv)
    q, k, v = (dev[:, :, i].transpose(0, 2, 1, 3) for i in range(3))  # fused projection views
    out = fastnn.attention(q, k, v, causal=True)
    assert cuda_attention.last_kernel() == "simt:f32:d64"
    q64, k64, v64 = (qkv[:, :, i].transpose(0, 2, 1, 3).astype(np.float64) for i in range(3))
    assert_close(out.get(), rattn.attention(q64, k64, v64, causal=True), k=L)
    h = dev.astype(cupy.float16)
    qh, kh, vh = (h[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
    fastnn.attention(qh, kh, vh)  # 16-byte aligned rows with unit stride along D: tensor cores
    assert cuda_attention.last_kernel() == ("mma_sync:f16:d64" if mma_ok else "simt:f16:d64")
    with pytest.raises(ValueError, match="kernel 'mma_sync' cannot run this problem: float32"):
        fastnn.attention(q, k, v, kernel="mma_sync")
    with pytest.raises(ValueError, match="head dims D = Dv = 64 or 128 only"):
        fastnn.attention(qh[..., :48], kh[..., :48], vh[..., :48], kernel="mma_sync")


def test_attention_torch_bf16(cupy, gen):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA here")
    q = torch.from_numpy(rand((1, 2, 50, 128), gen=gen)).cuda().bfloat16()
    out = fastnn.attention(q, q, q, causal=True)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.bfloat16
    q64 = q.double().cpu().numpy()
    assert_close(out.float().cpu().numpy(), rattn.attention(q64, q64, q64, causal=True), rtol=rtol("bfloat16", 50, 2))


def test_attention_scale_and_empty(cupy, gen):
    q = cupy.asarray(rand((1, 1, 9, 16), gen=gen))
    out = fastnn.attention(q, q, q, scale=0.37)
    q64 = q.get().astype(np.float64)
    assert_close(out.get(), rattn.attention(q64, q64, q64, scale=0.37), k=9)
    empty = cupy.zeros((1, 1, 0, 16), cupy.float32)
    assert fastnn.attention(empty, q, q).shape == (1, 1, 0, 16)
    o, lse = fastnn.attention(q, empty, empty, return_lse=True)  # no keys at all
    assert float(cupy.abs(o).max()) == 0.0 and bool(cupy.isneginf(lse).all())
