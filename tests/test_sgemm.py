"""The internal sgemm contract (alpha, beta, bias per row or column, activation, backward
epilogue, serial and threaded schedules) and the basic micro-kernel other families call, on every
ISA path, through the private test bindings."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import _C
from fastnn.reference import activation as ract
from fastnn.testing import assert_close, empty_poisoned, rand, randint


def _oracle(a, b, c, alpha, beta, bias, per_row, act, dy):
    z = alpha * (a.astype(np.float64) @ b.astype(np.float64))
    if beta != 0:
        z = z + beta * c.astype(np.float64)
    if bias is not None:
        z = z + (bias[:, None] if per_row else bias[None, :])
    fwd, bwd = ract.get_activation(act if act != "none" else None)
    return fwd(z) if dy is None else bwd(dy, z)


# (M, N, K) covering the matrix-vector path (M == 1 or N == 1) and every schedule with edges everywhere and K over several KC blocks:
# column (M ≤ 64); row_whole_b (B packed ≤ 4 MiB) with A read in place (≤ 3 column panels) or
# packed; row (B larger: double-buffered KC×NC blocks, several NC blocks when N > 4096).
SHAPES = [(1, 1, 1), (1, 300, 513), (301, 1, 70), (5, 37, 3), (6, 16, 256), (7, 300, 513), (24, 129, 40), (25, 33, 700), (64, 1000, 17),
          (65, 31, 300), (300, 17, 129), (517, 263, 611), (70, 1000, 1100), (70, 4100, 20)]


@pytest.mark.parametrize("m,n,k", SHAPES)
def test_sgemm_alpha_beta_bias(isa, gen, m, n, k):
    a, b = rand((m, k), gen=gen), rand((k, n), gen=gen)
    for serial, alpha, beta, per_row, act in [(False, 1.0, 0.0, False, "none"), (True, 0.5, 1.0, False, "gelu"),
                                              (False, -2.0, 0.25, True, "relu"), (True, 1.0, -1.0, True, "tanh")]:
        c0 = rand((m, n), gen=gen)
        bias = rand((m if per_row else n,), gen=gen)
        c = c0.copy() if beta != 0 else empty_poisoned((m, n))
        _C._sgemm(a, b, c, alpha, beta, bias, per_row, act, None, serial)
        assert_close(c, _oracle(a, b, c0, alpha, beta, bias, per_row, act, None), k=k + 2)


@pytest.mark.parametrize("m,n,k", SHAPES)
def test_sgemm_backward_epilogue(isa, gen, m, n, k):
    a, b = rand((m, k), gen=gen), rand((k, n), gen=gen)
    bias, dy = rand((n,), gen=gen), rand((m, n), gen=gen)
    acts = ["none", "relu", "gelu", "gelu_tanh", "sigmoid", "tanh", "silu"] if m * n < 50000 else ["gelu"]
    for act in acts:
        c = empty_poisoned((m, n))
        _C._sgemm(a, b, c, 1.0, 0.0, bias, False, act, dy.T.copy().T, False)
        assert_close(c, _oracle(a, b, None, 1.0, 0.0, bias, False, act, dy), k=k, name=act)


def test_sgemm_strided_bias_and_output(isa, gen):
    a, b = rand((40, 50), gen=gen), rand((50, 70), gen=gen)
    bias = rand((140,), gen=gen)[::-2]
    big = empty_poisoned((70, 80))
    cc = big[::2, 3:73][:, ::-1]  # rows strided, columns reversed
    _C._sgemm(a[:35], b, cc, 1.0, 0.0, bias, False, "silu", None, False)
    assert_close(cc, _oracle(a[:35], b, None, 1.0, 0.0, bias, False, "silu", None), k=50)
    assert np.isnan(big[1::2]).all()
    # column-major output (unit row stride): the general write-back path
    cf = np.asfortranarray(empty_poisoned((40, 70)))
    _C._sgemm(a, b, cf, 1.0, 0.0, None, False, "none", None, False)
    assert_close(cf, _oracle(a, b, None, 1.0, 0.0, None, False, "none", None), k=50)


def test_sgemm_no_products(isa, gen):
    """K == 0 or alpha == 0: C = epilogue(beta*C), never reading A·B (NaN in A must not leak)."""
    a, b = rand((9, 0), gen=gen), rand((0, 11), gen=gen)
    bias = rand((11,), gen=gen)
    c = rand((9, 11), gen=gen)
    want = _oracle(a, b, c, 1.0, 0.5, bias, False, "sigmoid", None)
    _C._sgemm(a, b, c, 1.0, 0.5, bias, False, "sigmoid", None, False)
    assert_close(c, want)
    a, b = np.full((9, 4), np.nan, np.float32), rand((4, 11), gen=gen)
    c = empty_poisoned((9, 11))
    _C._sgemm(a, b, c, 0.0, 0.0, bias, False, "none", None, False)
    np.testing.assert_array_equal(c, np.broadcast_to(bias, (9, 11)))


def test_sgemm_threads_agree_bitwise(isa, gen):
    """The schedules partition C; each element's K sum runs in one fixed order whatever the threads."""
    a, b = rand((300, 700), gen=gen), rand((700, 301), gen=gen)
    c1, c2 = empty_poisoned((300, 301)), empty_poisoned((300, 301))
    _C._sgemm(a, b, c1, 1.0, 0.0, None, False, "none", None, True)
    _C._sgemm(a, b, c2, 1.0, 0.0, None, False, "none", None, False)
    np.testing.assert_array_equal(c1, c2)


