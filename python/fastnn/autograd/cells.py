"""Recurrent cells: one time step's gate nonlinearities and state update, PyTorch gate order.

This is the interface of the fused gate kernels. The GEMMs (x W_ih^T + b_ih over the whole
sequence, h W_hh^T + b_hh per step) are done by the caller with linear/matmul. No fused CPU/CUDA
kernel (one pass over the (N, G*H) gates) exists yet; until one does, each step is a handful of
activation / add / mul kernel calls with the same inputs and outputs.
"""
from __future__ import annotations

from .kernels import _xp, activation, activation_backward, add, mul, sub


def _cols(a, start, stop):
    return a[:, start:stop]


def _xpcat(parts):
    return _xp(parts[0]).concatenate(parts, axis=1)


def rnn_cell(gx, gh, nonlinearity):
    """gx, gh (N, H) -> (h' (N, H), saved); h' = act(gx + gh), act = 'tanh' | 'relu'."""
    pre = add(gx, gh)
    h = activation(nonlinearity, pre)
    return h, (pre, h)


def rnn_cell_backward(grad_h, saved, nonlinearity):
    """-> grad of the pre-activation (N, H) (= grad of gx and of gh)."""
    pre, h = saved
    return activation_backward(nonlinearity, grad_h, pre, h)


def lstm_cell(gx, gh, c):
    """gx, gh (N, 4H) pre-activations of gates [i, f, g, o] (PyTorch order), c (N, H)
    -> (h' (N, H), c' (N, H), saved):  c' = f c + i g,  h' = o tanh(c')."""
    H = c.shape[-1]
    pre = add(gx, gh)
    act = activation("sigmoid", pre)  # i, f, o; block g is recomputed with tanh below
    i, f, o = _cols(act, 0, H), _cols(act, H, 2 * H), _cols(act, 3 * H, 4 * H)
    g = activation("tanh", _cols(pre, 2 * H, 3 * H))
    c_new = add(mul(f, c), mul(i, g))
    tc = activation("tanh", c_new)
    return mul(o, tc), c_new, (pre, act, i, f, g, o, c_new, tc)


def lstm_cell_backward(grad_h, grad_c, c_prev, saved):
    """-> (grad of the gate pre-activations (N, 4H) (= grad of gx and of gh), grad_c_prev (N, H))."""
    pre, act, i, f, g, o, c_new, tc = saved  # backwards from the outputs where the kernel has that form
    H = c_prev.shape[-1]
    gc = add(grad_c, activation_backward("tanh", mul(grad_h, o), c_new, tc))
    d_act = _xpcat([mul(gc, g), mul(gc, c_prev), mul(gc, i), mul(grad_h, tc)])
    d_pre = activation_backward("sigmoid", d_act, pre, act)
    d_pre[:, 2 * H:3 * H] = activation_backward("tanh", _cols(d_act, 2 * H, 3 * H), _cols(pre, 2 * H, 3 * H), g)
    return d_pre, mul(gc, f)


def gru_cell(gx, gh, h):
    """gx, gh (N, 3H) pre-activations [r, z, n] (PyTorch order, biases included), h (N, H) -> (h', saved):
    r, z = sigmoid(gx + gh),  n = tanh(gx_n + r gh_n),  h' = n + z (h - n)."""
    H = h.shape[-1]
    rz_pre = add(_cols(gx, 0, 2 * H), _cols(gh, 0, 2 * H))
    rz = activation("sigmoid", rz_pre)
    r, z = _cols(rz, 0, H), _cols(rz, H, 2 * H)
    hn = _cols(gh, 2 * H, 3 * H)
    n_pre = add(_cols(gx, 2 * H, 3 * H), mul(r, hn))
    n = activation("tanh", n_pre)
    return add(n, mul(z, sub(h, n))), (rz_pre, rz, r, z, hn, n_pre, n)


def gru_cell_backward(grad_h, h_prev, saved):
    """-> (grad gx (N, 3H), grad gh (N, 3H), grad of h_prev through the z h term (N, H))."""
    rz_pre, rz, r, z, hn, n_pre, n = saved  # backwards from the outputs where the kernel has that form
    gz = mul(grad_h, z)
    dan = activation_backward("tanh", sub(grad_h, gz), n_pre, n)
    d_rz = activation_backward("sigmoid", _xpcat([mul(dan, hn), mul(grad_h, sub(h_prev, n))]), rz_pre, rz)
    return _xpcat([d_rz, dan]), _xpcat([d_rz, mul(dan, r)]), gz
