"""Multi-layer perceptron: Linear+activation (fused into the GEMM epilogue) (-> Dropout) ... -> Linear,
returning logits."""
from __future__ import annotations

from typing import Sequence

from ..keras import Model
from ..keras._backend import nn


class MLP(Model):
    """in_features -> hidden sizes -> out_features (logits). Input (N, in_features), or (N, ...) flattened.
    activation: 'relu' | 'gelu' | 'silu' | 'sigmoid' | 'tanh'."""

    def __init__(self, in_features: int, out_features: int, hidden: Sequence[int] = (64, 64),
                 activation: str = "relu", dropout: float = 0.0) -> None:
        super().__init__()
        sizes = [in_features, *hidden]
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers.append(nn.Linear(a, b, activation=activation))
            if dropout:
                layers.append(nn.Dropout(dropout))
        self.hidden = nn.ModuleList(layers)
        self.head = nn.Linear(sizes[-1], out_features)

    def forward(self, x):
        x = x.reshape(x.shape[0], -1)
        for layer in self.hidden:
            x = layer(x)
        return self.head(x)
