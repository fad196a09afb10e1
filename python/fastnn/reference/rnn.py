"""Recurrent cells and single-layer, single-direction sequences (float64 oracles).

PyTorch layouts and gate orders:
    w_ih (G*H, I), w_hh (G*H, H), b_ih (G*H,), b_hh (G*H,) (biases optional)
    RNN  G=1: h' = act(W_ih x + b_ih + W_hh h + b_hh),  act = tanh | relu
    LSTM G=4, rows [i, f, g, o]:
        i, f, o = sigmoid(.), g = tanh(.),  c' = f*c + i*g,  h' = o*tanh(c')
    GRU  G=3, rows [r, z, n]:
        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr),  z likewise,
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),   h' = (1 - z)*n + z*h
Cells take batched x (N, I), h (N, H).  Sequences take x (L, N, I) and h0/c0 (N, H)
(no num_layers axis) or None for zeros; ``params`` = (w_ih, w_hh, b_ih, b_hh).
"""
import numpy as np

from .activation import sigmoid

__all__ = [
    "rnn_cell", "rnn_cell_backward",
    "lstm_cell", "lstm_cell_backward",
    "gru_cell", "gru_cell_backward",
    "rnn", "rnn_backward", "lstm", "lstm_backward", "gru", "gru_backward",
]


def _f64(x):
    return None if x is None else np.asarray(x, dtype=np.float64)


def _affine(x, w, b):
    y = x @ w.T
    return y if b is None else y + b


def _zeros_like_opt(g, shape):
    return np.zeros(shape) if g is None else _f64(g)


def _param_grads(d_ih, d_hh, x, h, b_ih, b_hh):
    """Gradients of the two affine maps given d(pre-activation) (N, G*H)."""
    return (d_ih.T @ x, d_hh.T @ h,
            None if b_ih is None else d_ih.sum(axis=0),
            None if b_hh is None else d_hh.sum(axis=0))


# ---- vanilla RNN ------------------------------------------------------------
def rnn_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """-> h' (N, H)."""
    x, h, w_ih, w_hh, b_ih, b_hh = map(_f64, (x, h, w_ih, w_hh, b_ih, b_hh))
    a = _affine(x, w_ih, b_ih) + _affine(h, w_hh, b_hh)
    if nonlinearity == "tanh":
        return np.tanh(a)
    if nonlinearity == "relu":
        return np.maximum(a, 0.0)
    raise ValueError(f"unknown nonlinearity {nonlinearity!r}")


def rnn_cell_backward(grad_h, x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """-> (grad_x, grad_h, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh)."""
    x, h, w_ih, w_hh, b_ih, b_hh = map(_f64, (x, h, w_ih, w_hh, b_ih, b_hh))
    a = _affine(x, w_ih, b_ih) + _affine(h, w_hh, b_hh)
    g = _f64(grad_h)
    if nonlinearity == "tanh":
        da = g * (1.0 - np.tanh(a) ** 2)
    elif nonlinearity == "relu":
        da = g * (a > 0)
    else:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}")
    return (da @ w_ih, da @ w_hh) + _param_grads(da, da, x, h, b_ih, b_hh)


# ---- LSTM -------------------------------------------------------------------
def _lstm_gates(x, h, w_ih, w_hh, b_ih, b_hh):
    a = _affine(x, w_ih, b_ih) + _affine(h, w_hh, b_hh)
    ai, af, ag, ao = np.split(a, 4, axis=-1)
    return sigmoid(ai), sigmoid(af), np.tanh(ag), sigmoid(ao)


def lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """-> (h' (N, H), c' (N, H))."""
    x, h, c, w_ih, w_hh, b_ih, b_hh = map(_f64, (x, h, c, w_ih, w_hh, b_ih, b_hh))
    i, f, g, o = _lstm_gates(x, h, w_ih, w_hh, b_ih, b_hh)
    c2 = f * c + i * g
    return o * np.tanh(c2), c2


