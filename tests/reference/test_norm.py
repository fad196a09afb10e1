"""layer_norm / rms_norm / batch_norm oracles vs PyTorch float64 autograd."""
import numpy as np
import pytest

from fastnn.reference import norm as rnorm

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL, ATOL = 1e-10, 1e-12


def T(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def close(ours, theirs):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


def _run(tfn, arrays, g):
    ts = [None if a is None else T(a, True) for a in arrays]
    y = tfn(*ts)
    y.backward(T(g))
    return y, [None if t is None else t.grad for t in ts]


@pytest.mark.parametrize("xshape,ns", [((4, 13), (13,)), ((2, 3, 7), (7,)), ((2, 3, 5), (3, 5)), ((3, 1), (1,)), ((13,), 13)])
@pytest.mark.parametrize("affine", [(True, True), (True, False), (False, False)])
def test_layer_norm(xshape, ns, affine):
    rng = np.random.default_rng(len(xshape))
    x = rng.standard_normal(xshape) * 3 + 1
    nshape = (ns,) if isinstance(ns, int) else ns
    w = rng.standard_normal(nshape) if affine[0] else None
    b = rng.standard_normal(nshape) if affine[1] else None
    g = rng.standard_normal(xshape)
    y, grads = _run(lambda x_, w_, b_: F.layer_norm(x_, nshape, w_, b_, 1e-5), [x, w, b], g)
    close(rnorm.layer_norm(x, ns, w, b), y)
    for ours, theirs in zip(rnorm.layer_norm_backward(g, x, ns, w, b), grads):
        if theirs is None:
            assert ours is None
        else:
            close(ours, theirs)


@pytest.mark.parametrize("xshape,ns", [((4, 13), (13,)), ((2, 3, 7), (3, 7)), ((5,), (5,))])
@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("eps", [None, 1e-6])
def test_rms_norm(xshape, ns, weighted, eps):
    rng = np.random.default_rng(len(xshape) + 7)
    x = rng.standard_normal(xshape) * 0.1  # small scale so eps matters
    w = rng.standard_normal(ns) if weighted else None
    g = rng.standard_normal(xshape)
    y, grads = _run(lambda x_, w_: F.rms_norm(x_, ns, w_, eps), [x, w], g)
    close(rnorm.rms_norm(x, ns, w, eps), y)
    gx, gw = rnorm.rms_norm_backward(g, x, ns, w, eps)
    close(gx, grads[0])
    if weighted:
        close(gw, grads[1])
    else:
        assert gw is None


def test_rms_norm_default_eps_follows_input_dtype():
    x = np.full((1, 4), 1e-4, dtype=np.float32)
    v = float(x[0, 0])  # float32(1e-4), computed on in float64
    expected = v / np.sqrt(v * v + float(np.finfo(np.float32).eps))
    np.testing.assert_allclose(rnorm.rms_norm(x, (4,)), expected, rtol=1e-12)
    np.testing.assert_allclose(rnorm.rms_norm(x, (4,)), F.rms_norm(torch.tensor(x), (4,)).numpy(), rtol=1e-6)


@pytest.mark.parametrize("xshape", [(7, 3), (2, 3, 5), (3, 4, 5, 7), (2, 1, 3, 3)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm(xshape, training, affine):
    rng = np.random.default_rng(sum(xshape))
    C = xshape[1]
    x = rng.standard_normal(xshape) * 2 + 0.5
    rm, rv = rng.standard_normal(C), rng.uniform(0.5, 2.0, C)
    w = rng.standard_normal(C) if affine else None
    b = rng.standard_normal(C) if affine else None
    g = rng.standard_normal(xshape)
    rm_t, rv_t = T(rm), T(rv)  # torch updates these in place
    y, grads = _run(lambda x_, w_, b_: F.batch_norm(x_, rm_t, rv_t, w_, b_, training, 0.3, 1e-4),
                    [x, w, b], g)
    yo, new_rm, new_rv = rnorm.batch_norm(x, rm, rv, w, b, training, 0.3, 1e-4)
    close(yo, y)
    close(new_rm, rm_t)
    close(new_rv, rv_t)
    for ours, theirs in zip(rnorm.batch_norm_backward(g, x, w, b, rm, rv, training, 1e-4), grads):
        if theirs is None:
            assert ours is None
        else:
            close(ours, theirs)


def test_batch_norm_training_single_value_raises():
    with pytest.raises(ValueError):
        rnorm.batch_norm(np.ones((1, 3)), np.zeros(3), np.ones(3), training=True)
