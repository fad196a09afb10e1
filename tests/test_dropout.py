"""Dropout: Philox4x32-10 against Random123's known answers and an independent Python model of the
stream; masks identical on every ISA path, thread count, layout and block split; values against
the float64 oracle; statistics; errors."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn.reference import dropout as rdrop
from fastnn.testing import assert_close, empty_poisoned, rand

_C = fastnn._C
M32 = 0xFFFFFFFF


def philox_py(ctr, key):
    """Philox4x32-10 in plain Python integers (independent of the C++ code)."""
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & M32, p1 & M32, ((p0 >> 32) ^ c3 ^ k1) & M32, p0 & M32
        k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
    return c0, c1, c2, c3


def stream_py(seed, offset, i):
    q = (i >> 6) * 16 + (i & 15)
    return philox_py((q & M32, q >> 32, offset & M32, offset >> 32), (seed & M32, seed >> 32))[(i >> 4) & 3]


def threshold(p):
    return int(np.ceil(p * 2.0**32))


KAT = [  # Random123 kat_vectors, philox4x32 10
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((M32,) * 4, (M32,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("ctr,key,want", KAT)
def test_philox_known_answers(ctr, key, want):
    assert tuple(_C.philox4x32_10(list(ctr), list(key))) == want
    assert philox_py(ctr, key) == want


@pytest.mark.parametrize("seed,offset,start", [(0, 0, 0), (42, 7, 1000), (2**64 - 1, 2**63 + 5, 2**40 - 70),
                                               (123456789, 2**32 + 1, 2**36 + 3)])
def test_stream_layout_matches_independent_model(seed, offset, start):
    n = 200
    got = _C.dropout_words(seed, offset, start, n)
    want = [stream_py(seed, offset, start + k) for k in range(n)]
    np.testing.assert_array_equal(got, np.array(want, np.uint32))


@pytest.mark.parametrize("n", [1, 7, 13, 63, 64, 65, 127, 129, 1000, 70_001])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_mask_is_the_stream_on_every_path(isa, gen, n, p):
    x = rand((n,), gen=gen)
    y, mask = fastnn.dropout(x, p, seed=1234, offset=5, return_mask=True)
    keep = _C.dropout_words(1234, 5, 0, n) >= threshold(p)
    np.testing.assert_array_equal(mask, keep)
    assert_close(y, rdrop.dropout_with_mask(x, mask, p))
    np.testing.assert_array_equal(fastnn.dropout_mask((n,), p, seed=1234, offset=5), keep)


def test_same_mask_for_every_isa_thread_count_and_layout(gen):
    shape = (37, 129)
    want = fastnn.dropout_mask(shape, 0.3, seed=99, offset=3)
    x0 = rand(shape, gen=gen)
    n0 = fastnn.get_num_threads()
    try:
        for isa in fastnn.available_isas():
            for threads in (1, 2, 3):
                fastnn.set_num_threads(threads)
                with fastnn.use_isa(isa):
                    for x in (x0, np.asfortranarray(x0), np.ascontiguousarray(x0[::-1])[::-1]):
                        y, m = fastnn.dropout(x, 0.3, seed=99, offset=3, return_mask=True)
                        np.testing.assert_array_equal(m, want)
                        assert_close(y, rdrop.dropout_with_mask(x0, want, 0.3))
    finally:
        fastnn.set_num_threads(n0)


def test_blocks_starting_mid_group(isa, gen):
    """Strided views are processed in segments that start at any flat index."""
    x0 = rand((300, 7), gen=gen)
    big = np.zeros((300, 14), np.float32)
    big[:, ::2] = x0
    y, m = fastnn.dropout(big[:, ::2], 0.4, seed=5, return_mask=True)
    np.testing.assert_array_equal(m, fastnn.dropout_mask((300, 7), 0.4, seed=5))
    assert_close(y, rdrop.dropout_with_mask(x0, m, 0.4))


def test_backward_regenerates_the_mask(isa, gen):
    g = rand((65, 33), gen=gen)
    m = fastnn.dropout_mask(g.shape, 0.25, seed=7, offset=11)
    assert_close(fastnn.dropout_backward(g, 0.25, seed=7, offset=11),
                 rdrop.dropout_with_mask_backward(g, None, m, 0.25))


def test_p_zero_and_one_and_nan(isa, gen):
    x = rand((100,), gen=gen)
    x[3] = np.nan
    x[4] = np.inf
    y, m = fastnn.dropout(x, 0.0, seed=1, return_mask=True)
    assert m.all()
    np.testing.assert_array_equal(y, x)
    y, m = fastnn.dropout(x, 1.0, seed=1, return_mask=True)
    assert not m.any()
    with np.errstate(invalid="ignore"):  # zeros, and NaN for the NaN / inf (x·0), as the oracle
        assert_close(y, rdrop.dropout_with_mask(x, m, 1.0))
        y, m = fastnn.dropout(x, 0.5, seed=1, return_mask=True)
        assert_close(y, rdrop.dropout_with_mask(x, m, 0.5))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_statistics(isa, p):
    n = 1 << 20
    m = fastnn.dropout_mask((n,), p, seed=2024)
    sigma = np.sqrt(p * (1 - p) / n)
    assert abs((1 - m.mean()) - p) < 5 * sigma
    m2 = fastnn.dropout_mask((n,), p, seed=2024, offset=1)  # another stream
    agree = np.mean(m == m2)
    assert abs(agree - (p * p + (1 - p) ** 2)) < 10 * sigma
    m3 = fastnn.dropout_mask((n,), p, seed=2025)
    assert abs(np.mean(m == m3) - (p * p + (1 - p) ** 2)) < 10 * sigma
    # no lane / group structure: the keep rate of each of the 64 positions in a group
    per_pos = m.reshape(-1, 64).mean(axis=0)
    assert np.all(np.abs((1 - per_pos) - p) < 6 * np.sqrt(p * (1 - p) / (n // 64)))


def test_out_in_place_streaming_and_training_false(isa, gen):
    x = rand((1000,), gen=gen)
    x_copy = x.copy()
    m = fastnn.dropout_mask(x.shape, 0.5, seed=3)
    assert fastnn.dropout(x, 0.5, seed=3, out=x) is x
    assert_close(x, rdrop.dropout_with_mask(x_copy, m, 0.5))
    assert fastnn.dropout(x_copy, 0.5, seed=3, training=False) is x_copy
    _C.set_stream_threshold(0)
    try:
        for off in range(0, 16, 5):
            buf = empty_poisoned((1100,))
            y = fastnn.dropout(x_copy, 0.5, seed=3, out=buf[off:off + 1000])
            assert_close(y, rdrop.dropout_with_mask(x_copy, m, 0.5))
            assert np.isnan(buf[:off]).all() and np.isnan(buf[off + 1000:]).all()
    finally:
        _C.set_stream_threshold(-1)


def test_empty_and_0d(isa):
    assert fastnn.dropout(np.zeros((0, 3), np.float32), 0.5, seed=1).shape == (0, 3)
    assert fastnn.dropout_mask((), 0.5, seed=1).shape == ()


def test_bad_arguments():
    x = np.ones(4, np.float32)
    with pytest.raises(ValueError, match=r"dropout: p must be in \[0, 1\], got 1.5"):
        fastnn.dropout(x, 1.5, seed=1)
    with pytest.raises(ValueError, match=r"dropout: p must be in \[0, 1\], got nan"):
        fastnn.dropout(x, float("nan"), seed=1)
    with pytest.raises(TypeError, match="dropout: seed must be an int"):
        fastnn.dropout(x, 0.5, seed=1.0)
    with pytest.raises(ValueError, match=r"dropout: seed must be in \[0, 2\*\*64\)"):
        fastnn.dropout(x, 0.5, seed=-1)
    with pytest.raises(ValueError, match=r"dropout_backward: offset must be in \[0, 2\*\*64\)"):
        fastnn.dropout_backward(x, 0.5, seed=1, offset=2**64)
    with pytest.raises(TypeError, match="dropout: x must be float32"):
        fastnn.dropout(np.ones(4), 0.5, seed=1)
    with pytest.raises(TypeError):
        fastnn.dropout(x, 0.5)  # seed is required


def test_cpp_validates_too():
    x = np.ones(4, np.float32)
    with pytest.raises(ValueError, match=r"dropout: p must be in \[0, 1\]"):
        _C.dropout(x, np.empty_like(x), None, -0.1, 1, 0)
    with pytest.raises(TypeError, match="dropout: mask must be bool or uint8"):
        _C.dropout(x, None, np.ones(4, np.int32), 0.5, 1, 0)
    with pytest.raises(ValueError, match="dropout: mask must have the shape of x"):
        _C.dropout(x, None, np.ones(5, bool), 0.5, 1, 0)
    with pytest.raises(ValueError, match="nothing to write"):
        _C.dropout(x, None, None, 0.5, 1, 0)
