"""Helpers for the nn tests: the same module in fastnn and PyTorch with the same weights and
inputs must give the same outputs and gradients; float64 central differences check the
gradients of a fastnn module (its composition, on the float64 oracle route)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pytest

import fastnn
from fastnn.testing import max_rel_error

torch = pytest.importorskip("torch")


def flat(out: Any) -> list:
    """Outputs of a forward (a tensor, or nested tuples with Nones) as a flat list."""
    if out is None:
        return []
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in flat(o)]
    return [out]


def load_from_torch(fmod: fastnn.nn.Module, tmod: Any) -> None:
    """PyTorch state dict -> NumPy -> fastnn, unchanged; also checks names, order and shapes."""
    tsd = tmod.state_dict()
    fsd = fmod.state_dict()
    assert list(fsd) == list(tsd), f"state_dict keys differ:\nfastnn {list(fsd)}\ntorch  {list(tsd)}"
    for k in tsd:
        assert tuple(fsd[k].shape) == tuple(tsd[k].shape), f"{k}: {fsd[k].shape} vs {tuple(tsd[k].shape)}"
    fmod.load_state_dict({k: v.detach().numpy() for k, v in tsd.items()})


def _close(name: str, got: Any, want: Any, rtol: float) -> None:
    got = np.asarray(got.data if isinstance(got, fastnn.Tensor) else got)
    want = want.detach().numpy() if hasattr(want, "detach") else np.asarray(want)
    assert got.shape == want.shape, f"{name}: shape {got.shape} vs torch {want.shape}"
    if want.dtype.kind in "iub":
        np.testing.assert_array_equal(got, want, err_msg=name)
        return
    assert np.array_equal(np.isnan(got), np.isnan(want)), f"{name}: NaN positions differ"
    err = max_rel_error(got, want)
    assert err <= rtol, f"{name}: max relative error {err:.2e} > {rtol:.1e}"


def parity(fmod: Any, tmod: Any, inputs: Sequence[np.ndarray], *, rtol: float = 1e-4,
           call: Callable | None = None, grad_inputs: Sequence[bool] | None = None, seed: int = 0,
           load: bool = True) -> tuple[list, list]:
    """Runs call(module, *inputs) (default module(*inputs)) in both frameworks and compares every
    output, then backpropagates the same random cotangents and compares the gradients of every
    float input and every parameter (by name). Returns (fastnn outputs, torch outputs)."""
    call = call or (lambda m, *a: m(*a))
    if load and isinstance(fmod, fastnn.nn.Module):
        load_from_torch(fmod, tmod)
    if grad_inputs is None:
        grad_inputs = [a is not None and np.asarray(a).dtype.kind == "f" for a in inputs]
    f_in = [None if a is None else fastnn.Tensor(np.array(a), requires_grad=g) for a, g in zip(inputs, grad_inputs)]
    t_in = [None if a is None else torch.tensor(np.array(a), requires_grad=g) for a, g in zip(inputs, grad_inputs)]
    f_out, t_out = flat(call(fmod, *f_in)), flat(call(tmod, *t_in))
    assert len(f_out) == len(t_out), f"{len(f_out)} outputs vs torch {len(t_out)}"
    for i, (a, b) in enumerate(zip(f_out, t_out)):
        _close(f"output {i}", a, b, rtol)
    rng = np.random.default_rng(seed)
    pairs = [(a, b) for a, b in zip(f_out, t_out) if b.requires_grad]
    if not pairs:
        return f_out, t_out
    cot = [rng.standard_normal(b.shape).astype(np.float32) for _, b in pairs]
    fastnn.autograd.backward([a for a, _ in pairs], cot)
    torch.autograd.backward([b for _, b in pairs], [torch.tensor(c) for c in cot])
    for i, (a, b) in enumerate(zip(f_in, t_in)):
        if b is not None and b.requires_grad:
            assert (a.grad is None) == (b.grad is None), f"input {i}: grad presence differs"
            if b.grad is not None:
                _close(f"grad of input {i}", a.grad, b.grad, rtol)
    if isinstance(fmod, fastnn.nn.Module):
        fp, tp = dict(fmod.named_parameters()), dict(tmod.named_parameters())
        assert list(fp) == list(tp), f"parameter names differ: {list(fp)} vs {list(tp)}"
        for k in tp:
            assert (fp[k].grad is None) == (tp[k].grad is None), f"grad presence of {k} differs"
            if tp[k].grad is not None:
                _close(f"grad of {k}", fp[k].grad, tp[k].grad, rtol)
    return f_out, t_out


def fd_check(fmod: Any, inputs: Sequence[np.ndarray], *, call: Callable | None = None,
             grad_inputs: Sequence[bool] | None = None, eps: float = 1e-6, rtol: float = 1e-6,
             seed: int = 0, reseed: int | None = None) -> None:
    """float64 central differences: for each float input and each parameter, the directional
    derivative of sum(G * outputs) along a random direction must equal <grad, direction>.
    reseed: call fastnn.manual_seed(reseed) before every forward (dropout masks repeat)."""
    call = call or (lambda m, *a: m(*a))
    if isinstance(fmod, fastnn.nn.Module):
        fmod.double()
        fmod.zero_grad()
    if grad_inputs is None:
        grad_inputs = [a is not None and np.asarray(a).dtype.kind == "f" for a in inputs]
    arrays = [None if a is None else (np.array(a, dtype=np.float64) if np.asarray(a).dtype.kind == "f"
                                      else np.array(a)) for a in inputs]
    rng = np.random.default_rng(seed)

    def loss(G=None):
        if reseed is not None:
            fastnn.manual_seed(reseed)
        ts = [None if a is None else fastnn.Tensor(a, requires_grad=g) for a, g in zip(arrays, grad_inputs)]
        outs = [o for o in flat(call(fmod, *ts)) if o.dtype.kind == "f"]
        return ts, outs

    ts, outs = loss()
    G = [rng.standard_normal(o.shape) for o in outs]
    fastnn.autograd.backward([o for o in outs if o.requires_grad], [g for g, o in zip(G, outs) if o.requires_grad])

    def value() -> float:
        with fastnn.no_grad():
            _, outs2 = loss()
        return float(sum(np.sum(g * o.data) for g, o in zip(G, outs2)))

    targets = [(f"input {i}", arrays[i], ts[i].grad) for i in range(len(arrays)) if grad_inputs[i]]
    if isinstance(fmod, fastnn.nn.Module):
        targets += [(name, p.data, p.grad) for name, p in fmod.named_parameters()]
    assert targets, "nothing to check"
    for name, arr, grad in targets:
        assert grad is not None, f"{name}: no gradient"
        d = rng.standard_normal(arr.shape)
        orig = arr.copy()
        arr[...] = orig + eps * d
        fp = value()
        arr[...] = orig - eps * d
        fm = value()
        arr[...] = orig
        num = (fp - fm) / (2 * eps)
        ana = float(np.sum(grad.data * d))
        scale = max(abs(num), abs(ana), 1e-3)
        assert abs(num - ana) <= rtol * scale + 1e-9, f"{name}: finite difference {num:.10g} vs gradient {ana:.10g}"
