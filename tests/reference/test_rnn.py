"""RNN / LSTM / GRU cells and sequences vs PyTorch float64 autograd."""
import numpy as np
import pytest

from fastnn.reference import rnn as rrnn

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-10, 1e-12


def T(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def close(ours, theirs):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


def _params(rng, G, H, I, bias):
    p = [rng.standard_normal((G * H, I)) * 0.5, rng.standard_normal((G * H, H)) * 0.5]
    p += [rng.standard_normal(G * H) * 0.5, rng.standard_normal(G * H) * 0.5] if bias else [None, None]
    return p


def _check_grads(ours, tensors):
    assert len(ours) == len(tensors)
    for o, t in zip(ours, tensors):
        if t is None:
            assert o is None
        else:
            close(o, t.grad)


def _ts(arrays):
    return [None if a is None else T(a, True) for a in arrays]


@pytest.mark.parametrize("N,I,H", [(3, 5, 7), (1, 1, 1), (2, 13, 4)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("nl", ["tanh", "relu"])
def test_rnn_cell(N, I, H, bias, nl):
    rng = np.random.default_rng(N + I + H)
    x, h = rng.standard_normal((N, I)), rng.standard_normal((N, H))
    p = _params(rng, 1, H, I, bias)
    ts = _ts([x, h] + p)
    yt = torch._VF.rnn_tanh_cell(*ts) if nl == "tanh" else torch._VF.rnn_relu_cell(*ts)
    g = rng.standard_normal((N, H))
    yt.backward(T(g))
    close(rrnn.rnn_cell(x, h, *p, nonlinearity=nl), yt)
    _check_grads(rrnn.rnn_cell_backward(g, x, h, *p, nonlinearity=nl), ts)


@pytest.mark.parametrize("N,I,H", [(3, 5, 7), (1, 1, 1), (2, 13, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_lstm_cell(N, I, H, bias):
    rng = np.random.default_rng(N + I + H + 1)
    x, h, c = rng.standard_normal((N, I)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    p = _params(rng, 4, H, I, bias)
    ts = _ts([x, h, c] + p)
    ht, ct = torch._VF.lstm_cell(ts[0], (ts[1], ts[2]), *ts[3:])
    gh, gc = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    torch.autograd.backward([ht, ct], [T(gh), T(gc)])
    h2, c2 = rrnn.lstm_cell(x, h, c, *p)
    close(h2, ht)
    close(c2, ct)
    _check_grads(rrnn.lstm_cell_backward(gh, gc, x, h, c, *p), ts)


@pytest.mark.parametrize("N,I,H", [(3, 5, 7), (1, 1, 1), (2, 13, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_gru_cell(N, I, H, bias):
    rng = np.random.default_rng(N + I + H + 2)
    x, h = rng.standard_normal((N, I)), rng.standard_normal((N, H))
    p = _params(rng, 3, H, I, bias)
    ts = _ts([x, h] + p)
    yt = torch._VF.gru_cell(*ts)
    g = rng.standard_normal((N, H))
    yt.backward(T(g))
    close(rrnn.gru_cell(x, h, *p), yt)
    _check_grads(rrnn.gru_cell_backward(g, x, h, *p), ts)


def _torch_module(kind, I, H, bias, p, nl="tanh"):
    kw = dict(nonlinearity=nl) if kind == "rnn" else {}
    mod = getattr(torch.nn, kind.upper())(I, H, bias=bias, dtype=torch.float64, **kw)
    with torch.no_grad():
        mod.weight_ih_l0.copy_(T(p[0]))
        mod.weight_hh_l0.copy_(T(p[1]))
        if bias:
            mod.bias_ih_l0.copy_(T(p[2]))
            mod.bias_hh_l0.copy_(T(p[3]))
    names = ["weight_ih_l0", "weight_hh_l0"] + (["bias_ih_l0", "bias_hh_l0"] if bias else [])
    return mod, [getattr(mod, n) for n in names] + ([] if bias else [None, None])


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("L,N,I,H", [(5, 3, 4, 6), (1, 1, 2, 3), (7, 2, 1, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_sequence(kind, L, N, I, H, bias):
    rng = np.random.default_rng(L * 100 + N * 10 + H)
    G = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
    p = _params(rng, G, H, I, bias)
    x, h0, c0 = rng.standard_normal((L, N, I)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    mod, pt = _torch_module(kind, I, H, bias, p)
    xt, h0t, c0t = T(x, True), T(h0[None], True), T(c0[None], True)
    g_seq, g_h, g_c = rng.standard_normal((L, N, H)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    if kind == "lstm":
        yt, (hnt, cnt) = mod(xt, (h0t, c0t))
        torch.autograd.backward([yt, hnt, cnt], [T(g_seq), T(g_h[None]), T(g_c[None])])
        y, hn, cn = rrnn.lstm(x, h0, c0, p)
        close(cn, cnt[0])
        gx, gh0, gc0, gp = rrnn.lstm_backward((g_seq, g_h, g_c), x, h0, c0, p)
        close(gc0, c0t.grad[0])
    else:
        yt, hnt = mod(xt, h0t)
        torch.autograd.backward([yt, hnt], [T(g_seq), T(g_h[None])])
        y, hn = getattr(rrnn, kind)(x, h0, p)
        gx, gh0, gp = getattr(rrnn, kind + "_backward")((g_seq, g_h), x, h0, p)
    close(y, yt)
    close(hn, hnt[0])
    close(gx, xt.grad)
    close(gh0, h0t.grad[0])
    _check_grads(gp, pt)


def test_sequence_none_states_and_grads():
    rng = np.random.default_rng(0)
    p = _params(rng, 4, 3, 2, True)
    x = rng.standard_normal((4, 2, 2))
    y, hn, cn = rrnn.lstm(x, None, None, p)
    y0, hn0, cn0 = rrnn.lstm(x, np.zeros((2, 3)), np.zeros((2, 3)), p)
    close(y, y0)
    g = rng.standard_normal(y.shape)
    a = rrnn.lstm_backward((g, None, None), x, None, None, p)
    b = rrnn.lstm_backward((g, np.zeros((2, 3)), np.zeros((2, 3))), x, None, None, p)
    for u, v in zip(a[:3] + a[3], b[:3] + b[3]):
        close(u, v)
