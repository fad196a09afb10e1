"""all-MiniLM-L6-v2 sentence embeddings: fastnn vs PyTorch on CPU, same thread count, same inputs.

Cases (token counts include [CLS] and [SEP]):
* B32 L~32: 32 texts of 24..40 tokens (mean 32), padded per batch to 40 as sentence-transformers does;
* B32 L32:  32 texts of exactly 32 tokens (no padding: the same work for both);
* B1 L128:  one text of 128 tokens.

Rows per case: ``encoder`` = token ids -> pooled, L2-normalised embeddings (fastnn:
BertModel.infer + pooling; torch: transformers.BertModel under inference_mode + masked mean +
normalize); ``encode`` (B32 L~32 only) = texts -> embeddings end to end, tokenization included
(SentenceEncoder.encode vs SentenceTransformer.encode).

FLOPs count the real (unpadded) tokens only, the same figure for both: per token and layer
2·(4E² + 2EI) for the GEMMs plus 4·n·E for attention over its text's n tokens.

``breakdown`` splits fastnn's encoder time by kernel (cProfile over repeated calls): linear
(GEMM with fused bias/GELU), attention, layer_norm, embedding, and the rest (NumPy scatter /
gather / pooling and Python).
"""
from __future__ import annotations

import cProfile
import os
import pstats
from typing import Any, Callable

import numpy as np

from ..backend import get_num_threads
from .harness import Row, time_interleaved

CASES = [("B32 L~32 (24-40, padded to 40)", 32, (24, 40)), ("B32 L32 (no padding)", 32, (32, 32)),
         ("B1 L128", 1, (128, 128))]


def _texts(model_dir, batch: int, lengths: tuple[int, int], seed: int) -> list[str]:
    """batch texts of whole-word vocabulary entries, lengths[0]..lengths[1] tokens with [CLS]/[SEP]
    (mean of the two), each word one token."""
    words = [w for w in (model_dir / "vocab.txt").read_text(encoding="utf-8").split("\n")[2000:8000]
             if w.isalpha() and w.isascii()]
    rng = np.random.default_rng(seed)
    lo, hi = lengths
    n_tokens = np.linspace(lo, hi, batch).round().astype(int) if batch > 1 else np.array([lo])
    rng.shuffle(n_tokens)
    return [" ".join(rng.choice(words, n - 2)) for n in n_tokens]


def flops(lengths: list[int], E: int = 384, I: int = 1536, layers: int = 6) -> float:
    return float(sum(layers * n * (2 * (4 * E * E + 2 * E * I) + 4 * n * E) for n in lengths))


def _torch():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(get_num_threads())
    return torch


def _setup(quick: bool):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from ..models.bert import SentenceEncoder

    enc = SentenceEncoder()
    torch, ref, st = _torch(), None, None
    if torch is not None:
        try:
            import transformers

            ref = transformers.BertModel.from_pretrained(str(enc.path)).eval()
        except ImportError:
            pass
        try:
            from sentence_transformers import SentenceTransformer

            st = SentenceTransformer(str(enc.path), device="cpu")
        except ImportError:
            pass
    return enc, torch, ref, st


def _fastnn_encoder(enc, ids, mask) -> Callable[[], Any]:
    from ..models.bert import l2_normalize, pool

    def run():
        h, batch = enc.model.infer(ids, mask)
        return l2_normalize(pool(h, batch))
    return run


def _torch_encoder(torch, ref, ids, mask) -> Callable[[], Any]:
    tids, tmask = torch.from_numpy(ids), torch.from_numpy(mask)
    m = tmask.unsqueeze(-1).float()

    def run():
        with torch.inference_mode():
            h = ref(input_ids=tids, attention_mask=tmask).last_hidden_state
            return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1)
    return run


def run(quick: bool = False) -> list[Row]:
    enc, torch, ref, st = _setup(quick)
    targs = dict(rounds=3, min_runs=6, min_time=0.6, max_runs=60) if quick else \
        dict(rounds=5, min_runs=15, min_time=3.0, max_runs=200)
    rows: list[Row] = []
    for label, B, lengths in CASES:
        texts = _texts(enc.path, B, lengths, seed=B + lengths[0])
        ids_list = enc.tokenize(texts)
        assert sorted(len(x) for x in ids_list) == sorted(
            (np.linspace(*lengths, B).round().astype(int) if B > 1 else np.array([lengths[0]])).tolist())
        ids, mask = enc.tokenizer.pad(ids_list)
        f = flops([len(x) for x in ids_list])
        fns = {"fastnn": _fastnn_encoder(enc, ids, mask)}
        if ref is not None:
            fns["torch"] = _torch_encoder(torch, ref, ids, mask)
            ours, theirs = fns["fastnn"](), fns["torch"]().numpy()
            assert np.abs(ours - theirs).max() < 1e-4, "fastnn and torch disagree: not timing different work"
        for impl, t in time_interleaved(fns, **targs).items():
            rows.append(Row("minilm", "encoder", label, impl, t, flops=f))
        if B == 32 and lengths[0] != lengths[1]:
            fns = {"fastnn": lambda: enc.encode(texts, batch_size=32)}
            if st is not None:
                fns["torch"] = lambda: st.encode(texts, batch_size=32, convert_to_numpy=True)
            for impl, t in time_interleaved(fns, **targs).items():
                rows.append(Row("minilm", "encode (texts, sentence-transformers)", label, impl, t, flops=f))
    return rows


def breakdown(case: int = 0, runs: int = 20) -> list[tuple[str, float, float]]:
    """fastnn encoder time by part for CASES[case]: [(part, ms per call, share)]."""
    from ..models.bert import SentenceEncoder, l2_normalize, pool

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    enc = SentenceEncoder()
    label, B, lengths = CASES[case]
    ids, mask = enc.tokenizer.pad(enc.tokenize(_texts(enc.path, B, lengths, seed=B + lengths[0])))

    def call():
        h, batch = enc.model.infer(ids, mask)
        return l2_normalize(pool(h, batch))

    for _ in range(3):
        call()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(runs):
        call()
    prof.disable()
    stats = pstats.Stats(prof).stats
    total = max(v[3] for v in stats.values())  # cumulative time of the outermost call
    parts = {"linear (GEMM + fused bias/GELU)": "linear", "attention": "attention_forward",
             "layer_norm": "layer_norm", "embedding": "embedding"}
    out, used = [], 0.0
    for name, fn in parts.items():
        t = sum(v[2] for k, v in stats.items() if k[2] == f"<built-in method fastnn._C.{fn}>")
        used += t
        out.append((name, 1e3 * t / runs, t / total))
    out.append(("rest: NumPy scatter/gather/adds/pooling + Python", 1e3 * (total - used) / runs, (total - used) / total))
    return out


def gelu_cost(rows: int = 1024, runs: int = 30) -> dict[str, float]:
    """Median ms of the FFN's first GEMM (rows x 384 -> 1536) with and without the fused GELU."""
    from ..ops.linear import linear
    from ..testing import rand

    x, w, b = rand((rows, 384)), rand((1536, 384)), rand((1536,))
    t = time_interleaved({"gelu": lambda: linear(x, w, b, activation="gelu"), "none": lambda: linear(x, w, b)},
                         rounds=3, min_runs=runs, min_time=0.5)
    return {k: v.median * 1e3 for k, v in t.items()}
