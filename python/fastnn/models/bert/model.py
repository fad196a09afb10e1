"""BERT encoder (post-norm, absolute positions) as fastnn.nn modules with two ways to run the same
weights:

* ``forward`` (autograd): Tensors through nn.Linear / nn.LayerNorm / nn.Embedding and the fused
  attention kernel's differentiable Function, on the padded (B, L) grid; used for fine-tuning.
* ``infer`` (inference fast path, no tape): the same Parameters' arrays straight into the
  kernels (fastnn.linear with the bias and GELU fused into the GEMM epilogue, fastnn.attention
  with a key-padding mask, fastnn.layer_norm in place). Padding tokens are dropped before the
  first GEMM ("unpadding"): every linear layer and layer norm runs on the real tokens only, and
  only attention sees the padded grid (a scatter of the fused Q/K/V rows, one mask).

``forward`` takes the fast path by itself wherever no gradient is needed: everything under
``no_grad``, and in training the leading stages whose parameters are all frozen and that are in
eval mode (dropout off), so a classifier on a frozen encoder records a tape for its head only.

Parameter names follow the fused layout (one (3E, E) QKV weight per layer); see loading.py for
the mapping from Hugging Face checkpoints.

Shapes: B sentences, L padded length, T real tokens (T <= B·L), E hidden, H heads, D = E / H,
I intermediate.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ... import nn
from ...autograd.grad_mode import is_grad_enabled
from ...nn import functional as F
from ...ops.attention import attention
from ...ops.embedding import embedding
from ...ops.linear import linear
from ...ops.norm import layer_norm
from ...tensor import Tensor
from .config import BertConfig


class Batch:
    """Where the rows of a hidden-state array sit on the (B, L) token grid of one batch.

    rows: flat indices into the B·L grid of the rows that are computed (the tokens whose
    attention_mask is 1), or None when every grid position is a row (no padding, or the padded
    layout of the autograd path). keep: key-padding mask (B, 1, 1, L), True = attend, or None.
    """

    __slots__ = ("B", "L", "rows", "keep", "_bl", "_qkv")

    def __init__(self, B: int, L: int, rows: np.ndarray | None, keep: np.ndarray | None):
        self.B, self.L, self.rows, self.keep = B, L, rows, keep
        self._bl = None if rows is None else np.divmod(rows, L)  # (batch index, position) of each row
        self._qkv = None

    @classmethod
    def from_mask(cls, attention_mask: np.ndarray, packed: bool = True) -> "Batch":
        """attention_mask (B, L) of 0/1: packed=True keeps only the real tokens as rows."""
        B, L = attention_mask.shape
        valid = attention_mask.astype(bool, copy=False)
        if valid.all():
            return cls(B, L, None, None)
        keep = valid.reshape(B, 1, 1, L)
        return cls(B, L, np.flatnonzero(valid) if packed else None, keep)

    @property
    def num_rows(self) -> int:
        return self.B * self.L if self.rows is None else len(self.rows)

    def to_grid(self, qkv: np.ndarray) -> np.ndarray:
        """qkv (rows, 3E) -> (B·L, 3E) with the rows in place; padding rows stay zero (finite, so
        a masked key's zero probability times its value is exactly zero)."""
        if self.rows is None:
            return qkv
        if self._qkv is None or self._qkv.shape[1] != qkv.shape[1]:
            self._qkv = np.zeros((self.B * self.L, qkv.shape[1]), np.float32)
        self._qkv[self.rows] = qkv
        return self._qkv

    def from_grid(self, o: np.ndarray, E: int) -> np.ndarray:
        """o (B, L, H, D) (any strides) -> (rows, E), contiguous."""
        if self.rows is None:
            return o.reshape(self.B * self.L, E)  # copies a non-contiguous view
        b, pos = self._bl
        return o[b, pos].reshape(len(b), E)


class _Linear(nn.Linear):
    """nn.Linear left uninitialised: BertModel initialises (or loads) every weight itself, and a
    30522-row vocabulary is not worth filling with random numbers only to overwrite them."""

    def reset_parameters(self) -> None:
        pass


class _Embedding(nn.Embedding):
    def reset_parameters(self) -> None:
        pass


class BertEmbeddings(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        E = config.hidden_size
        self.word_embeddings = _Embedding(config.vocab_size, E)
        self.position_embeddings = _Embedding(config.max_position_embeddings, E)
        self.token_type_embeddings = _Embedding(config.type_vocab_size, E)
        self.LayerNorm = nn.LayerNorm(E, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: np.ndarray, token_type_ids: np.ndarray) -> Tensor:
        """ids (B, L) -> (B, L, E), autograd."""
        B, L = input_ids.shape
        pos = np.broadcast_to(np.arange(L, dtype=np.int64), (B, L))
        e = self.word_embeddings(input_ids) + self.position_embeddings(pos) + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(e))

    def infer(self, input_ids: np.ndarray, token_type_ids: np.ndarray, batch: Batch) -> np.ndarray:
        """ids (B, L) -> (rows, E), no tape."""
        L = batch.L
        if batch.rows is None:
            tok, typ = input_ids.reshape(-1), token_type_ids.reshape(-1)
            pos = np.tile(np.arange(L, dtype=np.int64), batch.B)
        else:
            tok, typ = input_ids.reshape(-1)[batch.rows], token_type_ids.reshape(-1)[batch.rows]
            pos = batch._bl[1]
        h = embedding(tok, self.word_embeddings.weight.data)
        h += self.position_embeddings.weight.data[pos]
        h += self.token_type_embeddings.weight.data[typ]
        ln = self.LayerNorm
        return layer_norm(h, ln.normalized_shape, ln.weight.data, ln.bias.data, ln.eps, out=h)


class BertLayer(nn.Module):
    """Post-norm encoder layer: a = LN(x + Wo·attn(Wqkv·x)); y = LN(a + W2·act(W1·a))."""

    def __init__(self, config: BertConfig):
        super().__init__()
        E, I = config.hidden_size, config.intermediate_size
        self.num_heads = config.num_attention_heads
        self.qkv = _Linear(E, 3 * E)                                      # rows: [query; key; value]
        self.attn_out = _Linear(E, E)
        self.attn_norm = nn.LayerNorm(E, eps=config.layer_norm_eps)
        self.ffn_in = _Linear(E, I, activation=config.activation)       # bias + activation fused
        self.ffn_out = _Linear(I, E)
        self.ffn_norm = nn.LayerNorm(E, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x: Tensor, keep: np.ndarray | None) -> Tensor:
        """x (B, L, E) -> (B, L, E), autograd; keep (B, 1, 1, L) bool key mask or None."""
        B, L, E = x.shape
        H = self.num_heads
        q, k, v = self.qkv(x).split([E, E, E], -1)

        def heads(t: Tensor) -> Tensor:  # (B, L, E) -> (B, H, L, D)
            return t.reshape(B, L, H, E // H).permute(0, 2, 1, 3)

        o = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), attn_mask=keep)
        o = o.permute(0, 2, 1, 3).reshape(B, L, E)
        a = self.attn_norm(self.dropout(self.attn_out(o)) + x)
        return self.ffn_norm(self.dropout(self.ffn_out(self.ffn_in(a))) + a)

    def infer(self, x: np.ndarray, batch: Batch) -> np.ndarray:
        """x (rows, E) -> (rows, E), no tape; x is not modified."""
        E = x.shape[1]
        H = self.num_heads
        B, L = batch.B, batch.L
        qkv = batch.to_grid(linear(x, self.qkv.weight.data, self.qkv.bias.data))          # (B·L, 3E)
        g = qkv.reshape(B, L, 3, H, E // H)
        q, k, v = (g[:, :, i].transpose(0, 2, 1, 3) for i in range(3))                    # (B, H, L, D) views
        o = attention(q, k, v, mask=batch.keep)                                            # (B, H, L, D)
        ctx = batch.from_grid(o.transpose(0, 2, 1, 3), E)                                  # (rows, E)
        a = linear(ctx, self.attn_out.weight.data, self.attn_out.bias.data)
        a += x
        n = self.attn_norm
        layer_norm(a, n.normalized_shape, n.weight.data, n.bias.data, n.eps, out=a)
        f = linear(a, self.ffn_in.weight.data, self.ffn_in.bias.data, activation=self.ffn_in.activation)
        y = linear(f, self.ffn_out.weight.data, self.ffn_out.bias.data)
        y += a
        n = self.ffn_norm
        return layer_norm(y, n.normalized_shape, n.weight.data, n.bias.data, n.eps, out=y)


def _needs_tape(module: nn.Module, x: Any = None) -> bool:
    """Whether running module must record a graph: grad mode on and an input or a parameter
    requires a gradient, or it is in training mode with dropout (the fast path has none)."""
    if not is_grad_enabled():
        return False
    if isinstance(x, Tensor) and x.requires_grad:
        return True
    if any(p.requires_grad for p in module.parameters()):
        return True
    return module.training and any(isinstance(m, nn.Dropout) and m.p > 0 for m in module.modules())


def _ids(fn: str, name: str, a: Any, shape: tuple | None, high: int) -> np.ndarray:
    a = a.data if isinstance(a, Tensor) else a
    a = np.asarray(a)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{fn}: {name} must hold integers, got {a.dtype}")
    if a.ndim != 2 or (shape is not None and a.shape != shape):
        want = "(batch, length)" if shape is None else str(shape)
        raise ValueError(f"{fn}: {name} must have shape {want}, got {a.shape}")
    if a.size and (a.min() < 0 or a.max() >= high):
        raise ValueError(f"{fn}: {name} values must be in [0, {high}), got [{a.min()}, {a.max()}]")
    return a.astype(np.int64, copy=False)


class BertModel(nn.Module):
    """The encoder: token ids -> last hidden state. Load pretrained weights with
    :func:`fastnn.models.bert.load_bert`; init=False leaves the weights uninitialised (for loading)."""

    def __init__(self, config: BertConfig, init: bool = True):
        super().__init__()
        if not isinstance(config, BertConfig):
            raise TypeError(f"BertModel: config must be a BertConfig, got {type(config).__name__}")
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.layers = nn.ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])
        if init:
            self.init_weights()

    def init_weights(self) -> None:
        """BERT's initialisation: linear and embedding weights ~ N(0, initializer_range), biases 0,
        layer norms weight 1 and bias 0."""
        std = self.config.initializer_range
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, std)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
            if isinstance(m, nn.LayerNorm):
                m.reset_parameters()

    def _inputs(self, fn: str, input_ids: Any, attention_mask: Any, token_type_ids: Any):
        c = self.config
        ids = _ids(fn, "input_ids", input_ids, None, c.vocab_size)
        B, L = ids.shape
        if B == 0 or L == 0:
            raise ValueError(f"{fn}: input_ids must have at least one row and one position, got shape {ids.shape}")
        if L > c.max_position_embeddings:
            raise ValueError(f"{fn}: sequence length {L} exceeds max_position_embeddings ({c.max_position_embeddings})")
        mask = np.ones((B, L), np.int64) if attention_mask is None else _ids(fn, "attention_mask", attention_mask,
                                                                            (B, L), 2)
        tt = np.zeros((B, L), np.int64) if token_type_ids is None else _ids(fn, "token_type_ids", token_type_ids,
                                                                           (B, L), c.type_vocab_size)
        return ids, mask, tt

    def infer(self, input_ids: Any, attention_mask: Any = None, token_type_ids: Any = None, *,
              packed: bool = True) -> tuple[np.ndarray, Batch]:
        """Inference fast path (no tape, no dropout): -> (hidden (rows, E) float32, batch).
        packed=True computes only the tokens whose attention_mask is 1 (rows = batch.rows of the
        flattened (B, L) grid, in row-major order); packed=False computes every position."""
        ids, mask, tt = self._inputs("BertModel.infer", input_ids, attention_mask, token_type_ids)
        batch = Batch.from_mask(mask, packed)
        h = self.embeddings.infer(ids, tt, batch)
        for layer in self.layers:
            h = layer.infer(h, batch)
        return h, batch

    def forward(self, input_ids: Any, attention_mask: Any = None, token_type_ids: Any = None) -> Tensor:
        """input_ids, attention_mask (1 = token, 0 = padding), token_type_ids: (B, L) ints ->
        last hidden state (B, L, E). Values at padding positions are unspecified (zero where
        the fast path ran). Stages that need no gradient run on the fast path (see module doc)."""
        fn = "BertModel"
        ids, mask, tt = self._inputs(fn, input_ids, attention_mask, token_type_ids)
        B, L = ids.shape
        E = self.config.hidden_size
        if not _needs_tape(self):
            h, batch = self.infer(ids, mask, tt)
            out = np.zeros((B * L, E), np.float32) if batch.rows is not None else h
            if batch.rows is not None:
                out[batch.rows] = h
            return Tensor(out.reshape(B, L, E))
        batch = Batch.from_mask(mask, packed=False)
        keep = batch.keep
        h: Any = None  # an array (rows, E) while on the fast path, then a Tensor (B, L, E)
        if _needs_tape(self.embeddings):
            h = self.embeddings(ids, tt)
        else:
            h = self.embeddings.infer(ids, tt, batch)
        for layer in self.layers:
            if isinstance(h, Tensor) or _needs_tape(layer):
                if not isinstance(h, Tensor):
                    h = Tensor(h.reshape(B, L, E))
                h = layer(h, keep)
            else:
                h = layer.infer(h, batch)
        return h if isinstance(h, Tensor) else Tensor(h.reshape(B, L, E))
