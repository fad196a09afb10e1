"""RNN / LSTM / GRU against PyTorch (outputs, final states, gradients of inputs, initial states
and every weight) and float64 central differences through the whole unrolled network."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import nn

from nn_parity import fd_check, parity, torch  # noqa: E402

tnn = torch.nn


def R(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


KINDS = {
    "rnn_tanh": (lambda **k: nn.RNN(**k), lambda **k: tnn.RNN(**k)),
    "rnn_relu": (lambda **k: nn.RNN(nonlinearity="relu", **k), lambda **k: tnn.RNN(nonlinearity="relu", **k)),
    "lstm": (lambda **k: nn.LSTM(**k), lambda **k: tnn.LSTM(**k)),
    "gru": (lambda **k: nn.GRU(**k), lambda **k: tnn.GRU(**k)),
}
CONFIGS = [
    dict(num_layers=1),
    dict(num_layers=2, bidirectional=True),
    dict(num_layers=2, batch_first=True),
    dict(num_layers=1, bidirectional=True, bias=False, batch_first=True),
]


def _inputs(kind, cfg, L=5, N=3, I=4, H=6, init_state=True, seed=1):
    D = 2 if cfg.get("bidirectional") else 1
    x = R(N, L, I, seed=seed) if cfg.get("batch_first") else R(L, N, I, seed=seed)
    if not init_state:
        return [x]
    h0 = R(cfg["num_layers"] * D, N, H, seed=seed + 1) * 0.5
    if kind == "lstm":
        return [x, h0, R(cfg["num_layers"] * D, N, H, seed=seed + 2) * 0.5]
    return [x, h0]


def _call(kind):
    if kind == "lstm":
        return lambda m, x, h0=None, c0=None: m(x, None if h0 is None else (h0, c0))
    return lambda m, x, h0=None: m(x, h0)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("cfg", CONFIGS, ids=["1layer", "2layer_bidir", "2layer_batch_first", "bidir_nobias_bf"])
def test_rnn_matches_torch(kind, cfg):
    torch.manual_seed(0)
    fmake, tmake = KINDS[kind]
    kw = dict(input_size=4, hidden_size=6, **cfg)
    tmod, fmod = tmake(**kw), fmake(**kw)
    parity(fmod, tmod, _inputs(kind, cfg), call=_call(kind), rtol=1e-4)


@pytest.mark.parametrize("kind", list(KINDS))
def test_rnn_zero_initial_state_and_unbatched(kind):
    torch.manual_seed(0)
    fmake, tmake = KINDS[kind]
    kw = dict(input_size=3, hidden_size=5, num_layers=2, bidirectional=True)
    tmod, fmod = tmake(**kw), fmake(**kw)
    parity(fmod, tmod, [R(4, 2, 3)], call=_call(kind))
    # unbatched: x (L, I), states (layers * D, H)
    ins = [R(4, 3, seed=2), R(4, 5, seed=3)] + ([R(4, 5, seed=4)] if kind == "lstm" else [])
    parity(fmod, tmod, ins, call=_call(kind), load=False)


@pytest.mark.parametrize("kind", list(KINDS))
def test_rnn_finite_differences(kind):
    fastnn.manual_seed(0)
    cfg = dict(num_layers=2, bidirectional=True)
    fmod = KINDS[kind][0](input_size=3, hidden_size=4, **cfg)
    ins = _inputs(kind, cfg, L=4, N=2, I=3, H=4)
    if kind == "rnn_relu":
        fmod.double()
        for p in fmod.parameters():  # positive pre-activations: no kink near the evaluation point
            p.data[...] = np.abs(p.data) * 0.5
        ins = [np.abs(a) for a in ins]
    fd_check(fmod, ins, call=_call(kind))


def test_rnn_parameter_names_and_init():
    fastnn.manual_seed(0)
    m = nn.LSTM(3, 8, num_layers=2, bidirectional=True)
    t = tnn.LSTM(3, 8, num_layers=2, bidirectional=True)
    assert list(m.state_dict()) == list(t.state_dict())
    for (k, p), (_, tp) in zip(m.named_parameters(), t.named_parameters()):
        assert p.shape == tuple(tp.shape), k
        assert np.abs(p.data).max() <= 1 / np.sqrt(8)  # U(-1/sqrt(H), 1/sqrt(H))


def test_rnn_dropout_between_layers_and_errors():
    fastnn.manual_seed(0)
    m = nn.GRU(3, 4, num_layers=3, dropout=0.5)
    x = fastnn.Tensor(R(5, 2, 3), requires_grad=True)
    out, h = m(x)
    out.sum().backward()
    assert x.grad is not None and all(p.grad is not None for p in m.parameters())
    m.eval()
    a, _ = m(x)
    b, _ = m(x)
    np.testing.assert_array_equal(a.data, b.data)  # no dropout in eval mode
    with pytest.raises(ValueError, match="input.size\\(-1\\) must be 3"):
        m(fastnn.Tensor(R(5, 2, 4)))
    with pytest.raises(ValueError, match="expected h_0 of shape"):
        m(x, fastnn.Tensor(R(2, 2, 4)))
