"""Dropout parity cases: the kernel's mask must be the scalar reference stream bit for bit (the
max-relative-error column then reads 0), and the values must match the float64 oracle on it."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from .._ext import _C
from ..ops.dropout import dropout, dropout_backward
from ..reference import dropout as rdrop
from ..testing import rand, rng
from . import Case


def _case(shape, p, backward, seed) -> Case:
    def run():
        x = rand(shape, gen=rng(seed))
        n = x.size
        keep = (_C.dropout_words(seed, 3, 0, n) >= int(np.ceil(p * 2.0**32))).reshape(shape)
        if backward:
            return dropout_backward(x, p, seed=seed, offset=3), rdrop.dropout_with_mask_backward(x, None, keep, p), 1
        y, mask = dropout(x, p, seed=seed, offset=3, return_mask=True)
        if not np.array_equal(mask, keep):  # a wrong mask must fail even where values would agree
            return np.full(shape, np.nan, np.float32), np.zeros(shape), 1
        return y, rdrop.dropout_with_mask(x, keep, p), 1

    return Case("dropout_backward" if backward else "dropout", f"{shape} p={p}", run)


def cases(device: str, quick: bool) -> Iterator[Case]:
    if device != "cpu":
        return
    shapes = [(7,), (129, 33)] if quick else [(7,), (129, 33), (1000, 257), (1 << 20,)]
    for i, shape in enumerate(shapes):
        for p in (0.1, 0.5):
            for backward in (False, True):
                yield _case(shape, p, backward, seed=i + 1)
