"""Fused in-place SGD / Adam / AdamW steps: every option against the float64 oracle and against
torch.optim itself over several steps, on every ISA path; bad input names the argument."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn.reference import optimizer as ro
from fastnn.testing import assert_close, rand

SHAPES = [(1,), (7,), (13, 33), (129, 7), (3, 5, 127), (100_003,)]


def _close(got, want, name):
    assert_close(got, want, rtol=2e-6, name=name)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("opts", [
    dict(), dict(momentum=0.9), dict(momentum=0.9, dampening=0.3), dict(momentum=0.8, nesterov=True),
    dict(weight_decay=0.1), dict(momentum=0.9, weight_decay=0.05, maximize=True),
    dict(momentum=0.5, nesterov=True, weight_decay=0.01, maximize=True)])
def test_sgd_matches_oracle(isa, gen, shape, opts):
    p, buf = rand(shape, gen=gen), rand(shape, gen=gen)
    for step in (1, 2, 3):
        g = rand(shape, gen=gen)
        want_p, want_buf = ro.sgd_step(p, g, buf, lr=0.1, step=step, **opts)
        use_buf = buf.copy() if opts.get("momentum") else None
        got = p.copy()
        assert fastnn.sgd_step_(got, g, use_buf, lr=0.1, step=step, **opts) is got
        _close(got, want_p, "param")
        if use_buf is not None:
            _close(use_buf, want_buf, "momentum_buf")
            buf = use_buf
        p = got


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("decoupled", [False, True])
@pytest.mark.parametrize("opts", [dict(), dict(weight_decay=0.1), dict(amsgrad=True), dict(maximize=True),
                                  dict(beta1=0.3, beta2=0.5, eps=1e-3, amsgrad=True, weight_decay=0.02)])
def test_adam_matches_oracle(isa, gen, shape, decoupled, opts):
    ours, oracle = (fastnn.adamw_step_, ro.adamw_step) if decoupled else (fastnn.adam_step_, ro.adam_step)
    p = rand(shape, gen=gen)
    m, v = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    vmax = np.zeros(shape, np.float32) if opts.get("amsgrad") else None
    for step in (1, 2, 3, 10):
        g = rand(shape, gen=gen)
        want = oracle(p, g, m, v, step=step, lr=0.01, max_exp_avg_sq=vmax, **opts)
        got = [p.copy(), m.copy(), v.copy(), None if vmax is None else vmax.copy()]
        ours(got[0], g, got[1], got[2], step=step, lr=0.01, max_exp_avg_sq=got[3], **opts)
        for name, a, b in zip(("param", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"), got, want):
            if b is not None:
                _close(a, b, name)
        p, m, v, vmax = got


def test_steps_match_torch_optim(isa, gen):
    """Ten steps against torch.optim itself (float32 tensors, foreach=False)."""
    torch = pytest.importorskip("torch")
    shape = (37, 41)
    for name, ctor, ours, kw in [
            ("sgd", torch.optim.SGD, "sgd", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
            ("sgd-damp", torch.optim.SGD, "sgd", dict(lr=0.05, momentum=0.9, dampening=0.2, maximize=True)),
            ("adam", torch.optim.Adam, "adam", dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True)),
            ("adamw", torch.optim.AdamW, "adamw", dict(lr=1e-2, weight_decay=0.05))]:
        p0 = rand(shape, gen=gen)
        tp = torch.nn.Parameter(torch.from_numpy(p0.copy()))
        opt = ctor([tp], foreach=False, **kw)
        p = p0.copy()
        state = [np.zeros(shape, np.float32) for _ in range(3)]
        for step in range(1, 11):
            g = rand(shape, gen=gen)
            tp.grad = torch.from_numpy(g.copy())
            opt.step()
            if ours == "sgd":
                fastnn.sgd_step_(p, g, state[0], step=step, **kw)
            else:
                b1, b2 = kw["betas"] if "betas" in kw else (0.9, 0.999)
                fn = fastnn.adam_step_ if ours == "adam" else fastnn.adamw_step_
                fn(p, g, state[0], state[1], step=step, lr=kw["lr"], beta1=b1, beta2=b2,
                   weight_decay=kw.get("weight_decay", 0.0), amsgrad=kw.get("amsgrad", False),
                   max_exp_avg_sq=state[2] if kw.get("amsgrad") else None)
        assert_close(p, tp.detach().numpy().astype(np.float64), rtol=1e-5, name=name)


def test_nan_gradients_propagate(isa, gen):
    p, g = rand(20, gen=gen), rand(20, gen=gen)
    g[3] = np.nan
    m, v, vmax = (np.zeros(20, np.float32) for _ in range(3))
    fastnn.adam_step_(p, g, m, v, step=1, amsgrad=True, max_exp_avg_sq=vmax)
    assert np.isnan(p[3]) and np.isnan(vmax[3]) and np.isfinite(np.delete(p, 3)).all()


def test_optim_errors():
    p, g = np.ones(8, np.float32), np.ones(8, np.float32)
    z = lambda: np.zeros(8, np.float32)  # noqa: E731
    with pytest.raises(ValueError, match="sgd_step_: lr must be finite"):
        fastnn.sgd_step_(p, g, lr=float("nan"))
    with pytest.raises(ValueError, match="adam_step_: lr must be finite"):
        fastnn.adam_step_(p, g, z(), z(), step=1, lr=float("inf"))
    with pytest.raises(ValueError, match="sgd_step_: lr must be >= 0"):
        fastnn.sgd_step_(p, g, lr=-1.0)
    with pytest.raises(TypeError, match="sgd_step_: grad must be float32, got float64"):
        fastnn.sgd_step_(p, np.ones(8), lr=0.1)
    with pytest.raises(ValueError, match="sgd_step_: grad must have param's shape \\(8,\\), got \\(4,\\)"):
        fastnn.sgd_step_(p, np.ones(4, np.float32), lr=0.1)
    with pytest.raises(ValueError, match="sgd_step_: param must be C-contiguous"):
        fastnn.sgd_step_(np.ones(16, np.float32)[::2], g, lr=0.1)
    with pytest.raises(ValueError, match="sgd_step_: momentum=0.9 needs a momentum_buf"):
        fastnn.sgd_step_(p, g, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="nesterov momentum requires"):
        fastnn.sgd_step_(p, g, z(), lr=0.1, momentum=0.9, nesterov=True, dampening=0.1)
    with pytest.raises(ValueError, match="adamw_step_: exp_avg_sq must be C-contiguous"):
        fastnn.adamw_step_(p, g, z(), np.zeros((8, 2), np.float32)[:, 0], step=1)
    with pytest.raises(ValueError, match="adam_step_: beta2 must be in \\[0, 1\\)"):
        fastnn.adam_step_(p, g, z(), z(), step=1, beta2=1.0)
    with pytest.raises(ValueError, match="adam_step_: step counts from 1"):
        fastnn.adam_step_(p, g, z(), z(), step=0)
    with pytest.raises(ValueError, match="amsgrad=True needs max_exp_avg_sq"):
        fastnn.adam_step_(p, g, z(), z(), step=1, amsgrad=True)
    m = z()
    with pytest.raises(ValueError, match="adam_step_: exp_avg and exp_avg_sq share memory"):
        fastnn.adam_step_(p, g, m, m, step=1)
    ro_ = z()
    ro_.flags.writeable = False
    with pytest.raises(ValueError, match="adam_step_: exp_avg is read-only"):
        fastnn.adam_step_(p, g, ro_, z(), step=1)
    C = fastnn._C
    with pytest.raises(ValueError, match="sgd_step_: lr must be finite"):
        C.sgd_step_(p, g, None, float("nan"), 0.0, 0.0, 0.0, False, False, False)
    with pytest.raises(ValueError, match="adam_step_: param and grad share memory"):
        C.adam_step_(p, p, z(), z(), None, 1, 1e-3, 0.9, 0.999, 1e-8, 0.0, False, False, False)
    with pytest.raises(ValueError, match="adamw_step_: grad must be contiguous"):
        C.adam_step_(p, np.ones(16, np.float32)[::2], z(), z(), None, 1, 1e-3, 0.9, 0.999, 1e-8, 0.0, False, False,
                     True)
