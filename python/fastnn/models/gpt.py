"""A character-level GPT: token + position embeddings, pre-norm causal transformer blocks,
a linear head to next-character logits, and sampling."""
from __future__ import annotations

import numpy as np

from ..keras import Model
from ..keras._backend import device_of_module, eval_mode, nn, no_grad, to_array, to_tensor
from .blocks import DecoderBlock, TokenAndPosition


class CharGPT(Model):
    """forward(ids (N, L), L <= block_size) -> logits (N, L, vocab_size) for the next token at each position.

    Train with x = ids[:, :-1], y = ids[:, 1:] and
    loss=SparseCategoricalCrossentropy(from_logits=True) (see `fastnn.datasets.char_windows`)."""

    def __init__(self, vocab_size: int, block_size: int = 64, d_model: int = 64, nhead: int = 4,
                 num_layers: int = 2, dim_feedforward: int | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        self.block_size = block_size
        self.embed = TokenAndPosition(vocab_size, block_size, d_model)
        self.blocks = nn.ModuleList([DecoderBlock(d_model, nhead, dim_feedforward or 4 * d_model, dropout=dropout)
                                     for _ in range(num_layers)])
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, ids):
        h = self.embed(ids)
        for block in self.blocks:
            h = block(h)
        return self.head(self.norm(h))

    def generate(self, prompt_ids, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 seed: int | None = None) -> np.ndarray:
        """Sample `max_new_tokens` continuing `prompt_ids` ((L,) or (N, L) int): returns the ids with the
        continuation appended. temperature -> 0 approaches greedy; top_k keeps the k likeliest."""
        if temperature <= 0:
            raise ValueError(f"generate: temperature must be > 0, got {temperature}")
        ids = np.atleast_2d(np.asarray(prompt_ids, dtype=np.int64))
        if ids.shape[1] == 0:
            raise ValueError("generate: the prompt needs at least one token")
        rng = np.random.default_rng(seed)
        dev = device_of_module(self)
        with no_grad(), eval_mode(self):
            for _ in range(max_new_tokens):
                window = ids[:, -self.block_size:]
                logits = to_array(self(to_tensor(window, dev)))[:, -1].astype(np.float64) / temperature
                if top_k is not None:
                    kth = np.sort(logits, -1)[:, -min(top_k, logits.shape[-1])][:, None]
                    logits = np.where(logits < kth, -np.inf, logits)
                p = np.exp(logits - logits.max(-1, keepdims=True))
                p /= p.sum(-1, keepdims=True)
                nxt = np.array([rng.choice(p.shape[-1], p=row) for row in p], dtype=np.int64)
                ids = np.concatenate([ids, nxt[:, None]], 1)
        return ids if np.ndim(prompt_ids) == 2 else ids[0]
