"""Recurrent sequence classifiers (logits from the last step): LSTM and GRU over (N, L, F) features,
or over (N, L) token ids through an embedding when `vocab_size` is given."""
from __future__ import annotations

from ..keras import Model
from ..keras._backend import nn


class _RecurrentClassifier(Model):
    _cell = ""

    def __init__(self, input_size: int, hidden_size: int, num_classes: int, num_layers: int = 1,
                 vocab_size: int | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, input_size) if vocab_size else None
        self.rnn = getattr(nn, self._cell)(input_size, hidden_size, num_layers=num_layers, batch_first=True,
                                           dropout=dropout if num_layers > 1 else 0.0)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        if self.embedding is not None:
            x = self.embedding(x)
        out = self.rnn(x)[0]  # (N, L, hidden)
        return self.head(out[:, -1])


class LSTMClassifier(_RecurrentClassifier):
    """LSTM (PyTorch gate order i, f, g, o) -> last hidden state -> Linear."""

    _cell = "LSTM"


class GRUClassifier(_RecurrentClassifier):
    """GRU (PyTorch gate order r, z, n) -> last hidden state -> Linear."""

    _cell = "GRU"