def lstm_cell_backward(grad_h, grad_c, x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """grad_h / grad_c: gradients w.r.t. h' and c' (either may be None = 0)
    -> (grad_x, grad_h, grad_c, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh)."""
    x, h, c, w_ih, w_hh, b_ih, b_hh = map(_f64, (x, h, c, w_ih, w_hh, b_ih, b_hh))
    i, f, g, o = _lstm_gates(x, h, w_ih, w_hh, b_ih, b_hh)
    c2 = f * c + i * g
    tc = np.tanh(c2)
    gh = _zeros_like_opt(grad_h, c2.shape)
    gc = _zeros_like_opt(grad_c, c2.shape) + gh * o * (1.0 - tc * tc)  # total dL/dc'
    da = np.concatenate([gc * g * i * (1 - i),        # input gate
                         gc * c * f * (1 - f),        # forget gate
                         gc * i * (1 - g * g),        # cell candidate
                         gh * tc * o * (1 - o)],      # output gate
                        axis=-1)
    return (da @ w_ih, da @ w_hh, gc * f) + _param_grads(da, da, x, h, b_ih, b_hh)


# ---- GRU --------------------------------------------------------------------
def _gru_parts(x, h, w_ih, w_hh, b_ih, b_hh):
    xr, xz, xn = np.split(_affine(x, w_ih, b_ih), 3, axis=-1)
    hr, hz, hn = np.split(_affine(h, w_hh, b_hh), 3, axis=-1)
    r = sigmoid(xr + hr)
    z = sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)
    return r, z, n, hn


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """-> h' (N, H)."""
    x, h, w_ih, w_hh, b_ih, b_hh = map(_f64, (x, h, w_ih, w_hh, b_ih, b_hh))
    r, z, n, _ = _gru_parts(x, h, w_ih, w_hh, b_ih, b_hh)
    return (1.0 - z) * n + z * h


