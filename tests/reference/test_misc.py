"""embedding, dropout, optimizers and reductions vs PyTorch float64."""
import numpy as np
import pytest

from fastnn.reference import dropout as rdrop
from fastnn.reference import embedding as remb
from fastnn.reference import optimizer as ropt
from fastnn.reference import reduce as rred

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL, ATOL = 1e-10, 1e-12


def T(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def close(ours, theirs, rtol=RTOL, atol=ATOL):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


# ---- embedding --------------------------------------------------------------
@pytest.mark.parametrize("ishape", [(7,), (3, 5), (1, 1), (2, 3, 4)])
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding(ishape, padding_idx):
    rng = np.random.default_rng(len(ishape))
    num, D = 6, 13
    w = rng.standard_normal((num, D))
    idx = rng.integers(0, num, ishape)
    idx.flat[0] = 2  # make sure duplicates and the padding row occur
    idx.flat[-1] = 2
    wt = T(w, True)
    yt = F.embedding(torch.tensor(idx), wt, padding_idx=padding_idx)
    g = rng.standard_normal(tuple(yt.shape))
    yt.backward(T(g))
    close(remb.embedding(idx, w, padding_idx), yt)
    close(remb.embedding_backward(g, idx, num, padding_idx), wt.grad)


# ---- dropout ----------------------------------------------------------------
@pytest.mark.parametrize("p", [0.0, 0.3, 0.9, 1.0])
def test_dropout_with_mask(p):
    rng = np.random.default_rng(1)
    x, g = rng.standard_normal((7, 13)), rng.standard_normal((7, 13))
    mask = rng.random((7, 13)) >= p
    scale = 0.0 if p == 1 else 1 / (1 - p)
    close(rdrop.dropout_with_mask(x, mask, p), x * mask * scale)
    close(rdrop.dropout_with_mask_backward(g, x, mask, p), g * mask * scale)
    # torch's own dropout with the mask it drew must agree with ours on that mask
    torch.manual_seed(0)
    xt = T(x, True)
    yt = F.dropout(xt, p, training=True)
    tmask = (yt != 0).numpy() if p < 1 else np.zeros_like(mask)
    close(rdrop.dropout_with_mask(x, tmask, p), yt)


# ---- optimizers -------------------------------------------------------------
def _torch_steps(opt_cls, p0, grads, **kw):
    pt = T(p0, True)
    opt = opt_cls([pt], **kw)
    out = []
    for g in grads:
        pt.grad = T(g)
        opt.step()
        state = {k: (v.detach().clone() if isinstance(v, torch.Tensor) else v) for k, v in opt.state[pt].items()}
        out.append((pt.detach().numpy().copy(), state))  # snapshot: torch updates in place
    return out


SGD_CONFIGS = [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01),
    dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1),
    dict(lr=0.05, momentum=0.5, maximize=True),
]


@pytest.mark.parametrize("cfg", SGD_CONFIGS)
def test_sgd(cfg):
    rng = np.random.default_rng(2)
    p0 = rng.standard_normal((3, 7))
    grads = [rng.standard_normal((3, 7)) for _ in range(4)]
    ref = _torch_steps(torch.optim.SGD, p0, grads, **cfg)
    p, buf = p0, None
    for step, (g, (pt, state)) in enumerate(zip(grads, ref), start=1):
        p_in, buf_in = p.copy(), None if buf is None else buf.copy()
        p_new, buf_new = ropt.sgd_step(p, g, buf, step=step, **cfg)
        np.testing.assert_array_equal(p, p_in)  # inputs are never mutated
        if buf is not None:
            np.testing.assert_array_equal(buf, buf_in)
        p, buf = p_new, buf_new
        close(p, pt)
        if cfg.get("momentum", 0):
            close(buf, state["momentum_buffer"])
        else:
            assert buf is None


ADAM_CONFIGS = [
    dict(lr=1e-2),
    dict(lr=1e-2, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1),
    dict(lr=1e-2, amsgrad=True, weight_decay=0.05),
    dict(lr=1e-2, maximize=True),
]


