"""Transformer models: an encoder classifier (nn.TransformerEncoderLayer stack) and an
encoder-decoder seq2seq with teacher forcing and greedy decoding."""
from __future__ import annotations

import numpy as np

from ..keras import Model
from ..keras._backend import device_of_module, eval_mode, nn, no_grad, to_array, to_tensor
from .blocks import DecoderBlock, TokenAndPosition


class TransformerClassifier(Model):
    """Token ids (N, L) (with `vocab_size`) or features (N, L, input_size) -> encoder -> mean over
    positions -> Linear logits (N, num_classes)."""

    def __init__(self, num_classes: int, vocab_size: int | None = None, input_size: int | None = None,
                 d_model: int = 32, nhead: int = 4, num_layers: int = 2, dim_feedforward: int = 64,
                 max_len: int = 64, dropout: float = 0.0) -> None:
        super().__init__()
        if (vocab_size is None) == (input_size is None):
            raise ValueError("TransformerClassifier: give exactly one of vocab_size (token ids) or input_size (features)")
        if vocab_size is not None:
            self.embed = TokenAndPosition(vocab_size, max_len, d_model)
            self.proj = None
        else:
            self.proj = nn.Linear(input_size, d_model)
            self.embed = None
            self.pos = nn.Embedding(max_len, d_model)
        self.encoder = nn.ModuleList([
            nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=dim_feedforward, dropout=dropout,
                                       batch_first=True, norm_first=True)
            for _ in range(num_layers)])
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, x):
        if self.embed is not None:
            h = self.embed(x)
        else:
            ids = to_tensor(np.arange(x.shape[1], dtype=np.int64), x.device)
            h = self.proj(x) + self.pos(ids)
        for layer in self.encoder:
            h = layer(h)
        return self.head(self.norm(h).mean(1))


class Seq2SeqTransformer(Model):
    """Encoder-decoder: forward(src (N, Ls) ids, tgt_in (N, Lt) ids) -> logits (N, Lt, tgt_vocab).

    The encoder is nn.TransformerEncoderLayer blocks; the decoder blocks use causal self-attention and
    cross-attention to the encoder output. Train with y = the target shifted left (teacher forcing);
    `generate` decodes greedily from a BOS token."""

    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int = 32, nhead: int = 4, num_layers: int = 2,
                 dim_feedforward: int = 64, max_len: int = 64, dropout: float = 0.0) -> None:
        super().__init__()
        self.src_embed = TokenAndPosition(src_vocab, max_len, d_model)
        self.tgt_embed = TokenAndPosition(tgt_vocab, max_len, d_model)
        self.encoder = nn.ModuleList([
            nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=dim_feedforward, dropout=dropout,
                                       batch_first=True, norm_first=True)
            for _ in range(num_layers)])
        self.enc_norm = nn.LayerNorm(d_model)
        self.decoder = nn.ModuleList([DecoderBlock(d_model, nhead, dim_feedforward, cross=True, dropout=dropout)
                                      for _ in range(num_layers)])
        self.dec_norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, tgt_vocab)

    def encode(self, src):
        h = self.src_embed(src)
        for layer in self.encoder:
            h = layer(h)
        return self.enc_norm(h)

    def decode(self, tgt_in, memory):
        h = self.tgt_embed(tgt_in)
        for block in self.decoder:
            h = block(h, memory)
        return self.head(self.dec_norm(h))

    def forward(self, src, tgt_in):
        return self.decode(tgt_in, self.encode(src))

    def generate(self, src, length: int, bos: int = 1) -> np.ndarray:
        """Greedy decoding of `length` tokens for each row of src (N, Ls): int64 (N, length)."""
        src = np.asarray(src, dtype=np.int64)
        dev = device_of_module(self)
        out = np.full((len(src), 1), bos, dtype=np.int64)
        with no_grad(), eval_mode(self):
            memory = self.encode(to_tensor(src, dev))
            for _ in range(length):
                logits = to_array(self.decode(to_tensor(out, dev), memory))[:, -1]
                out = np.concatenate([out, logits.argmax(-1)[:, None].astype(np.int64)], 1)
        return out[:, 1:]