def gru_cell_backward(grad_h, x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """-> (grad_x, grad_h, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh)."""
    x, h, w_ih, w_hh, b_ih, b_hh = map(_f64, (x, h, w_ih, w_hh, b_ih, b_hh))
    r, z, n, hn = _gru_parts(x, h, w_ih, w_hh, b_ih, b_hh)
    g = _f64(grad_h)
    dan = g * (1.0 - z) * (1.0 - n * n)          # pre-tanh of n
    daz = g * (h - n) * z * (1.0 - z)
    dar = dan * hn * r * (1.0 - r)
    d_ih = np.concatenate([dar, daz, dan], axis=-1)
    d_hh = np.concatenate([dar, daz, dan * r], axis=-1)  # r scales (W_hn h + b_hn)
    return (d_ih @ w_ih, d_hh @ w_hh + g * z) + _param_grads(d_ih, d_hh, x, h, b_ih, b_hh)


# ---- sequences (one layer, one direction) -----------------------------------
def _unpack(params):
    w_ih, w_hh, *rest = params
    b_ih, b_hh = (rest + [None, None])[:2]
    return tuple(map(_f64, (w_ih, w_hh, b_ih, b_hh)))


def _h0(h0, x, H):
    return np.zeros((x.shape[1], H)) if h0 is None else _f64(h0)


def _accumulate(total, part):
    return tuple(None if p is None else (p if t is None else t + p) for t, p in zip(total, part))


def rnn(x, h0, params, nonlinearity="tanh"):
    """x (L, N, I) -> (output (L, N, H), h_n (N, H))."""
    x = _f64(x)
    w_ih, w_hh, b_ih, b_hh = _unpack(params)
    h = _h0(h0, x, w_hh.shape[1])
    out = []
    for t in range(x.shape[0]):
        h = rnn_cell(x[t], h, w_ih, w_hh, b_ih, b_hh, nonlinearity)
        out.append(h)
    return np.stack(out), h


def rnn_backward(grad_out, x, h0, params, nonlinearity="tanh"):
    """grad_out = (grad_output (L,N,H) or None, grad_h_n (N,H) or None)
    -> (grad_x (L,N,I), grad_h0 (N,H), (g_w_ih, g_w_hh, g_b_ih, g_b_hh))."""
    x = _f64(x)
    w_ih, w_hh, b_ih, b_hh = _unpack(params)
    out, _ = rnn(x, h0, params, nonlinearity)
    hs = [_h0(h0, x, w_hh.shape[1])] + list(out)  # hs[t] = input state of step t
    g_seq, gh = grad_out
    gh = _zeros_like_opt(gh, hs[0].shape)
    gx = np.zeros_like(x)
    pg = (None, None, None, None)
    for t in reversed(range(x.shape[0])):
        if g_seq is not None:
            gh = gh + _f64(g_seq)[t]
        gx[t], gh, *p = rnn_cell_backward(gh, x[t], hs[t], w_ih, w_hh, b_ih, b_hh, nonlinearity)
        pg = _accumulate(pg, p)
    return gx, gh, pg


def lstm(x, h0, c0, params):
    """x (L, N, I) -> (output (L, N, H), h_n (N, H), c_n (N, H))."""
    x = _f64(x)
    w_ih, w_hh, b_ih, b_hh = _unpack(params)
    H = w_hh.shape[1]
    h, c = _h0(h0, x, H), _h0(c0, x, H)
    out = []
    for t in range(x.shape[0]):
        h, c = lstm_cell(x[t], h, c, w_ih, w_hh, b_ih, b_hh)
        out.append(h)
    return np.stack(out), h, c


def lstm_backward(grad_out, x, h0, c0, params):
    """grad_out = (grad_output (L,N,H), grad_h_n, grad_c_n), any may be None
    -> (grad_x, grad_h0, grad_c0, (g_w_ih, g_w_hh, g_b_ih, g_b_hh))."""
    x = _f64(x)
    w_ih, w_hh, b_ih, b_hh = _unpack(params)
    H = w_hh.shape[1]
    hs, cs = [_h0(h0, x, H)], [_h0(c0, x, H)]
    for t in range(x.shape[0]):  # replay the forward keeping every state
        h, c = lstm_cell(x[t], hs[-1], cs[-1], w_ih, w_hh, b_ih, b_hh)
        hs.append(h)
        cs.append(c)
    g_seq, gh, gc = grad_out
    gh = _zeros_like_opt(gh, hs[0].shape)
    gc = _zeros_like_opt(gc, hs[0].shape)
    gx = np.zeros_like(x)
    pg = (None, None, None, None)
    for t in reversed(range(x.shape[0])):
        if g_seq is not None:
            gh = gh + _f64(g_seq)[t]
        gx[t], gh, gc, *p = lstm_cell_backward(gh, gc, x[t], hs[t], cs[t],
                                               w_ih, w_hh, b_ih, b_hh)
        pg = _accumulate(pg, p)
    return gx, gh, gc, pg


def gru(x, h0, params):
    """x (L, N, I) -> (output (L, N, H), h_n (N, H))."""
    x = _f64(x)
    w_ih, w_hh, b_ih, b_hh = _unpack(params)
    h = _h0(h0, x, w_hh.shape[1])
    out = []
    for t in range(x.shape[0]):
        h = gru_cell(x[t], h, w_ih, w_hh, b_ih, b_hh)
        out.append(h)
    return np.stack(out), h


def gru_backward(grad_out, x, h0, params):
    """grad_out = (grad_output (L,N,H) or None, grad_h_n or None)
    -> (grad_x, grad_h0, (g_w_ih, g_w_hh, g_b_ih, g_b_hh))."""
    x = _f64(x)
    w_ih, w_hh, b_ih, b_hh = _unpack(params)
    out, _ = gru(x, h0, params)
    hs = [_h0(h0, x, w_hh.shape[1])] + list(out)
    g_seq, gh = grad_out
    gh = _zeros_like_opt(gh, hs[0].shape)
    gx = np.zeros_like(x)
    pg = (None, None, None, None)
    for t in reversed(range(x.shape[0])):
        if g_seq is not None:
            gh = gh + _f64(g_seq)[t]
        gx[t], gh, *p = gru_cell_backward(gh, x[t], hs[t], w_ih, w_hh, b_ih, b_hh)
        pg = _accumulate(pg, p)
    return gx, gh, pg
