"""Transformer building blocks shared by the GPT and the seq2seq decoder: multi-head attention over
fastnn's attention kernel, and pre-norm decoder blocks."""
from __future__ import annotations

import numpy as np

from ..keras._backend import F, attention, nn, to_tensor


class MultiHeadAttention(nn.Module):
    """Multi-head attention: (N, Lq, d_model) queries attend to (N, Lk, d_model) keys/values."""

    def __init__(self, d_model: int, nhead: int, causal: bool = False) -> None:
        super().__init__()
        if d_model % nhead:
            raise ValueError(f"MultiHeadAttention: d_model ({d_model}) must be divisible by nhead ({nhead})")
        self.nhead, self.causal = nhead, causal
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)

    def _heads(self, x, n, length):  # (N, L, H*D) -> (N, H, L, D)
        return x.reshape(n, length, self.nhead, -1).transpose(1, 2)

    def forward(self, x, context=None):
        context = x if context is None else context
        n, lq, d = x.shape
        lk = context.shape[1]
        q = self._heads(self.q(x), n, lq)
        k, v = self._heads(self.k(context), n, lk), self._heads(self.v(context), n, lk)
        y = attention(q, k, v, causal=self.causal)  # (N, H, Lq, D)
        return self.out(y.transpose(1, 2).reshape(n, lq, d))


class FeedForward(nn.Module):
    def __init__(self, d_model: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d_model, hidden)
        self.fc2 = nn.Linear(hidden, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return self.drop(self.fc2(F.gelu(self.fc1(x))))


class DecoderBlock(nn.Module):
    """Pre-norm block: causal self-attention, optional cross-attention to `memory`, feed-forward."""

    def __init__(self, d_model: int, nhead: int, ff: int, cross: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.self_attn = MultiHeadAttention(d_model, nhead, causal=True)
        self.ln_x = nn.LayerNorm(d_model) if cross else None
        self.cross_attn = MultiHeadAttention(d_model, nhead) if cross else None
        self.ln2 = nn.LayerNorm(d_model)
        self.ff = FeedForward(d_model, ff, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, memory=None):
        x = x + self.drop(self.self_attn(self.ln1(x)))
        if self.cross_attn is not None:
            x = x + self.drop(self.cross_attn(self.ln_x(x), memory))
        return x + self.ff(self.ln2(x))


class TokenAndPosition(nn.Module):
    """Token embedding plus a learned position embedding: (N, L) ids -> (N, L, d_model)."""

    def __init__(self, vocab_size: int, max_len: int, d_model: int) -> None:
        super().__init__()
        self.max_len = max_len
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(max_len, d_model)

    def forward(self, ids):
        length = ids.shape[1]
        if length > self.max_len:
            raise ValueError(f"sequence length {length} exceeds max_len {self.max_len}")
        return self.tok(ids) + self.pos(to_tensor(np.arange(length, dtype=np.int64), ids.device))
