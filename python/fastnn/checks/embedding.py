"""Embedding parity cases: lookup (exact) and scatter-add backward with duplicates and padding."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from ..ops.embedding import embedding, embedding_backward
from ..reference import embedding as remb
from ..testing import rand, rng
from . import Case


def _case(V, D, ishape, backward, seed) -> Case:
    def run():
        g = rng(seed)
        idx = g.integers(0, V, ishape)
        if not backward:
            w = rand((V, D), gen=g)
            return embedding(idx, w), remb.embedding(idx, w), 1
        go = rand(ishape + (D,), gen=g)
        k = int(np.bincount(idx.ravel(), minlength=V).max())
        return embedding_backward(go, idx, V, padding_idx=1), remb.embedding_backward(go, idx, V, 1), k

    return Case("embedding_backward" if backward else "embedding", f"V={V} D={D} idx{ishape}", run)


def cases(device: str, quick: bool) -> Iterator[Case]:
    if device != "cpu":
        return
    sizes = [(13, 7, (5, 3)), (100, 129, (64,))] if quick else [
        (13, 7, (5, 3)), (100, 129, (64,)), (50257, 768, (8, 512)), (10, 4096, (4096,))]
    for i, (V, D, ishape) in enumerate(sizes):
        for backward in (False, True):
            yield _case(V, D, ishape, backward, seed=i)
