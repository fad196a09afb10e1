"""The tape: topological order, accumulation, no_grad, detach, broadcasting-aware gradients,
freed graphs, retain_graph / retain_grad, and float64 finite differences for every Tensor op."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import Tensor
from fastnn.autograd import Function
from fastnn.nn import functional as F

torch = pytest.importorskip("torch")


def R(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def T(a, rg=True):
    return Tensor(np.array(a), requires_grad=rg)


def test_diamond_runs_each_node_once_in_topological_order():
    calls = []

    class Tap(Function):
        @staticmethod
        def forward(ctx, x, tag):
            ctx.tag = tag
            return x.copy()

        @staticmethod
        def backward(ctx, g):
            calls.append(ctx.tag)
            return g

    x = T(R(3))
    a = Tap.apply(x, "a")
    b = Tap.apply(a * 2.0, "b")
    c = Tap.apply(a * 3.0, "c")
    d = Tap.apply(b + c + a, "d")
    d.sum().backward()
    assert calls[0] == "d" and calls[-1] == "a" and sorted(calls) == ["a", "b", "c", "d"]
    np.testing.assert_allclose(x.grad.data, 6.0)  # 2 + 3 + 1, summed before a's backward ran


def test_accumulation_over_calls_and_uses():
    x = T(R(4))
    y = x * x + x
    y.sum().backward()
    first = x.grad.data.copy()
    np.testing.assert_allclose(first, 2 * x.data + 1, rtol=1e-6)
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.data, first + 3, rtol=1e-6)


def test_gradients_of_a_shared_upstream_never_alias():
    a, b = T(R(3)), T(R(3, seed=1))
    (a + b).sum().backward()
    assert a.grad.data is not b.grad.data
    a.grad.data[...] = 7
    assert np.all(b.grad.data == 1)
    c = T(R(2, 3))
    u = T(R(6))
    (c.reshape(6) + u).sum().backward()
    c.grad.data[...] = 0
    assert np.all(u.grad.data == 1)


def test_no_grad_detach_and_requires_grad_propagation():
    x = T(R(3))
    with fastnn.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    z = x.detach() * 2 + x
    assert z.requires_grad
    z.sum().backward()
    np.testing.assert_allclose(x.grad.data, 1.0)
    assert not (Tensor(R(2)) * 2).requires_grad

    @fastnn.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad and fastnn.is_grad_enabled()
    with fastnn.no_grad():
        with fastnn.enable_grad():
            assert (x * 2).requires_grad
    with fastnn.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert fastnn.is_grad_enabled()


def test_freed_graph_error_and_retain_graph():
    x = T(R(3))
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.data, 4 * x.data, rtol=1e-6)
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*retain_graph=True"):
        y.backward()


def test_backward_errors():
    x = T(R(3))
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor(R(3)).sum().backward()
    with pytest.raises(RuntimeError, match="implicitly created only for scalar"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="gradient has shape"):
        (x * 2).backward(np.ones(4, np.float32))


def test_retain_grad_multiple_roots_and_unused_outputs():
    x = T(R(2, 3))
    h = x * 2
    h.retain_grad()
    a, b = h.split([1, 1], 0)          # b unused: its gradient is zero
    s = a.sum() * 3
    fastnn.autograd.backward([s, x.sum()], [np.float32(1), np.float32(2)])
    np.testing.assert_allclose(h.grad.data, [[3, 3, 3], [0, 0, 0]])
    np.testing.assert_allclose(x.grad.data, [[8, 8, 8], [2, 2, 2]])
    v, i = T(R(4, 5)).max(1)            # integer output never gets a gradient
    assert not i.requires_grad


def test_deep_graph_has_no_recursion_limit():
    x = T(np.ones(2, np.float32))
    y = x
    for _ in range(5000):
        y = y * 1.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, 1)


def test_graph_is_freed_after_backward():
    x = T(R(3))
    y = (x * 2).sum()
    node = y.grad_fn
    y.backward()
    assert node.ctx is None


def test_custom_function_and_grad_shape_check():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x.copy()

        @staticmethod
        def backward(ctx, g):
            return g[:1]

    with pytest.raises(RuntimeError, match="BadBackward returned a gradient of shape"):
        Bad.apply(T(R(3))).sum().backward()


# ---- broadcasting-aware gradients against PyTorch (float32, kernel route) ----------------------

BROADCAST = [
    ("add", lambda a, b: a + b, (3, 1, 4), (5, 1)),
    ("sub", lambda a, b: a - b, (2, 3), (3,)),
    ("mul", lambda a, b: a * b, (4, 1), (1, 5)),
    ("div", lambda a, b: a / b, (2, 3, 1), (1, 4)),
    ("matmul_batch", lambda a, b: a @ b, (2, 1, 3, 4), (5, 4, 2)),
    ("matmul_vec_mat", lambda a, b: a @ b, (4,), (3, 4, 2)),
    ("matmul_mat_vec", lambda a, b: a @ b, (2, 3, 4), (4,)),
    ("matmul_vec_vec", lambda a, b: a @ b, (4,), (4,)),
]


@pytest.mark.parametrize("name,fn,sa,sb", BROADCAST, ids=[c[0] for c in BROADCAST])
def test_broadcasting_gradients_match_torch(name, fn, sa, sb):
    a, b = R(*sa), R(*sb, seed=1)
    if name == "div":
        b = np.abs(b) + 0.5
    fa, fb = T(a), T(b)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    fy, ty = fn(fa, fb), fn(ta, tb)
    np.testing.assert_allclose(fy.data, ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = R(*ty.shape, seed=2)
    fy.backward(g)
    ty.backward(torch.tensor(g))
    assert fa.grad.shape == sa and fb.grad.shape == sb
    np.testing.assert_allclose(fa.grad.data, ta.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fb.grad.data, tb.grad.numpy(), rtol=1e-5, atol=1e-5)


# ---- float64 central differences for every Tensor op (the float64 oracle route) ---------------

def _fd(fn, arrays, eps=1e-6):
    ts = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = fn(*ts)
    G = np.random.default_rng(9).standard_normal(out.shape)
    out.backward(G)
    for i, a in enumerate(arrays):
        d = np.random.default_rng(i).standard_normal(a.shape)
        with fastnn.no_grad():
            plus = [Tensor(b + eps * d if j == i else b) for j, b in enumerate(arrays)]
            minus = [Tensor(b - eps * d if j == i else b) for j, b in enumerate(arrays)]
            num = (np.sum(G * fn(*plus).data) - np.sum(G * fn(*minus).data)) / (2 * eps)
        ana = np.sum(ts[i].grad.data * d)
        assert abs(num - ana) <= 1e-6 * max(abs(num), 1e-3), f"input {i}: {num} vs {ana}"


P = lambda *s: np.abs(R(*s, seed=3, dtype=np.float64)) + 0.5  # noqa: E731  (positive operands)
D = lambda *s: R(*s, seed=4, dtype=np.float64)               # noqa: E731
OPS = [
    ("add_sub_mul_broadcast", lambda a, b: (a + b) * a - b * 2.0 - 1.0, [D(3, 4), D(4)]),
    ("div_pow_rsub", lambda a, b: 1.0 - a / b + (a ** 3) / 3.0 + 2.0 / b, [D(2, 3), P(2, 1)]),
    ("exp_log_sqrt", lambda a, b: a.exp() * b.log() + b.sqrt(), [D(3, 2), P(3, 2)]),
    ("matmul", lambda a, b: (a @ b) @ b.transpose(-1, -2), [D(2, 3, 4), D(4, 4)]),
    ("reductions", lambda a: a.sum(0).sum() * a.mean(1, keepdim=True) + a.max(1)[0].reshape(3, 1) + a.max(), [D(3, 5)]),
    ("views", lambda a: a.permute(2, 0, 1).reshape(4, 6)[1:, ::2].T.unsqueeze(0).flatten(), [D(2, 3, 4)]),
    ("index_advanced_repeat", lambda a: a[np.array([0, 2, 2, 1])] * a[:, np.array([1, 1])].sum(), [D(3, 2)]),
    ("cat_stack_split", lambda a, b: fastnn.cat([a, b], 1).split([3, 4], 1)[1] + fastnn.stack([b, b], 0).sum(0)[:, :4],
     [D(2, 2), D(2, 5)]),
    ("expand_masked_fill", lambda a: a.expand(3, 4, 2).masked_fill(np.eye(4, 2, dtype=bool), 0.0), [D(4, 1)]),
    ("softmax_log_softmax", lambda a: F.softmax(a, 0) * F.log_softmax(a, -1), [D(3, 4)]),
    ("activations", lambda a: F.relu(a) + F.gelu(a) + F.silu(a) + F.tanh(a) + F.sigmoid(a) + F.softplus(a, 2.0)
     + F.leaky_relu(a, 0.1), [D(5, 3)]),
    ("to_dtype_chain", lambda a: (a.float().double() * 1.0), [D(3)]),
]


@pytest.mark.parametrize("name,fn,arrays", OPS, ids=[c[0] for c in OPS])
def test_tensor_op_finite_differences(name, fn, arrays):
    if name == "to_dtype_chain":  # passes through float32: only the shape of the graph is checked
        t = Tensor(arrays[0], requires_grad=True)
        fn(t).sum().backward()
        np.testing.assert_allclose(t.grad.data, 1.0)
        return
    if name == "activations":
        arrays[0][np.abs(arrays[0]) < 1e-3] = 0.3  # no kinks next to the evaluation point
    _fd(fn, arrays)


def test_float64_oracle_route_rejects_other_dtypes():
    with pytest.raises(TypeError, match="expected a float32 array"):
        fastnn.autograd.kernels.add(np.ones(2, np.float16), np.ones(2, np.float16))
