"""One layer, one direction of RNN / LSTM / GRU as a single Function (backpropagation through
time inside its backward), PyTorch layouts:

    x (L, N, I), h0 / c0 (N, H) or None (zeros), w_ih (G*H, I), w_hh (G*H, H), b_ih / b_hh (G*H,)
    -> out (L, N, H), h_n (N, H) [, c_n (N, H)]

The input projection of all L steps is one GEMM (linear kernel); each step does one GEMM with
w_hh and one fused-gate cell step (kernels.*_cell). The backward runs the cells' backwards in
reverse time order and then computes every weight gradient with one GEMM over all steps.
"""
from __future__ import annotations

from . import cells as C
from . import kernels as K
from .function import Function

_GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def _zeros(like, shape):
    return K._xp(like).zeros(shape, dtype=like.dtype)


def _empty(like, shape):
    return K._xp(like).empty(shape, dtype=like.dtype)


class RecurrentLayer(Function):
    """apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, mode=..., reverse=False) -> (out, h_n, c_n);
    c0 / c_n are used by mode='lstm' only (c_n is None otherwise)."""

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, mode="lstm", reverse=False):
        L, N, _ = x.shape
        H = w_hh.shape[1]
        G = _GATES[mode]
        xw = K.linear(x.reshape(L * N, -1), w_ih, b_ih).reshape(L, N, G * H)
        h = _zeros(x, (N, H)) if h0 is None else h0
        c = None
        if mode == "lstm":
            c = _zeros(x, (N, H)) if c0 is None else c0
        out = _empty(x, (L, N, H))
        h_prev = _empty(x, (L, N, H))   # state entering step t, for the w_hh gradient
        c_prev = [None] * L
        saved = [None] * L
        for t in (reversed(range(L)) if reverse else range(L)):
            h_prev[t] = h
            gh = K.linear(h, w_hh, b_hh)
            if mode == "lstm":
                c_prev[t] = c
                h, c, saved[t] = C.lstm_cell(xw[t], gh, c)
            elif mode == "gru":
                h, saved[t] = C.gru_cell(xw[t], gh, h)
            else:
                h, saved[t] = C.rnn_cell(xw[t], gh, "tanh" if mode == "rnn_tanh" else "relu")
            out[t] = h
        ctx.saved = (x, w_ih, w_hh, b_ih, b_hh, h_prev, c_prev, saved)
        ctx.mode, ctx.reverse = mode, reverse
        return out, h, c

    @staticmethod
    def backward(ctx, g_out, g_hn, g_cn=None):
        x, w_ih, w_hh, b_ih, b_hh, h_prev, c_prev, saved = ctx.saved
        mode = ctx.mode
        L, N, I = x.shape
        H = w_hh.shape[1]
        G = _GATES[mode]
        d_x = _empty(x, (L, N, G * H))                         # grad of the input projection
        d_h = d_x if mode != "gru" else _empty(x, (L, N, G * H))  # grad of the hidden projection
        gh, gc = g_hn, g_cn
        for t in (range(L) if ctx.reverse else reversed(range(L))):
            gh = K.add(gh, g_out[t])
            if mode == "lstm":
                d, gc = C.lstm_cell_backward(gh, gc, c_prev[t], saved[t])
                d_x[t] = d
                gh = K.matmul(d, w_hh)
            elif mode == "gru":
                d_x[t], d_h[t], g_direct = C.gru_cell_backward(gh, h_prev[t], saved[t])
                gh = K.add(K.matmul(d_h[t], w_hh), g_direct)
            else:
                d = C.rnn_cell_backward(gh, saved[t], "tanh" if mode == "rnn_tanh" else "relu")
                d_x[t] = d
                gh = K.matmul(d, w_hh)
        d_x2, d_h2 = d_x.reshape(L * N, G * H), d_h.reshape(L * N, G * H)
        need = ctx.needs_input_grad
        gx, gw_ih, gb_ih = K.linear_backward(d_x2, x.reshape(L * N, I), w_ih, b_ih)
        gw_hh = K.matmul(d_h2.T, h_prev.reshape(L * N, H)) if need[4] else None
        gb_hh = K.sum(d_h2, 0) if b_hh is not None and need[6] else None
        return (gx.reshape(L, N, I), gh, gc if mode == "lstm" else None, gw_ih, gw_hh, gb_ih, gb_hh)
