"""embedding_backward's row scheme: untouched rows zeroed, each touched row's first contribution
written (0 + g) and the rest added, with and without streaming stores, on every ISA path: poisoned
and misaligned outputs, duplicates, padding_idx, -0 gradients, thread counts."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn.reference import embedding as remb
from fastnn.testing import assert_close, rand


@pytest.fixture(params=[False, True], ids=["cached", "streaming"])
def streaming(request):
    fastnn._C.set_stream_threshold(0 if request.param else 1 << 62)
    yield request.param
    fastnn._C.set_stream_threshold(-1)


@pytest.mark.parametrize("V,D", [(13, 1), (50, 7), (64, 129), (300, 768), (9, 40)])
@pytest.mark.parametrize("offset", [0, 3])
def test_poisoned_misaligned_out(isa, gen, streaming, V, D, offset):
    idx = gen.integers(0, V, (3, 17))
    idx[0, :4] = idx[1, 0]  # duplicates, first occurrence not at position 0 of its row
    g = rand((3, 17, D), gen=gen)
    buf = np.full(V * D + offset + 16, np.nan, np.float32)
    gw = buf[offset:offset + V * D].reshape(V, D)
    assert fastnn.embedding_backward(g, idx, V, out=gw) is gw
    assert_close(gw, remb.embedding_backward(g, idx, V), k=int(np.bincount(idx.ravel()).max()))
    untouched = np.setdiff1d(np.arange(V), idx)
    assert (gw[untouched] == 0).all()
    assert np.isnan(buf[:offset]).all() and np.isnan(buf[offset + V * D:]).all()


@pytest.mark.parametrize("padding_idx", [None, 2])
def test_padding_and_negative_zero(isa, gen, streaming, padding_idx):
    V, D = 6, 48
    idx = np.array([2, 3, 3, 5, 2, 0])
    g = rand((6, D), gen=gen)
    g[3, :7] = -0.0  # row 5's only contribution
    got = fastnn.embedding_backward(g, idx, V, padding_idx=padding_idx)
    want = remb.embedding_backward(g, idx, V, padding_idx)
    assert_close(got, want, k=2)
    # a single -0 contribution gives +0, as 0 + (-0) in the zero-then-add definition
    assert not np.signbit(got[5, :7]).any()
    if padding_idx is not None:
        np.testing.assert_array_equal(got[padding_idx], 0.0)
    assert (got[[1, 4]] == 0).all() and not np.signbit(got[[1, 4]]).any()


def test_threads_and_paths_agree(gen, streaming):
    V, D = 500, 256
    idx = gen.integers(0, V, (4000,))
    g = rand((4000, D), gen=gen)
    n0 = fastnn.get_num_threads()
    try:
        res = []
        for t in (1, 2, 3):
            fastnn.set_num_threads(t)
            res.append(fastnn.embedding_backward(g, idx, V))
    finally:
        fastnn.set_num_threads(n0)
    for r in res[1:]:
        np.testing.assert_array_equal(r, res[0])
    assert_close(res[0], remb.embedding_backward(g, idx, V), k=int(np.bincount(idx).max()))
