"""fastnn.testing itself: the comparison must catch what it is for."""
from __future__ import annotations

import numpy as np
import pytest

from fastnn.testing import assert_close, empty_poisoned, layouts, rand, tolerance


def test_assert_close_checks_shape_dtype_nan_and_values():
    d = np.linspace(-1, 1, 12).reshape(3, 4)
    assert_close(d.astype(np.float32), d)
    with pytest.raises(AssertionError, match="shape"):
        assert_close(d.astype(np.float32).T, d)
    with pytest.raises(AssertionError, match="dtype"):
        assert_close(d, d)
    bad = d.astype(np.float32)
    bad[1, 1] = np.nan
    with pytest.raises(AssertionError, match="NaN"):
        assert_close(bad, d)
    off = d.astype(np.float32)
    off[2, 3] += 1e-3
    with pytest.raises(AssertionError, match="relative error"):
        assert_close(off, d)


def test_tolerance_scales_with_reduction_and_dtype():
    assert tolerance(np.float32, 1024) > tolerance(np.float32, 1)
    assert tolerance("bfloat16") > tolerance(np.float16) > tolerance(np.float32) > tolerance(np.float64)


def test_rand_has_no_zeros_and_poison_is_nan():
    x = rand((1000,), low=-1e-30, high=1e-30)
    assert (x != 0).all()
    assert np.isnan(empty_poisoned((3, 3))).all()


def test_layouts_are_equal_views():
    x = rand((5, 6))
    names = []
    for name, v in layouts(x):
        names.append(name)
        np.testing.assert_array_equal(v, x)
    assert names == ["contiguous", "fortran", "strided", "negative"]
    neg = dict(layouts(x))["negative"]
    assert neg.strides[0] < 0 and neg.strides[1] < 0