@pytest.mark.parametrize("cfg", ADAM_CONFIGS)
@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_adamw(cfg, decoupled):
    rng = np.random.default_rng(3)
    p0 = rng.standard_normal((5, 3))
    grads = [rng.standard_normal((5, 3)) * 0.1 ** i for i in range(5)]
    ref = _torch_steps(torch.optim.AdamW if decoupled else torch.optim.Adam, p0, grads, **cfg)
    kw = dict(cfg)
    b1, b2 = kw.pop("betas", (0.9, 0.999))
    kw.setdefault("weight_decay", 1e-2 if decoupled else 0.0)  # torch class defaults
    fn = ropt.adamw_step if decoupled else ropt.adam_step
    p, m, v, vmax = p0, np.zeros_like(p0), np.zeros_like(p0), None
    for step, (g, (pt, state)) in enumerate(zip(grads, ref), start=1):
        before = (p.copy(), m.copy(), v.copy())
        p2, m2, v2, vmax = fn(p, g, m, v, step=step, beta1=b1, beta2=b2, max_exp_avg_sq=vmax, **kw)
        for a, b in zip(before, (p, m, v)):
            np.testing.assert_array_equal(a, b)  # inputs are never mutated
        p, m, v = p2, m2, v2
        close(p, pt)
        close(m, state["exp_avg"])
        close(v, state["exp_avg_sq"])
        if cfg.get("amsgrad"):
            close(vmax, state["max_exp_avg_sq"])


# ---- reductions / broadcasting ----------------------------------------------
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2), (1,), (0, 1, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum_mean(axis, keepdims):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 5, 7))
    dim = None if axis is None else axis
    for ours, ours_b, tfn in [(rred.sum, rred.sum_backward, torch.sum), (rred.mean, rred.mean_backward, torch.mean)]:
        xt = T(x, True)
        yt = tfn(xt) if dim is None else tfn(xt, dim=dim, keepdim=keepdims)
        y = ours(x, axis, keepdims=keepdims if axis is not None else False)
        g = rng.standard_normal(tuple(yt.shape))
        yt.backward(T(g))
        close(y, yt)
        close(ours_b(g, x, axis, keepdims if axis is not None else False), xt.grad)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_max_single_axis(axis, keepdims):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 7, 3))
    x[1, 2, :] = x[1, 3, :]  # ties: first occurrence
    xt = T(x, True)
    vt, it = torch.max(xt, dim=axis, keepdim=keepdims)
    g = rng.standard_normal(tuple(vt.shape))
    vt.backward(T(g))
    v, i = rred.max(x, axis, keepdims)
    close(v, vt)
    np.testing.assert_array_equal(i, it.numpy())
    close(rred.max_backward(g, x, axis, keepdims), xt.grad)


def test_max_multi_axis():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 4, 5))
    v, i = rred.max(x, (0, 2))
    close(v, torch.amax(T(x), dim=(0, 2)))
    sub = np.transpose(x, (1, 0, 2)).reshape(4, 15)
    np.testing.assert_array_equal(i, sub.argmax(1))
    g = rng.standard_normal(4)
    gx = rred.max_backward(g, x, (0, 2))
    xt = T(x, True)
    torch.amax(xt, dim=(0, 2)).backward(T(g))  # no ties: amax == argmax routing
    close(gx, xt.grad)
    v, i = rred.max(x)
    assert v == x.max() and i == x.argmax()


@pytest.mark.parametrize("sa,sb", [((3, 4), (4,)), ((2, 1, 5), (3, 1)), ((1,), (2, 3)), ((), (3, 2)), ((4, 1), (1, 6))])
def test_add_mul_broadcast(sa, sb):
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    for ours, ours_b, tfn in [(rred.add, rred.add_backward, torch.add), (rred.mul, rred.mul_backward, torch.mul)]:
        at, bt = T(a, True), T(b, True)
        yt = tfn(at, bt)
        g = rng.standard_normal(tuple(yt.shape))
        yt.backward(T(g))
        close(ours(a, b), yt)
        ga, gb = ours_b(g, a, b)
        assert ga.shape == sa and gb.shape == sb
        close(ga, at.grad)
        close(gb, bt.grad)
