"""SGD / Adam / AdamW against torch.optim step for step, gradient clipping against
torch.nn.utils, LR schedulers against torch.optim.lr_scheduler, and a short training run."""
from __future__ import annotations

import math

import numpy as np
import pytest

import fastnn
from fastnn import nn, optim
from fastnn.optim import lr_scheduler as fsched

torch = pytest.importorskip("torch")


def _pair(shapes, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    fp = [nn.Parameter(a.copy()) for a in arrays]
    tp = [torch.nn.Parameter(torch.tensor(a)) for a in arrays]
    return fp, tp


OPTIMIZERS = [
    ("sgd", lambda p: optim.SGD(p, lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    ("sgd_momentum_wd", lambda p: optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01),
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("sgd_nesterov_max", lambda p: optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True, maximize=True),
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True, maximize=True)),
    ("adam", lambda p: optim.Adam(p, lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
    ("adam_wd_amsgrad", lambda p: optim.Adam(p, lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, amsgrad=True),
     lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, amsgrad=True)),
    ("adamw", lambda p: optim.AdamW(p, lr=0.01), lambda p: torch.optim.AdamW(p, lr=0.01)),
    ("adamw_amsgrad_max", lambda p: optim.AdamW(p, lr=0.02, eps=1e-6, weight_decay=0.3, amsgrad=True, maximize=True),
     lambda p: torch.optim.AdamW(p, lr=0.02, eps=1e-6, weight_decay=0.3, amsgrad=True, maximize=True)),
]


@pytest.mark.parametrize("name,fmake,tmake", OPTIMIZERS, ids=[c[0] for c in OPTIMIZERS])
def test_optimizer_matches_torch(name, fmake, tmake):
    fp, tp = _pair([(7, 5), (5,), (3, 2, 2)])
    fo, to = fmake(fp), tmake(tp)
    rng = np.random.default_rng(1)
    for step in range(6):
        fo.zero_grad()
        to.zero_grad()
        for i, (a, b) in enumerate(zip(fp, tp)):
            if step == 2 and i == 1:
                continue  # a parameter without a gradient is skipped by both
            g = rng.standard_normal(a.shape).astype(np.float32)
            a.grad = fastnn.Tensor(g.copy())
            b.grad = torch.tensor(g)
        fo.step()
        to.step()
        for a, b in zip(fp, tp):
            np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_param_groups_schedulers_and_state_dict():
    fp, tp = _pair([(3,), (4,)])
    fo = optim.SGD([{"params": [fp[0]]}, {"params": [fp[1]], "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in fo.param_groups] == [0.1, 0.5] and fo.param_groups[0]["momentum"] == 0.9
    fp[0].grad = fastnn.Tensor(np.ones(3, np.float32))
    fo.step()
    sd = fo.state_dict()
    assert sd["param_groups"][1]["params"] == [1] and 0 in sd["state"]
    fo2 = optim.SGD([{"params": [fp[0]]}, {"params": [fp[1]]}], lr=0.1, momentum=0.9)
    fo2.load_state_dict(sd)
    np.testing.assert_array_equal(fo2.state[fp[0]]["momentum_buffer"], fo.state[fp[0]]["momentum_buffer"])
    assert fo2.param_groups[1]["lr"] == 0.5
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [fp[0]]}, {"params": [fp[0]]}])
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD(fp, nesterov=True)


@pytest.mark.parametrize("norm_type", [2.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    fp, tp = _pair([(6, 4), (4,), (2, 3)])
    rng = np.random.default_rng(2)
    for a, b in zip(fp, tp):
        g = rng.standard_normal(a.shape).astype(np.float32)
        a.grad, b.grad = fastnn.Tensor(g.copy()), torch.tensor(g)
    fn = nn.utils.clip_grad_norm_(fp, max_norm, norm_type)
    tn = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type)
    assert float(fn.data) == pytest.approx(float(tn), rel=1e-6)
    for a, b in zip(fp, tp):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-6, atol=1e-7)
    bad = nn.Parameter(np.ones(2, np.float32))
    bad.grad = fastnn.Tensor(np.array([np.inf, 1], np.float32))
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([bad], 1.0, error_if_nonfinite=True)


SCHEDULERS = [
    ("step", lambda o: fsched.StepLR(o, 3, 0.5), lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5)),
    ("multistep", lambda o: fsched.MultiStepLR(o, [2, 5, 6], 0.3),
     lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [2, 5, 6], 0.3)),
    ("exponential", lambda o: fsched.ExponentialLR(o, 0.9), lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.9)),
    ("cosine", lambda o: fsched.CosineAnnealingLR(o, 7, 0.01),
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 7, 0.01)),
    ("linear_warmup", lambda o: fsched.LinearLR(o, 0.1, 1.0, 4), lambda o: torch.optim.lr_scheduler.LinearLR(o, 0.1, 1.0, 4)),
    ("lambda", lambda o: fsched.LambdaLR(o, lambda e: 1 / (1 + e)),
     lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + e))),
    ("warmup_then_cosine",
     lambda o: fsched.SequentialLR(o, [fsched.LinearLR(o, 0.2, 1.0, 3), fsched.CosineAnnealingLR(o, 8)], [3]),
     lambda o: torch.optim.lr_scheduler.SequentialLR(
         o, [torch.optim.lr_scheduler.LinearLR(o, 0.2, 1.0, 3), torch.optim.lr_scheduler.CosineAnnealingLR(o, 8)],
         [3])),
]


