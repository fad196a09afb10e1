"""2-D / 1-D convolution and transposed convolution (float64 oracles), NCHW.

conv2d weight: (K, C/groups, R, S); conv_transpose2d weight: (C_in, C_out/groups, R, S).
Forward = sum over the R*S kernel taps of a (grouped) matmul between the weight tap
and a strided view of the padded input.  Backward-data is the exact adjoint: the
same taps, scatter-added into a padded gradient buffer.  conv_transpose2d is that
adjoint used as a forward.
"""
import numpy as np

from .activation import get_activation

__all__ = [
    "conv2d", "conv2d_backward",
    "conv_transpose2d", "conv_transpose2d_backward",
    "conv1d", "conv1d_backward",
    "conv_transpose1d", "conv_transpose1d_backward",
    "conv2d_output_size", "conv_transpose2d_output_size",
]


def _f64(x):
    return None if x is None else np.asarray(x, dtype=np.float64)


def _pair(v, name="value"):
    if isinstance(v, (int, np.integer)):
        return (int(v), int(v))
    v = tuple(int(a) for a in v)
    if len(v) == 1:
        return (v[0], v[0])
    if len(v) != 2:
        raise ValueError(f"{name} must be an int or a pair, got {v}")
    return v


def _resolve_padding(padding, kernel_hw, stride, dilation):
    """-> (top, bottom, left, right).

    'same' (PyTorch rule, stride must be 1): total = dilation * (k - 1) per dim,
    total // 2 before and the rest (one more when total is odd) after, i.e. the
    extra row/column goes to the bottom/right.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError("padding='same' is not supported for strided convolutions")
            pads = []
            for k, d in zip(kernel_hw, dilation):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
            return tuple(pads)
        raise ValueError(f"padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
    ph, pw = _pair(padding, "padding")
    if ph < 0 or pw < 0:
        raise ValueError("negative padding")
    return (ph, ph, pw, pw)


def conv2d_output_size(hw, kernel_hw, stride=1, pads=(0, 0, 0, 0), dilation=1):
    """floor((H + pad_top + pad_bottom - dilation*(R-1) - 1) / stride) + 1 per dim."""
    (sh, sw), (dh, dw) = _pair(stride), _pair(dilation)
    H, W = hw
    R, S = kernel_hw
    pt, pb, pl, pr = pads
    return ((H + pt + pb - dh * (R - 1) - 1) // sh + 1,
            (W + pl + pr - dw * (S - 1) - 1) // sw + 1)


def conv_transpose2d_output_size(hw, kernel_hw, stride=1, padding=0, output_padding=0,
                                 dilation=1):
    """(H - 1)*stride - 2*padding + dilation*(R-1) + output_padding + 1 per dim."""
    s, p, op, d = _pair(stride), _pair(padding), _pair(output_padding), _pair(dilation)
    return tuple((hw[i] - 1) * s[i] - 2 * p[i] + d[i] * (kernel_hw[i] - 1) + op[i] + 1
                 for i in range(2))


def _tap(a, r, s, stride, dilation, out_hw):
    """View of padded NCHW ``a``: the input pixels kernel tap (r, s) touches for
    every output pixel, shape (N, C, Ho, Wo)."""
    (sh, sw), (dh, dw), (Ho, Wo) = stride, dilation, out_hw
    h0, w0 = r * dh, s * dw
    return a[:, :, h0:h0 + sh * (Ho - 1) + 1:sh, w0:w0 + sw * (Wo - 1) + 1:sw]


def _check_groups(C, K, Cg, groups):
    if groups < 1 or C % groups or K % groups or C // groups != Cg:
        raise ValueError(f"bad groups={groups} for {C} input channels, weight (K={K}, C/g={Cg})")


# ---- the three primitive passes (explicit pads, no bias / activation) -------
def _conv_forward(x, w, stride, pads, dilation, groups):
    N, C, H, W = x.shape
    K, Cg, R, S = w.shape
    _check_groups(C, K, Cg, groups)
    G, Kg = groups, K // groups
    pt, pb, pl, pr = pads
    Ho, Wo = conv2d_output_size((H, W), (R, S), stride, pads, dilation)
    if Ho <= 0 or Wo <= 0:
        raise ValueError("input smaller than the (dilated) kernel")
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    wg = w.reshape(G, Kg, Cg, R, S)
    out = np.zeros((N, G, Kg, Ho * Wo))
    for r in range(R):
        for s in range(S):
            v = _tap(xp, r, s, stride, dilation, (Ho, Wo)).reshape(N, G, Cg, Ho * Wo)
            out += wg[:, :, :, r, s] @ v  # (G,Kg,Cg) @ (N,G,Cg,P) -> (N,G,Kg,P)
    return out.reshape(N, K, Ho, Wo)


def _conv_backward_data(go, w, x_shape, stride, pads, dilation, groups):
    """Adjoint of _conv_forward w.r.t. x: scatter-add every tap's contribution."""
    N, K, Ho, Wo = go.shape
    _, C, H, W = x_shape
    _, Cg, R, S = w.shape
    G, Kg = groups, K // groups
    pt, pb, pl, pr = pads
    gxp = np.zeros((N, C, H + pt + pb, W + pl + pr))
    gog = go.reshape(N, G, Kg, Ho * Wo)
    wg = w.reshape(G, Kg, Cg, R, S)
    for r in range(R):
        for s in range(S):
            contrib = np.swapaxes(wg[:, :, :, r, s], 1, 2) @ gog  # (N,G,Cg,P)
            view = _tap(gxp, r, s, stride, dilation, (Ho, Wo))
            view += contrib.reshape(N, C, Ho, Wo)  # writes through the view into gxp
    return gxp[:, :, pt:pt + H, pl:pl + W]


