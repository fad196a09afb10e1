"""WordPiece tokenization through the optional ``tokenizers`` package (``pip install "fastnn[text]"``),
read from a model directory's tokenizer.json.

tokenizer.json files often carry a fixed padding (all-MiniLM-L6-v2's pads every text to 128
tokens) and their own truncation length: both are replaced here, padding is per batch (to its
longest text) and truncation is at ``max_length`` tokens, [CLS] and [SEP] included.
"""
from __future__ import annotations

import os
import pathlib
from typing import Sequence

import numpy as np

INSTALL_HINT = 'pip install "tokenizers>=0.15"  (or: pip install "fastnn[text]")'


def _tokenizers():
    try:
        import tokenizers
    except ImportError:
        raise ImportError(f"fastnn.models.bert needs the 'tokenizers' package to turn text into token ids: "
                          f"{INSTALL_HINT}") from None
    return tokenizers


class Tokenizer:
    """Texts -> token id arrays, truncated to max_length (with [CLS]/[SEP] kept)."""

    def __init__(self, path: str | os.PathLike, max_length: int):
        tokenizers = _tokenizers()
        path = pathlib.Path(path)
        f = path / "tokenizer.json" if path.is_dir() else path
        if not f.is_file():
            raise ValueError(f"Tokenizer: {f} not found (the model directory needs a tokenizer.json)")
        self._tok = tokenizers.Tokenizer.from_file(os.fspath(f))
        self._tok.no_padding()
        self.max_length = int(max_length)
        self._tok.enable_truncation(self.max_length)
        self.pad_id = 0
        pad = self._tok.token_to_id("[PAD]")
        if pad is not None:
            self.pad_id = pad

    def encode(self, texts: Sequence[str]) -> tuple[list[np.ndarray], np.ndarray]:
        """-> (one int64 id array per text, bool array: whether each text was truncated)."""
        encs = self._tok.encode_batch(list(texts))
        ids = [np.asarray(e.ids, dtype=np.int64) for e in encs]
        truncated = np.array([len(e.overflowing) > 0 for e in encs], dtype=bool)
        return ids, truncated

    def pad(self, ids: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Right-pads to the longest: -> (input_ids (B, L), attention_mask (B, L)) int64."""
        L = max(len(x) for x in ids)
        out = np.full((len(ids), L), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(ids), L), dtype=np.int64)
        for i, x in enumerate(ids):
            out[i, :len(x)] = x
            mask[i, :len(x)] = 1
        return out, mask
