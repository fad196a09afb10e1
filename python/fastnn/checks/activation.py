"""Activation parity cases: forward and backward of every activation against the float64 oracle."""
from __future__ import annotations

from typing import Iterator

from ..ops import activation as act
from ..reference import activation as ract
from ..testing import rand, rng
from . import Case

# name → (forward, backward, reference forward, reference backward, kwargs)
ACTIVATIONS = {
    "relu": (act.relu, act.relu_backward, ract.relu, ract.relu_backward, {}),
    "leaky_relu": (act.leaky_relu, act.leaky_relu_backward, ract.leaky_relu, ract.leaky_relu_backward,
                   {"negative_slope": 0.1}),
    "gelu": (act.gelu, act.gelu_backward, ract.gelu, ract.gelu_backward, {}),
    "gelu_tanh": (act.gelu, act.gelu_backward, ract.gelu, ract.gelu_backward, {"approximate": "tanh"}),
    "silu": (act.silu, act.silu_backward, ract.silu, ract.silu_backward, {}),
    "sigmoid": (act.sigmoid, act.sigmoid_backward, ract.sigmoid, ract.sigmoid_backward, {}),
    "tanh": (act.tanh, act.tanh_backward, ract.tanh, ract.tanh_backward, {}),
    "softplus": (act.softplus, act.softplus_backward, ract.softplus, ract.softplus_backward, {"beta": 2.0}),
}


def _case(name, shape, backward, transposed, seed) -> Case:
    f, b, rf, rb, kw = ACTIVATIONS[name]

    def run():
        g = rng(seed)
        x = rand(shape[::-1] if transposed else shape, gen=g, low=-8, high=8)
        x = x.T if transposed else x
        if not backward:
            return f(x, **kw), rf(x, **kw), 1
        go = rand(x.shape, gen=g)
        return b(go, x, **kw), rb(go, x, **kw), 1

    op = f"{name}_backward" if backward else name
    return Case(op, f"{shape}{' T' if transposed else ''}", run)


def _case_from_output(name, shape, seed) -> Case:
    """sigmoid_backward / tanh_backward from the forward output (y=)."""
    f, b, _, rb, _ = ACTIVATIONS[name]

    def run():
        g = rng(seed)
        y = f(rand(shape, gen=g, low=-8, high=8))
        go = rand(shape, gen=g)
        return b(go, y=y), rb(go, y=y), 1

    return Case(f"{name}_backward(y=)", f"{shape}", run)


def cases(device: str, quick: bool) -> Iterator[Case]:
    if device != "cpu":
        return
    shapes = [(7,), (129, 33)] if quick else [(1,), (7,), (129, 33), (1000, 257), (4, 3, 65_537)]
    for name in ACTIVATIONS:
        for i, shape in enumerate(shapes):
            for backward in (False, True):
                yield _case(name, shape, backward, False, seed=i)
        yield _case(name, (37, 45), False, True, seed=99)
    for name in ("sigmoid", "tanh"):
        for i, shape in enumerate(shapes):
            yield _case_from_output(name, shape, seed=i)
