"""fastnn.nn + autograd + optim learn real tasks, end to end, in seconds: an encoder-decoder
Transformer reverses sequences, an LSTM and a GRU fit a noisy sine, a CNN overfits a small batch."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import Tensor, nn, optim
from fastnn import datasets
from fastnn.nn import functional as F


@pytest.fixture(autouse=True)
def _seed():
    fastnn.manual_seed(0)


class Reverser(nn.Module):
    """Token + learned position embeddings → nn.Transformer (batch_first) → vocabulary logits."""

    def __init__(self, vocab: int, length: int, d_model: int = 32) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(length, d_model)
        self.core = nn.Transformer(d_model, nhead=4, num_encoder_layers=1, num_decoder_layers=1,
                                   dim_feedforward=64, dropout=0.0, batch_first=True)
        self.head = nn.Linear(d_model, vocab)
        self.causal = nn.Transformer.generate_square_subsequent_mask(length)
        self.positions = np.arange(length)

    def forward(self, src, tgt_in):
        pos = self.pos(Tensor(self.positions))
        y = self.core(self.tok(Tensor(src)) + pos, self.tok(Tensor(tgt_in)) + pos, tgt_mask=self.causal)
        return self.head(y)


def test_transformer_learns_to_reverse_to_99_percent():
    vocab, length = 10, 5
    src, tgt_in, tgt_out = datasets.make_reverse_task(2304, length=length, vocab=vocab, seed=0)
    model = Reverser(vocab, length)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    order = np.random.default_rng(0).permutation(2048)
    for epoch in range(5):
        for i in range(0, 2048, 64):
            idx = order[i:i + 64]
            logits = model(src[idx], tgt_in[idx])
            loss = F.cross_entropy(logits.reshape(-1, vocab), Tensor(tgt_out[idx].reshape(-1)))
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with fastnn.no_grad():
        pred = model(src[2048:], tgt_in[2048:]).numpy().argmax(-1)  # held-out, teacher forcing
    accuracy = (pred == tgt_out[2048:]).mean()
    assert accuracy >= 0.99, f"token accuracy {accuracy:.4f}"


class SineRegressor(nn.Module):
    def __init__(self, kind: str, hidden: int = 24) -> None:
        super().__init__()
        self.rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[kind](1, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x):
        seq, _ = self.rnn(x)
        return self.out(seq[:, -1])  # the last step's state predicts the next sample


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_recurrent_nets_fit_a_noisy_sine(kind):
    rng = np.random.default_rng(1)
    t = np.arange(3000) * 0.1
    noise = 0.05
    series = (np.sin(t) + noise * rng.standard_normal(t.size)).astype(np.float32)
    window = 20
    starts = rng.permutation(series.size - window - 1)
    x = np.stack([series[s:s + window] for s in starts])[..., None]
    y = np.array([series[s + window] for s in starts], np.float32)[:, None]
    train, test = slice(0, 2048), slice(2048, 2560)
    model = SineRegressor(kind)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    for epoch in range(6):
        for i in range(0, 2048, 64):
            loss = F.mse_loss(model(Tensor(x[train][i:i + 64])), Tensor(y[train][i:i + 64]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    with fastnn.no_grad():
        mse = float(((model(Tensor(x[test])).numpy() - y[test]) ** 2).mean())
    # The series' variance is 0.5; predicting the next noisy sample cannot beat the noise (0.0025).
    assert mse < 4 * noise**2, f"{kind}: test MSE {mse:.5f}"


def test_cnn_overfits_a_small_batch_to_zero_loss():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((16, 3, 12, 12)).astype(np.float32)
    y = rng.integers(0, 5, 16)  # random labels: only memorisation fits them
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(32, 5))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    for step in range(300):
        loss = F.cross_entropy(model(Tensor(x)), Tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-3, f"loss {loss.item():.2e} after 300 steps"