def _conv_backward_weight(go, x, w_shape, stride, pads, dilation, groups):
    N, K, Ho, Wo = go.shape
    _, Cg, R, S = w_shape
    G, Kg = groups, K // groups
    pt, pb, pl, pr = pads
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    gog = go.reshape(N, G, Kg, Ho * Wo)
    gw = np.zeros((G, Kg, Cg, R, S))
    for r in range(R):
        for s in range(S):
            v = _tap(xp, r, s, stride, dilation, (Ho, Wo)).reshape(N, G, Cg, Ho * Wo)
            gw[:, :, :, r, s] = (gog @ np.swapaxes(v, 2, 3)).sum(axis=0)  # (G,Kg,Cg)
    return gw.reshape(K, Cg, R, S)


# ---- conv2d -----------------------------------------------------------------
def _conv2d_args(weight, stride, padding, dilation):
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    pads = _resolve_padding(padding, weight.shape[2:], stride, dilation)
    return stride, pads, dilation


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, activation=None):
    """x (N, C, H, W), weight (K, C/groups, R, S), bias (K,) -> (N, K, Ho, Wo).

    padding: int | (ph, pw) | 'valid' | 'same' (see _resolve_padding).
    activation (None, 'relu', 'gelu', ...) is applied after the bias.
    """
    x, weight, bias = _f64(x), _f64(weight), _f64(bias)
    stride, pads, dilation = _conv2d_args(weight, stride, padding, dilation)
    z = _conv_forward(x, weight, stride, pads, dilation, groups)
    if bias is not None:
        z = z + bias.reshape(1, -1, 1, 1)
    return get_activation(activation)[0](z)


def conv2d_backward(grad_out, x, weight, bias=None, stride=1, padding=0, dilation=1,
                    groups=1, activation=None):
    """-> (grad_x (N,C,H,W), grad_weight (K,C/g,R,S), grad_bias (K,) or None)."""
    x, weight, bias, g = _f64(x), _f64(weight), _f64(bias), _f64(grad_out)
    stride, pads, dilation = _conv2d_args(weight, stride, padding, dilation)
    if activation is not None:
        z = _conv_forward(x, weight, stride, pads, dilation, groups)
        if bias is not None:
            z = z + bias.reshape(1, -1, 1, 1)
        g = get_activation(activation)[1](g, z)
    gx = _conv_backward_data(g, weight, x.shape, stride, pads, dilation, groups)
    gw = _conv_backward_weight(g, x, weight.shape, stride, pads, dilation, groups)
    gb = g.sum(axis=(0, 2, 3)) if bias is not None else None
    return gx, gw, gb