@pytest.mark.parametrize("kc", [1, 3, 4, 256, 257])
def test_basic_ukernel_contract(isa, gen, kc):
    """sgemm_ukernel_for(isa).fn on one full tile: the entry point convolution and attention use."""
    mr, nr = _C._sgemm_tile()

    def aligned(shape):
        raw = np.empty(int(np.prod(shape)) + 16, np.float32)
        off = (-raw.ctypes.data % 64) // 4
        return raw[off:off + int(np.prod(shape))].reshape(shape)

    ap, bp = aligned((kc, mr)), aligned((kc, nr))
    ap[...] = randint((kc, mr), gen=gen)
    bp[...] = randint((kc, nr), gen=gen)
    prod = ap.astype(np.int64).T @ bp.astype(np.int64)
    c = empty_poisoned((mr, nr))
    _C._sgemm_ukernel_basic(ap, bp, c, 1.0, 0.0)
    np.testing.assert_array_equal(c, prod.astype(np.float32))
    c0 = randint((mr, nr), gen=gen)
    ct = np.asfortranarray(c0)  # column-major tile: general strides
    _C._sgemm_ukernel_basic(ap, bp, ct, 2.0, -1.0)
    np.testing.assert_array_equal(ct, (2 * prod - c0.astype(np.int64)).astype(np.float32))


def test_sgemm_tile_names():
    for isa in fastnn.available_isas():
        name = _C.sgemm_kernel_name(isa)
        with fastnn.use_isa(isa):
            mr, nr = _C._sgemm_tile()
        assert name.endswith(f"_{mr}x{nr}")


@pytest.mark.parametrize("la", ["contiguous", "fortran", "strided", "negative"])
@pytest.mark.parametrize("lb", ["contiguous", "fortran", "strided", "negative"])
def test_matrix_vector_layouts(isa, gen, la, lb):
    """M == 1 and N == 1 stream the matrix (dot or axpy kernel by its layout); x may be strided."""
    from fastnn.testing import layouts

    for m, n, k in [(1, 77, 301), (301, 1, 77), (1, 1, 33)]:
        a0, b0 = rand((m, k), gen=gen), rand((k, n), gen=gen)
        a, b = dict(layouts(a0))[la], dict(layouts(b0))[lb]
        bias = rand((n,), gen=gen)
        c = empty_poisoned((m, n))
        _C._sgemm(a, b, c, 1.5, 0.0, bias, False, "gelu", None, False)
        assert_close(c, _oracle(a0, b0, None, 1.5, 0.0, bias, False, "gelu", None), k=k)


# Few rows (M ≤ 2 row tiles) times a row-major B: B streams in blocks of 64 rows × up to 1024
# columns per thread (several column blocks per thread and a partial last block and panel here),
# the next block prefetched while the kernels run.
STREAMED = [(2, 2100, 130), (8, 4100, 200), (12, 1030, 65), (11, 33, 1000), (7, 17, 64), (9, 2049, 63)]


@pytest.mark.parametrize("m,n,k", STREAMED)
def test_sgemm_streamed_b(isa, gen, m, n, k):
    a, b = rand((m, k), gen=gen), rand((k, n), gen=gen)
    bias, c0 = rand((n,), gen=gen), rand((m, n), gen=gen)
    for serial, alpha, beta, act in [(False, 1.0, 0.0, "none"), (True, 0.5, 1.0, "gelu"), (False, -2.0, 0.25, "relu")]:
        c = c0.copy() if beta != 0 else empty_poisoned((m, n))
        _C._sgemm(a, b, c, alpha, beta, bias, False, act, None, serial)
        assert_close(c, _oracle(a, b, c0, alpha, beta, bias, False, act, None), k=k + 2)


@pytest.mark.parametrize("lb", ["strided", "negative"])
def test_sgemm_streamed_b_views(isa, gen, lb):
    """Row-strided and row-reversed B views (unit column stride), into a strided poisoned output."""
    m, n, k = 8, 1500, 150
    a = rand((m, k), gen=gen)
    big = rand((2 * k, n + 9), gen=gen)
    b = big[::2, 5:5 + n] if lb == "strided" else big[k - 1::-1, 3:3 + n]
    out = empty_poisoned((m, 2 * n))
    c = out[:, ::2]
    _C._sgemm(a, b, c, 1.0, 0.0, None, False, "none", None, False)
    assert_close(c, _oracle(a, np.ascontiguousarray(b), None, 1.0, 0.0, None, False, "none", None), k=k)
    assert np.isnan(out[:, 1::2]).all()


def test_sgemm_streamed_b_exact_and_threads(isa, gen):
    """Small integers: exact; one thread and all threads agree bitwise."""
    for m, n, k in [(8, 3000, 300), (3, 2100, 129)]:
        a, b = randint((m, k), gen=gen), randint((k, n), gen=gen)
        c1, c2 = empty_poisoned((m, n)), empty_poisoned((m, n))
        _C._sgemm(a, b, c1, 1.0, 0.0, None, False, "none", None, True)
        _C._sgemm(a, b, c2, 1.0, 0.0, None, False, "none", None, False)
        np.testing.assert_array_equal(c1, (a.astype(np.int64) @ b.astype(np.int64)).astype(np.float32))
        np.testing.assert_array_equal(c1, c2)


@pytest.mark.parametrize("m", [1, 7, 13, 31, 33, 127, 129, 1000])
def test_sgemm_balanced_row_chunks(isa, gen, m):
    """Row schedules split the row tiles evenly among an even number of chunks: every row once."""
    a, b = randint((m, 259), gen=gen), randint((259, 5000), gen=gen)
    c = empty_poisoned((m, 5000))
    _C._sgemm(a, b, c, 1.0, 0.0, None, False, "none", None, False)
    np.testing.assert_array_equal(c, (a.astype(np.int64) @ b.astype(np.int64)).astype(np.float32))
