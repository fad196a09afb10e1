"""Convolution parity cases: conv2d (every padding/stride/dilation/groups feature, fused
activations, depthwise), its three gradients, conv_transpose2d and conv1d. CPU only."""
from __future__ import annotations

from typing import Iterator

from .. import ops
from ..reference import conv as rconv
from ..testing import rand, rng
from . import Case

# (label, N, C, H, W, K, R, S, stride, padding, dilation, groups, activation)
_CONV2D = [
    ("3x3", 2, 16, 13, 15, 24, 3, 3, 1, 1, 1, 1, None),
    ("3x3 relu", 2, 32, 14, 14, 32, 3, 3, 1, 1, 1, 1, "relu"),
    ("1x1", 2, 64, 7, 9, 33, 1, 1, 1, 0, 1, 1, None),
    ("7x7/2 stem", 1, 3, 33, 31, 16, 7, 7, 2, 3, 1, 1, None),
    ("3x3/2 dil2 groups2", 1, 8, 17, 19, 12, 3, 3, 2, 2, 2, 2, "silu"),
    ("same 4x2", 1, 5, 11, 10, 7, 4, 2, 1, "same", 1, 1, "gelu"),
    ("depthwise 3x3", 2, 32, 14, 13, 32, 3, 3, 1, 1, 1, 32, "tanh"),
    ("depthwise 5x5/2 x2", 1, 8, 15, 15, 16, 5, 5, 2, 2, 1, 8, None),
]
_QUICK = {"3x3", "7x7/2 stem", "depthwise 3x3"}


def _conv2d_cases(label, N, C, H, W, K, R, S, stride, padding, dilation, groups, act, seed):
    def inputs():
        g = rng(seed)
        x, w, b = rand((N, C, H, W), gen=g), rand((K, C // groups, R, S), gen=g), rand((K,), gen=g)
        y = rconv.conv2d(x, w, b, stride, padding, dilation, groups, act)
        return x, w, b, rand(y.shape, gen=g), y

    shape = f"{label} x=({N},{C},{H},{W}) w=({K},{C // groups},{R},{S})"

    def fwd():
        x, w, b, _, y = inputs()
        return ops.conv.conv2d(x, w, b, stride, padding, dilation, groups, act), y, (C // groups) * R * S

    def grad(i):
        def run():
            x, w, b, go, y = inputs()
            got = ops.conv.conv2d_backward(go, x, w, b, stride, padding, dilation, groups, act)
            want = rconv.conv2d_backward(go, x, w, b, stride, padding, dilation, groups, act)
            k = ((K // groups) * R * S, N * y.shape[2] * y.shape[3], N * y.shape[2] * y.shape[3])[i]
            return got[i], want[i], k
        return run

    yield Case("conv2d", shape, fwd)
    for i, name in enumerate(("grad_x", "grad_weight", "grad_bias")):
        yield Case(f"conv2d_backward.{name}", shape, grad(i))


def _transpose_cases(quick):
    cfgs = [("DCGAN 4x4/2", 2, 32, 4, 4, 16, 4, 4, 2, 1, 0, 1, 1)]
    if not quick:
        cfgs.append(("3x3/2 op1 groups2", 1, 8, 5, 6, 6, 3, 3, 2, 1, 1, 2, 1))
    for label, N, Cin, H, W, Cout, R, S, stride, pad, opad, groups, dil in cfgs:
        def inputs(seed=H + Cin):
            g = rng(seed)
            x, w, b = rand((N, Cin, H, W), gen=g), rand((Cin, Cout // groups, R, S), gen=g), rand((Cout,), gen=g)
            y = rconv.conv_transpose2d(x, w, b, stride, pad, opad, groups, dil)
            return x, w, b, rand(y.shape, gen=g), y

        shape = f"{label} x=({N},{Cin},{H},{W}) w=({Cin},{Cout // groups},{R},{S})"

        def fwd(inputs=inputs, stride=stride, pad=pad, opad=opad, groups=groups, dil=dil, k=(Cin // groups) * R * S):
            x, w, b, _, y = inputs()
            return ops.conv.conv_transpose2d(x, w, b, stride, pad, opad, groups, dil), y, k

        def grad(i, inputs=inputs, stride=stride, pad=pad, opad=opad, groups=groups, dil=dil,
                 ks=((Cout // groups) * R * S, N * H * W, None)):
            def run():
                x, w, b, go, y = inputs()
                got = ops.conv.conv_transpose2d_backward(go, x, w, b, stride, pad, opad, groups, dil)
                want = rconv.conv_transpose2d_backward(go, x, w, b, stride, pad, opad, groups, dil)
                return got[i], want[i], ks[i] or N * y.shape[2] * y.shape[3]
            return run

        yield Case("conv_transpose2d", shape, fwd)
        for i, name in enumerate(("grad_x", "grad_weight", "grad_bias")):
            yield Case(f"conv_transpose2d_backward.{name}", shape, grad(i))


def _conv1d_case():
    def run():
        g = rng(5)
        x, w, b = rand((2, 12, 57), gen=g), rand((10, 6, 5), gen=g), rand((10,), gen=g)
        return ops.conv.conv1d(x, w, b, 2, 2, 1, 2, "relu"), rconv.conv1d(x, w, b, 2, 2, 1, 2, "relu"), 30

    return Case("conv1d", "x=(2,12,57) w=(10,6,5) stride 2 groups 2", run)


def cases(device: str, quick: bool) -> Iterator[Case]:
    if device != "cpu":
        return
    for i, cfg in enumerate(_CONV2D):
        if quick and cfg[0] not in _QUICK:
            continue
        yield from _conv2d_cases(*cfg, seed=i)
    yield from _transpose_cases(quick)
    yield _conv1d_case()
