"""Loss oracles vs PyTorch float64 autograd."""
import numpy as np
import pytest

from fastnn.reference import loss as rloss

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL, ATOL = 1e-10, 1e-12


def T(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def close(ours, theirs):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


def _grad_out(rng, reduction, shape):
    return rng.standard_normal(shape) if reduction == "none" else rng.standard_normal()


@pytest.mark.parametrize("shape", [(7, 5), (1, 1), (3, 4, 5, 2), (2, 3, 7), (5,)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 2])
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy(shape, weighted, ignore_index, smoothing, reduction):
    rng = np.random.default_rng(sum(shape))
    C = shape[1] if len(shape) > 1 else shape[0]
    logits = rng.standard_normal(shape) * 3
    tshape = (shape[0],) + shape[2:] if len(shape) > 1 else ()
    target = rng.integers(0, C, size=tshape)
    if len(shape) > 1 and target.size > 2:
        target.flat[::3] = ignore_index if ignore_index < 0 else target.flat[::3]
    weight = rng.uniform(0.2, 2.0, C) if weighted else None
    kw = dict(weight=weight, ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing)
    lt = T(logits, True)
    yt = F.cross_entropy(lt, torch.tensor(target), weight=None if weight is None else T(weight),
                         ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing)
    g = _grad_out(rng, reduction, tuple(yt.shape))
    yt.backward(T(g))
    close(rloss.cross_entropy(logits, target, **kw), yt)
    close(rloss.cross_entropy_backward(g, logits, target, **kw), lt.grad)


def test_cross_entropy_all_ignored_is_nan():
    logits = np.random.default_rng(0).standard_normal((3, 4))
    t = np.full(3, -100)
    assert np.isnan(rloss.cross_entropy(logits, t))
    assert np.isnan(F.cross_entropy(T(logits), torch.tensor(t)).item())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy(reduction, weighted):
    rng = np.random.default_rng(3)
    p = rng.uniform(0.01, 0.99, (7, 3))
    p[0, 0], p[1, 1] = 1e-50, 1.0 - 1e-12  # exercise the log clamp region
    t = rng.uniform(0, 1, (7, 3))
    w = rng.uniform(0.5, 2, (7, 3)) if weighted else None
    pt = T(p, True)
    yt = F.binary_cross_entropy(pt, T(t), weight=None if w is None else T(w), reduction=reduction)
    g = _grad_out(rng, reduction, tuple(yt.shape))
    yt.backward(T(g))
    close(rloss.binary_cross_entropy(p, t, w, reduction), yt)
    close(rloss.binary_cross_entropy_backward(g, p, t, w, reduction), pt.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos", [False, True])
def test_bce_with_logits(reduction, weighted, pos):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 7, 3)) * 10
    t = rng.uniform(0, 1, (5, 7, 3))
    w = rng.uniform(0.5, 2, (7, 1)) if weighted else None
    pw = rng.uniform(0.5, 3, 3) if pos else None
    xt = T(x, True)
    yt = F.binary_cross_entropy_with_logits(xt, T(t), weight=None if w is None else T(w),
                                            pos_weight=None if pw is None else T(pw), reduction=reduction)
    g = _grad_out(rng, reduction, tuple(yt.shape))
    yt.backward(T(g))
    close(rloss.binary_cross_entropy_with_logits(x, t, w, pw, reduction), yt)
    close(rloss.binary_cross_entropy_with_logits_backward(g, x, t, w, pw, reduction), xt.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse(reduction):
    rng = np.random.default_rng(5)
    x, t = rng.standard_normal((3, 13)), rng.standard_normal((3, 13))
    xt = T(x, True)
    yt = F.mse_loss(xt, T(t), reduction=reduction)
    g = _grad_out(rng, reduction, tuple(yt.shape))
    yt.backward(T(g))
    close(rloss.mse_loss(x, t, reduction), yt)
    close(rloss.mse_loss_backward(g, x, t, reduction), xt.grad)
