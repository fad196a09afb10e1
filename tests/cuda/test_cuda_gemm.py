"""CUDA GEMM kernel families against the float64 oracle: every dtype path (f32 SIMT, tf32, f16,
bf16) on every kernel family the device has, odd shapes, all four transpose combinations,
batched / broadcast, column-major output, the fused bias + activation epilogue, linear and
linear_backward. Forced kernels assert (via last_kernel) that the path under test really ran.
Skips with the reason when no GPU is usable."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import reference as ref
from fastnn.ops import cuda_gemm
from fastnn.reference import linear as rlinear
from fastnn.testing import assert_close, rand, tolerance

# (dtype path, kernel family) pairs; a path runs only where the device has the family.
PATHS = [
    ("float32", "simt_general"), ("float32", "simt"),
    ("tf32", "simt_general"), ("tf32", "mma_sync"), ("tf32", "wgmma"),
    ("float16", "simt_general"), ("float16", "mma_sync"), ("float16", "wgmma"),
    ("bfloat16", "simt_general"), ("bfloat16", "mma_sync"), ("bfloat16", "wgmma"),
]
ODD = [(1, 17, 127), (17, 1, 1000), (127, 1000, 17), (1000, 127, 4097), (4097, 17, 127), (257, 4097, 1000)]


def storage_dtype(path):
    return {"float32": np.float32, "tf32": np.float32, "float16": np.float16, "bfloat16": np.uint16}[path]


def rtol(path, k):
    """Output rounding of the path plus FP32 accumulation; tf32 also truncates the inputs."""
    out_eps = {"float32": 0.0, "tf32": 2.0**-7, "float16": 2.0**-10, "bfloat16": 2.0**-7}[path]
    return out_eps + tolerance(np.float32, k)


def exact(x32, path):
    """(host array in the path's storage dtype, its exact float64 values)."""
    if path == "float16":
        h = x32.astype(np.float16)
        return h, h.astype(np.float64)
    if path == "bfloat16":
        h = cuda_gemm.to_bf16_bits(x32)
        return h, cuda_gemm.from_bf16_bits(h).astype(np.float64)
    return x32, x32.astype(np.float64)


def device_matrix(cp, host, *, transpose=False, pad=True):
    """`host` on the GPU; transpose: stored as hostᵀ (so the view is column-major); pad: leading
    dim rounded up to 16 bytes inside a poisoned buffer (the fast kernels' alignment rule)."""
    phys = np.ascontiguousarray(np.swapaxes(host, -1, -2) if transpose else host)
    r, c = phys.shape[-2:]
    vec = 16 // phys.itemsize
    ld = ((c + vec - 1) // vec) * vec if pad else c
    buf = cp.full((*phys.shape[:-1], ld), 0x7FC0 if phys.dtype == np.uint16 else np.nan, dtype=phys.dtype)
    view = buf[..., :c]
    view[...] = cp.asarray(phys)
    return cp.swapaxes(view, -1, -2) if transpose else view


def to_host64(x, path):
    h = x.get() if hasattr(x, "get") else np.asarray(x.cpu())
    return cuda_gemm.from_bf16_bits(h).astype(np.float64) if path == "bfloat16" else h.astype(np.float64)


def call_kw(path, kernel):
    return {"allow_tf32": path == "tf32", "dtype": "bfloat16" if path == "bfloat16" else None, "kernel": kernel}


@pytest.fixture
def kernels(cupy):
    return set(fastnn._C_cuda.kernels_for_device(cupy.cuda.runtime.getDevice()))


def need(kernels, kernel):
    if kernel not in kernels:
        pytest.skip(f"this device/build has no '{kernel}' kernel (has {sorted(kernels)})")


def tag(path):
    return {"float32": "f32", "tf32": "tf32", "float16": "f16", "bfloat16": "bf16"}[path]


# ---- matmul: every path, odd shapes, transposes ------------------------------------------------

@pytest.mark.parametrize("path,kernel", PATHS)
@pytest.mark.parametrize("m,n,k", ODD)
def test_matmul_paths_odd_shapes(cupy, kernels, gen, path, kernel, m, n, k):
    need(kernels, kernel)
    if kernel == "simt_general" and m * n * k > 2e8:
        pytest.skip("the general kernel is the slow fallback; large shapes covered by the fast ones")
    a, a64 = exact(rand((m, k), gen=gen), path)
    b, b64 = exact(rand((k, n), gen=gen), path)
    tf32_wgmma = path == "tf32" and kernel == "wgmma"  # K-contiguous B: the path without repack
    B = device_matrix(cupy, b, transpose=tf32_wgmma)
    got = fastnn.matmul(device_matrix(cupy, a), B, **call_kw(path, kernel))
    assert cuda_gemm.last_kernel().split("+")[0] == f"{kernel}:{tag(path)}"
    assert_close(to_host64(got, path), a64 @ b64, rtol=rtol(path, k))


@pytest.mark.parametrize("path,kernel", [p for p in PATHS if p[1] != "simt_general"])
@pytest.mark.parametrize("ta,tb", [(False, False), (False, True), (True, False), (True, True)])
def test_matmul_transposed_operands(cupy, kernels, gen, path, kernel, ta, tb):
    need(kernels, kernel)
    m, n, k = 129, 263, 200
    a, a64 = exact(rand((m, k), gen=gen), path)
    b, b64 = exact(rand((k, n), gen=gen), path)
    A, B = device_matrix(cupy, a, transpose=ta), device_matrix(cupy, b, transpose=tb)
    kw = call_kw(path, kernel)
    if path == "tf32" and kernel == "wgmma" and ta and not tb:
        with pytest.raises(ValueError, match="K-contiguous"):
            fastnn.matmul(A, B, **kw)
        return
    got = fastnn.matmul(A, B, **kw)
    if path == "tf32" and kernel == "wgmma":  # one M/N-contiguous operand is repacked K-major first
        assert cuda_gemm.last_kernel() == ("wgmma:tf32" if tb and not ta else "wgmma:tf32+repack")
    assert cuda_gemm.last_kernel().split("+")[0] == f"{kernel}:{tag(path)}"
    assert_close(to_host64(got, path), a64 @ b64, rtol=rtol(path, k))


@pytest.mark.parametrize("path,kernel", [p for p in PATHS if p[1] != "simt_general"])
def test_matmul_column_major_out_and_poison(cupy, kernels, gen, path, kernel):
    need(kernels, kernel)
    m, n, k = 70, 130, 96
    a, a64 = exact(rand((m, k), gen=gen), path)
    b, b64 = exact(rand((k, n), gen=gen), path)
    A, B = device_matrix(cupy, a), device_matrix(cupy, b, transpose=True)
    poison = 0x7FC0 if path == "bfloat16" else np.nan
    out = cupy.full((n, m), poison, dtype=storage_dtype(path)).T  # column-major (m, n)
    fastnn.matmul(A, B, out=out, **call_kw(path, kernel))  # computed as Cᵀ = Bᵀ·Aᵀ
    assert cuda_gemm.last_kernel().split("+")[0] == f"{kernel}:{tag(path)}"
    assert_close(to_host64(out, path), a64 @ b64, rtol=rtol(path, k))


@pytest.mark.parametrize("path,kernel", PATHS)
def test_matmul_batched_and_broadcast(cupy, kernels, gen, path, kernel):
    need(kernels, kernel)
    a, a64 = exact(rand((3, 65, 40), gen=gen), path)
    b, b64 = exact(rand((40, 72), gen=gen), path)
    b3, b364 = exact(rand((3, 40, 72), gen=gen), path)
    kw = call_kw(path, kernel)
    tb = path == "tf32" and kernel == "wgmma"  # K-contiguous B: the path without repack
    A = device_matrix(cupy, a)
    got = fastnn.matmul(A, device_matrix(cupy, b, transpose=tb), **kw)  # b broadcast over the batch
    assert cuda_gemm.last_kernel().split("+")[0] == f"{kernel}:{tag(path)}"
    assert_close(to_host64(got, path), a64 @ b64, rtol=rtol(path, 40))
    got = fastnn.matmul(A, device_matrix(cupy, b3, transpose=tb), **kw)
    assert cuda_gemm.last_kernel().split("+")[0] == f"{kernel}:{tag(path)}"
    assert_close(to_host64(got, path), a64 @ b364, rtol=rtol(path, 40))
    # Two batch dims that collapse into one (contiguous (2, 3, ...) operands).
    a4, a464 = exact(rand((2, 3, 33, 24), gen=gen), path)
    b4, b464 = exact(rand((2, 3, 24, 40), gen=gen), path)
    got = fastnn.matmul(device_matrix(cupy, a4), device_matrix(cupy, b4, transpose=tb), **kw)
    assert cuda_gemm.last_kernel().split("+")[0] == f"{kernel}:{tag(path)}"
    assert_close(to_host64(got, path), a464 @ b464, rtol=rtol(path, 24))


def test_auto_selection(cupy, kernels, gen):
    a = cupy.asarray(rand((64, 64), gen=gen))
    fastnn.matmul(a, a)
    assert cuda_gemm.last_kernel() == "simt:f32"  # exact FP32 unless tf32 is allowed
    fastnn.matmul(a, a, allow_tf32=True)  # N-contiguous b, 64 rows: too few to repack b for wgmma
    best = "mma_sync" if "mma_sync" in kernels else "simt"
    assert cuda_gemm.last_kernel().startswith(best)
    fastnn.matmul(a, a.T, allow_tf32=True)  # K-contiguous b: wgmma tf32 takes it as it is
    best = "wgmma" if "wgmma" in kernels else "mma_sync" if "mma_sync" in kernels else "simt"
    assert cuda_gemm.last_kernel().startswith(best)
    if "wgmma" in kernels:
        big = cupy.asarray(rand((2048, 64), gen=gen))
        fastnn.matmul(big, a, allow_tf32=True)  # 2048 rows amortise the K-major repack of b
        assert cuda_gemm.last_kernel() == "wgmma:tf32+repack"
    h = a.astype(cupy.float16)
    fastnn.matmul(h, h)
    best16 = "wgmma" if "wgmma" in kernels else "mma_sync" if "mma_sync" in kernels else "simt_general"
    assert cuda_gemm.last_kernel() == f"{best16}:f16"
    u = cupy.asarray(rand((63, 63), gen=gen))  # 63-float rows: not 16-byte aligned → general kernel
    fastnn.matmul(u, u)
    assert cuda_gemm.last_kernel() == "simt_general:f32"


def test_forced_kernel_errors(cupy, kernels, gen):
    a = cupy.asarray(rand((16, 15), gen=gen))  # 15 floats per row: unaligned
    with pytest.raises(ValueError, match="16-byte"):
        fastnn.matmul(a, a.T, kernel="simt")
    with pytest.raises(ValueError, match="allow_tf32"):
        fastnn.matmul(a, a.T, kernel="mma_sync")
    with pytest.raises(ValueError, match="kernel must be one of"):
        fastnn.matmul(a, a.T, kernel="cublas")
    with pytest.raises(TypeError, match="one dtype"):
        fastnn.matmul(a, a.T.astype(cupy.float16))
    with pytest.raises(TypeError, match="float32, float16 or bfloat16"):
        fastnn.matmul(a.astype(cupy.float64), a.T.astype(cupy.float64))


def test_bf16_torch_tensors(cupy, kernels, gen):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA here")
    a = torch.from_numpy(rand((300, 136), gen=gen)).cuda().bfloat16()
    b = torch.from_numpy(rand((136, 520), gen=gen)).cuda().bfloat16()
    got = fastnn.matmul(a, b)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.bfloat16 and tuple(got.shape) == (300, 520)
    want = a.double().cpu().numpy() @ b.double().cpu().numpy()
    assert_close(got.float().cpu().numpy(), want, rtol=rtol("bfloat16", 136))
    y = cuda_gemm.linear(a, b.T.contiguous(), activation="relu")
    assert isinstance(y, torch.Tensor) and y.dtype == torch.bfloat16
    assert_close(y.float().cpu().numpy(), np.maximum(want, 0), rtol=rtol("bfloat16", 136))


# ---- linear / linear_backward ------------------------------------------------------------------

ACTS = [None, "relu", "gelu", "gelu_tanh", "sigmoid", "tanh", "silu"]
LINEAR_PATHS = [("float32", "simt"), ("tf32", "wgmma"), ("tf32", "mma_sync"), ("bfloat16", "wgmma"),
                ("bfloat16", "mma_sync"), ("float16", "mma_sync"), ("float16", "simt_general")]


@pytest.mark.parametrize("path,kernel", LINEAR_PATHS)
@pytest.mark.parametrize("act", ACTS)
def test_linear_forward_epilogue(cupy, kernels, gen, path, kernel, act):
    need(kernels, kernel)
    x, x64 = exact(rand((5, 37, 136), gen=gen), path)
    w, w64 = exact(rand((72, 136), gen=gen), path)
    bias, b64 = exact(rand((72,), gen=gen), path)
    kw = call_kw(path, kernel)
    y = cuda_gemm.linear(device_matrix(cupy, x), device_matrix(cupy, w), cupy.asarray(bias), act, **kw)
    assert cuda_gemm.last_kernel().split("+")[0] == f"{kernel}:{tag(path)}"
    assert_close(to_host64(y, path), rlinear.linear(x64, w64, b64, act), rtol=rtol(path, 136))


@pytest.mark.parametrize("path,kernel", LINEAR_PATHS)
@pytest.mark.parametrize("act", [None, "relu", "gelu", "silu", "tanh"])
def test_linear_backward(cupy, kernels, gen, path, kernel, act):
    need(kernels, kernel)
    x, x64 = exact(rand((3, 41, 136), gen=gen), path)
    w, w64 = exact(rand((72, 136), gen=gen), path)
    bias, b64 = exact(rand((72,), gen=gen), path)
    g, g64 = exact(rand((3, 41, 72), gen=gen), path)
    if kernel == "wgmma" and path == "tf32":
        kernel = "auto"  # grad_weight = dZᵀ·x has two M/N-major operands: tf32 wgmma cannot take them
    gx, gw, gb = cuda_gemm.linear_backward(device_matrix(cupy, g), device_matrix(cupy, x), device_matrix(cupy, w),
                                           cupy.asarray(bias), act, **call_kw(path, kernel))
    wx, ww, wb = rlinear.linear_backward(g64, x64, w64, b64, act)
    # dZ is rounded to the path's dtype before the two products, as in PyTorch.
    assert_close(to_host64(gx, path), wx, rtol=2 * rtol(path, 72))
    assert_close(to_host64(gw, path), ww, rtol=2 * rtol(path, 123))
    assert_close(to_host64(gb, path), wb, rtol=2 * rtol(path, 123))


def test_linear_errors(cupy, gen):
    x, w = cupy.asarray(rand((4, 8), gen=gen)), cupy.asarray(rand((3, 8), gen=gen))
    with pytest.raises(ValueError, match="activation"):
        cuda_gemm.linear(x, w, None, "softmax")
    with pytest.raises(ValueError, match="features"):
        cuda_gemm.linear(x, w.T, None)
    with pytest.raises(ValueError, match="bias"):
        cuda_gemm.linear(x, w, cupy.zeros(4, cupy.float32))
    with pytest.raises(TypeError, match="one dtype"):
        cuda_gemm.linear(x, w.astype(cupy.float16))
    with pytest.raises(ValueError, match="grad_out"):
        cuda_gemm.linear_backward(cupy.zeros((4, 4), cupy.float32), x, w)