@pytest.mark.parametrize("name,fmake,tmake", SCHEDULERS, ids=[c[0] for c in SCHEDULERS])
def test_scheduler_matches_torch(name, fmake, tmake):
    fp, tp = _pair([(2,), (3,)])
    fo = optim.SGD([{"params": [fp[0]]}, {"params": [fp[1]], "lr": 0.3}], lr=0.1)
    to = torch.optim.SGD([{"params": [tp[0]]}, {"params": [tp[1]], "lr": 0.3}], lr=0.1)
    fs, ts = fmake(fo), tmake(to)
    for epoch in range(20):
        np.testing.assert_allclose(fs.get_last_lr(), ts.get_last_lr(), rtol=1e-9, atol=1e-12,
                                   err_msg=f"epoch {epoch}")
        np.testing.assert_allclose([g["lr"] for g in fo.param_groups], [g["lr"] for g in to.param_groups], rtol=1e-9)
        fo.step()
        to.step()
        fs.step()
        ts.step()


def test_training_steps_match_torch_end_to_end():
    """Three SGD steps of a small MLP with the same init and data: same weights afterwards."""
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.GELU(), torch.nn.LayerNorm(16), torch.nn.Linear(16, 3))
    fm = nn.Sequential(nn.Linear(5, 16), nn.GELU(), nn.LayerNorm(16), nn.Linear(16, 3))
    fm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    fo = optim.AdamW(fm.parameters(), lr=0.01)
    to = torch.optim.AdamW(tm.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.standard_normal((8, 5)).astype(np.float32)
        y = rng.integers(0, 3, 8)
        fo.zero_grad()
        to.zero_grad()
        floss = nn.functional.cross_entropy(fm(fastnn.Tensor(x)), y)
        tloss = torch.nn.functional.cross_entropy(tm(torch.tensor(x)), torch.tensor(y))
        floss.backward()
        tloss.backward()
        nn.utils.clip_grad_norm_(fm.parameters(), 1.0)
        torch.nn.utils.clip_grad_norm_(tm.parameters(), 1.0)
        fo.step()
        to.step()
        assert float(floss.data) == pytest.approx(tloss.item(), rel=1e-5)
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(fm.state_dict()[k], v.numpy(), rtol=1e-4, atol=1e-5, err_msg=k)


def test_training_reduces_loss():
    fastnn.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = (x[:, :1] * x[:, 1:2] > 0).astype(np.float32)  # XOR-like: needs the hidden layer
    m = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 1))
    opt = optim.Adam(m.parameters(), lr=0.02)
    sched = fsched.CosineAnnealingLR(opt, 150)
    losses = []
    for _ in range(150):
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(m(fastnn.Tensor(x)), y)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.data))
    assert losses[-1] < 0.25 * losses[0]
