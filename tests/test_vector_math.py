"""Accuracy of the vector math behind the glue kernels (exp, log, log1p, tanh, sigmoid, erf, erfc,
normal tail/density) on every ISA path, in float32 ulps against float64 on dense grids."""
from __future__ import annotations

import math

import numpy as np
import pytest

import fastnn
from fastnn.reference import activation as ract

_C = fastnn._C

# Bound (ulps) each function must meet on every path: what the polynomial designs in
# csrc/cpu/simd/avx2.h promise; the generic path (libm) meets them too.
CASES = {
    "exp": (np.linspace(-87, 88, 200001), np.exp, 2.0),
    "log": (np.concatenate([np.geomspace(1e-37, 1e37, 100001), np.linspace(0.5, 2, 50001)]), np.log, 2.5),
    "log1p": (np.concatenate([np.linspace(-0.999, 10, 100001), np.geomspace(1e-30, 1e30, 50001),
                              -np.geomspace(1e-30, 0.5, 50001)]), np.log1p, 2.5),
    "tanh": (np.concatenate([np.linspace(-12, 12, 150001), np.geomspace(1e-30, 1, 5001)]), np.tanh, 2.5),
    "sigmoid": (np.linspace(-87, 30, 150001), ract.sigmoid, 3.0),
    "erf": (np.concatenate([np.linspace(-6, 6, 150001), np.geomspace(1e-30, 1, 5001)]), ract.erf, 3.5),
    "erfc": (np.linspace(-6, 9.2, 150001), ract.erfc, 7.0),
    "normal_tail": (np.linspace(0, 13, 150001), lambda a: 0.5 * ract.erfc(a / math.sqrt(2)), 7.0),
    "normal_pdf": (np.linspace(0, 13, 150001), lambda a: np.exp(-0.5 * a * a) / math.sqrt(2 * math.pi), 4.0),
    # (past a = 87.3 exp(-a) flushes to 0, as documented for exp)
    "log1p_exp_neg": (np.concatenate([np.linspace(0, 87, 150001), np.geomspace(1e-30, 1, 5001)]),
                      lambda a: np.log1p(np.exp(-a)), 3.0),
}


def ulps(got, want):
    """|got - want| in units of the float32 spacing at want; below the normal range the unit is the
    smallest normal (the kernels flush underflow to zero)."""
    want = np.asarray(want, np.float64)
    tiny = float(np.finfo(np.float32).tiny)
    spacing = np.where(np.abs(want) < tiny, tiny,
                       np.spacing(np.abs(want).astype(np.float32)).astype(np.float64))
    return np.abs(got.astype(np.float64) - want) / spacing


def run(name, x):
    x = np.ascontiguousarray(x, dtype=np.float32)
    y = np.full_like(x, np.nan)
    _C.vector_math(name, x, y)
    return y


@pytest.mark.parametrize("name", list(CASES))
def test_accuracy_in_ulps(isa, name):
    grid, ref, bound = CASES[name]
    x = grid.astype(np.float32)
    err = ulps(run(name, x), ref(x.astype(np.float64)))
    worst = int(np.argmax(err))
    assert err[worst] <= bound, f"{name} on {isa}: {err[worst]:.2f} ulp at x={x[worst]!r} (bound {bound})"


@pytest.mark.parametrize("name", ["exp", "log", "log1p", "tanh", "sigmoid", "erf", "erfc"])
def test_special_values_match_numpy(isa, name):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, 1e-45, 1e-40, 3.4e38, -3.4e38, 100.0, -100.0], np.float32)
    ref = {"sigmoid": ract.sigmoid, "erf": ract.erf, "erfc": ract.erfc}.get(name) or getattr(np, name)
    with np.errstate(all="ignore"):
        want = ref(x.astype(np.float64)).astype(np.float32)
    got = run(name, x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{name}: NaN positions")
    inf = np.isinf(want)
    np.testing.assert_array_equal(got[inf], want[inf], err_msg=f"{name}: infinities")
    finite = ~np.isnan(want) & ~inf
    assert np.all(ulps(got[finite], want[finite].astype(np.float64)) <= 8), f"{name}: {got} vs {want}"


def test_tails_are_relative_accurate(isa):
    """The tails that the losses and gelu rely on keep relative (not just absolute) accuracy."""
    x = np.array([-30.0, -50.0, -80.0], np.float32)
    assert np.all(ulps(run("sigmoid", x), ract.sigmoid(x.astype(np.float64))) <= 3)
    a = np.array([5.0, 7.0, 9.0], np.float32)
    assert np.all(ulps(run("erfc", a), ract.erfc(a.astype(np.float64))) <= 7)
    u = np.array([1e-8, 1e-20, -1e-8], np.float32)
    assert np.all(ulps(run("log1p", u), np.log1p(u.astype(np.float64))) <= 1)


def test_every_vector_lane_and_tail_length(isa):
    """Lengths 1..40 cover every tail length of the 8- and 16-wide paths."""
    for n in range(1, 41):
        x = np.linspace(-3, 3, n).astype(np.float32)
        err = ulps(run("tanh", x), np.tanh(x.astype(np.float64)))
        assert err.max() <= 2.5, n


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown function"):
        _C.vector_math("cos", np.ones(3, np.float32), np.ones(3, np.float32))
    with pytest.raises(ValueError, match="contiguous 1-D"):
        _C.vector_math("exp", np.ones((2, 3), np.float32), np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match="x must be float32"):
        _C.vector_math("exp", np.ones(3), np.ones(3, np.float32))
