"""Transfer learning: a text classifier on a pretrained BERT encoder (mean pooling -> Linear),
trained with fastnn's autograd and optimizers.

The encoder's embeddings and first layers are frozen (and run on the inference fast path, with
no tape); its last ``trainable_layers`` layers and the head are trained. The frozen part is
deterministic (eval mode), so ``fit`` computes its output once per text and every epoch starts
from those cached hidden states. The classifier holds the encoder's own BertModel: fine-tuning
updates those weights in place (load a separate SentenceEncoder to keep the original).
"""
from __future__ import annotations

import pathlib
from typing import Sequence

import numpy as np

from ... import nn, optim
from ...autograd.grad_mode import no_grad
from ...nn import functional as F
from ...tensor import Tensor
from .model import Batch
from .sentence import SentenceEncoder, check_texts

DATA = pathlib.Path(__file__).resolve().parents[2] / "data" / "sentiment_sentences.tsv"


def load_sentiment_sentences() -> tuple[list[str], np.ndarray]:
    """The small labeled set shipped with fastnn: (160 short review sentences, int64 labels,
    1 = positive, 0 = negative)."""
    texts, labels = [], []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        label, text = line.split("\t", 1)
        texts.append(text)
        labels.append(int(label))
    return texts, np.asarray(labels, dtype=np.int64)


class SentenceClassifier(nn.Module):
    """logits (B, num_classes) = Linear(mean over tokens of BERT(text)).

    encoder: a SentenceEncoder (its tokenizer and BertModel are used, the model shared).
    trainable_layers: how many of the encoder's last layers are fine-tuned (0: the head only).
    """

    def __init__(self, encoder: SentenceEncoder, num_classes: int, trainable_layers: int = 1, dropout: float = 0.1):
        super().__init__()
        fn = "SentenceClassifier"
        if not isinstance(encoder, SentenceEncoder):
            raise TypeError(f"{fn}: encoder must be a SentenceEncoder, got {type(encoder).__name__}")
        n_layers = len(encoder.model.layers)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"{fn}: num_classes must be an int >= 2, got {num_classes!r}")
        if isinstance(trainable_layers, bool) or not isinstance(trainable_layers, int) \
                or not 0 <= trainable_layers <= n_layers:
            raise ValueError(f"{fn}: trainable_layers must be an int in [0, {n_layers}], got {trainable_layers!r}")
        object.__setattr__(self, "tokenizer", encoder.tokenizer)
        self.bert = encoder.model
        self.trainable_layers = trainable_layers
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.dim, num_classes)
        self.train()

    def train(self, mode: bool = True) -> "SentenceClassifier":
        """Frozen parts stay in eval mode (no dropout, fast path); the rest follows mode."""
        super().train(mode)
        frozen = [self.bert.embeddings, *self.bert.layers[:len(self.bert.layers) - self.trainable_layers]]
        for m in frozen:
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)
        return self

    def forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> Tensor:
        """input_ids, attention_mask (B, L) -> logits (B, num_classes)."""
        h = self.bert(input_ids, attention_mask)                                     # (B, L, E)
        return self._head(h, attention_mask)

    def _head(self, h: Tensor, attention_mask: np.ndarray) -> Tensor:
        m = attention_mask.astype(np.float32)
        pooled = (h * Tensor(m[:, :, None])).sum(1) * Tensor((1.0 / m.sum(1))[:, None])  # masked mean (B, E)
        return self.head(self.dropout(pooled))

    @property
    def _n_frozen(self) -> int:
        return len(self.bert.layers) - self.trainable_layers

    def features(self, texts: Sequence[str], batch_size: int = 64) -> list[np.ndarray]:
        """The frozen part's output for each text: (tokens, E) arrays (no tape)."""
        ids, _ = self.tokenizer.encode(texts)
        order = np.argsort([-len(x) for x in ids], kind="stable")
        out: list = [None] * len(ids)
        for s in range(0, len(ids), batch_size):
            sel = order[s:s + batch_size]
            input_ids, mask = self.tokenizer.pad([ids[i] for i in sel])
            batch = Batch.from_mask(mask)
            h = self.bert.embeddings.infer(input_ids, np.zeros_like(input_ids), batch)
            for layer in self.bert.layers[:self._n_frozen]:
                h = layer.infer(h, batch)
            ends = np.cumsum([len(ids[i]) for i in sel])
            for i, part in zip(sel, np.split(h, ends[:-1])):  # rows are row-major: each text's are contiguous
                out[i] = part
        return out

    def _logits(self, feats: Sequence[np.ndarray]) -> Tensor:
        """Cached frozen-part outputs -> trainable layers (autograd) -> head."""
        B, L, E = len(feats), max(len(f) for f in feats), feats[0].shape[1]
        h = np.zeros((B, L, E), np.float32)
        mask = np.zeros((B, L), np.int64)
        for i, f in enumerate(feats):
            h[i, :len(f)] = f
            mask[i, :len(f)] = 1
        keep = None if mask.all() else mask.astype(bool).reshape(B, 1, 1, L)
        x = Tensor(h)
        for layer in self.bert.layers[self._n_frozen:]:
            x = layer(x, keep)
        return self._head(x, mask)

    def fit(self, texts: Sequence[str], labels: Sequence[int], *, epochs: int = 6, batch_size: int = 16,
            lr: float = 1e-2, encoder_lr: float = 1e-4, seed: int = 0) -> list[float]:
        """AdamW on shuffled mini-batches, cross-entropy loss (the head at lr, the fine-tuned
        encoder layers at encoder_lr). -> mean training loss of each epoch."""
        texts = check_texts("SentenceClassifier.fit", texts)
        y = np.asarray(labels)
        if y.shape != (len(texts),) or y.dtype.kind not in "iu":
            raise ValueError(f"SentenceClassifier.fit: labels must be ints of shape ({len(texts)},), "
                             f"got {y.dtype} {y.shape}")
        n_classes = self.head.out_features
        if y.min() < 0 or y.max() >= n_classes:
            raise ValueError(f"SentenceClassifier.fit: labels must be in [0, {n_classes}), got [{y.min()}, {y.max()}]")
        y = y.astype(np.int64)
        groups = [{"params": list(self.head.parameters()), "lr": lr}]
        tuned = [p for p in self.bert.parameters() if p.requires_grad]
        if tuned:
            groups.append({"params": tuned, "lr": encoder_lr})
        opt = optim.AdamW(groups, lr=lr, weight_decay=0.01)
        rng = np.random.default_rng(seed)
        self.train()
        feats = self.features(texts)
        history = []
        for _ in range(epochs):
            perm = rng.permutation(len(texts))
            losses = []
            for s in range(0, len(texts), batch_size):
                sel = perm[s:s + batch_size]
                loss = F.cross_entropy(self._logits([feats[i] for i in sel]), y[sel])
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(float(loss.item()))
            history.append(float(np.mean(losses)))
        self.eval()
        return history

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """-> (n, num_classes) class probabilities (eval mode, no tape)."""
        texts = check_texts("SentenceClassifier.predict_proba", texts)
        feats = self.features(texts, batch_size)
        out = []
        was = self.training
        self.eval()
        with no_grad():
            for s in range(0, len(texts), batch_size):
                out.append(F.softmax(self._logits(feats[s:s + batch_size]), -1).numpy())
        self.train(was)
        return np.concatenate(out)

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return self.predict_proba(texts, batch_size).argmax(1)