# ---- conv_transpose2d -------------------------------------------------------
def _convt_args(x, weight, stride, padding, output_padding, dilation, groups):
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    p, op = _pair(padding, "padding"), _pair(output_padding, "output_padding")
    for i in range(2):
        if not (op[i] < stride[i] or op[i] < dilation[i]):
            raise ValueError("output_padding must be smaller than either stride or dilation")
    N, Cin, H, W = x.shape
    Cin_w, Coutg, R, S = weight.shape
    if Cin_w != Cin or Cin % groups:
        raise ValueError(f"weight {weight.shape} does not match input channels {Cin}, groups {groups}")
    Ho, Wo = conv_transpose2d_output_size((H, W), (R, S), stride, p, op, dilation)
    out_shape = (N, Coutg * groups, Ho, Wo)
    # y is the data-gradient of a conv whose input has out_shape and whose pads are
    # p on every side; output_padding only enlarges y at the bottom/right.
    pads = (p[0], p[0], p[1], p[1])
    return stride, pads, dilation, out_shape


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """x (N, C_in, H, W), weight (C_in, C_out/groups, R, S), bias (C_out,)
    -> (N, C_out, (H-1)*stride - 2*padding + dilation*(R-1) + output_padding + 1, ...).

    The adjoint of conv2d(y, weight, stride, padding, dilation, groups) w.r.t. y.
    """
    x, weight, bias = _f64(x), _f64(weight), _f64(bias)
    stride, pads, dilation, out_shape = _convt_args(x, weight, stride, padding,
                                                    output_padding, dilation, groups)
    y = _conv_backward_data(x, weight, out_shape, stride, pads, dilation, groups)
    if bias is not None:
        y = y + bias.reshape(1, -1, 1, 1)
    return y


def conv_transpose2d_backward(grad_out, x, weight, bias=None, stride=1, padding=0,
                              output_padding=0, groups=1, dilation=1):
    """-> (grad_x, grad_weight (C_in, C_out/g, R, S), grad_bias or None)."""
    x, weight, bias, g = _f64(x), _f64(weight), _f64(bias), _f64(grad_out)
    stride, pads, dilation, out_shape = _convt_args(x, weight, stride, padding,
                                                    output_padding, dilation, groups)
    # grad_x: the plain conv of grad_out; crop in case output_padding >= stride
    # (allowed when dilation > output_padding) produced extra rows/cols.
    gx = _conv_forward(g, weight, stride, pads, dilation, groups)[:, :, :x.shape[2], :x.shape[3]]
    # grad_weight: x plays the conv's grad_out, grad_out plays the conv's input.
    gw = _conv_backward_weight(x, g, weight.shape, stride, pads, dilation, groups)
    gb = g.sum(axis=(0, 2, 3)) if bias is not None else None
    return gx, gw, gb


# ---- 1-D versions via H = 1 -------------------------------------------------
def _single(v):
    if isinstance(v, (int, np.integer)):
        return int(v)
    v = tuple(v)
    if len(v) != 1:
        raise ValueError(f"expected an int or a 1-tuple, got {v}")
    return int(v[0])


def _to2d(x, weight, stride, padding, dilation):
    x2 = _f64(x)[:, :, None, :]
    w2 = _f64(weight)[:, :, None, :]
    pad2 = padding if isinstance(padding, str) else (0, _single(padding))
    return x2, w2, (1, _single(stride)), pad2, (1, _single(dilation))


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, activation=None):
    """x (N, C, L), weight (K, C/groups, Ks) -> (N, K, Lo); padding int | 'same' | 'valid'."""
    x2, w2, s2, p2, d2 = _to2d(x, weight, stride, padding, dilation)
    return conv2d(x2, w2, bias, s2, p2, d2, groups, activation)[:, :, 0, :]


def conv1d_backward(grad_out, x, weight, bias=None, stride=1, padding=0, dilation=1,
                    groups=1, activation=None):
    """-> (grad_x (N,C,L), grad_weight (K,C/g,Ks), grad_bias or None)."""
    x2, w2, s2, p2, d2 = _to2d(x, weight, stride, padding, dilation)
    gx, gw, gb = conv2d_backward(_f64(grad_out)[:, :, None, :], x2, w2, bias, s2, p2, d2,
                                 groups, activation)
    return gx[:, :, 0, :], gw[:, :, 0, :], gb


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """x (N, C_in, L), weight (C_in, C_out/groups, Ks) -> (N, C_out, Lo)."""
    x2, w2 = _f64(x)[:, :, None, :], _f64(weight)[:, :, None, :]
    return conv_transpose2d(x2, w2, bias, (1, _single(stride)), (0, _single(padding)),
                            (0, _single(output_padding)), groups,
                            (1, _single(dilation)))[:, :, 0, :]


def conv_transpose1d_backward(grad_out, x, weight, bias=None, stride=1, padding=0,
                              output_padding=0, groups=1, dilation=1):
    x2, w2 = _f64(x)[:, :, None, :], _f64(weight)[:, :, None, :]
    gx, gw, gb = conv_transpose2d_backward(
        _f64(grad_out)[:, :, None, :], x2, w2, bias, (1, _single(stride)),
        (0, _single(padding)), (0, _single(output_padding)), groups, (1, _single(dilation)))
    return gx[:, :, 0, :], gw[:, :, 0, :], gb
