"""Test helpers: tolerance-aware comparison against the float64 oracles, random inputs that are
never zeros, and output poisoning so a kernel that skips an element cannot pass."""
from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np

# Unit roundoff per dtype; bfloat16 has no NumPy dtype and is named by string.
_EPS = {"float64": 2.0**-53, "float32": 2.0**-24, "float16": 2.0**-11, "bfloat16": 2.0**-8,
        "tf32": 2.0**-11}  # tf32: float32 run on tensor cores with a 10-bit mantissa


def _dtype_name(dtype: Any) -> str:
    return dtype if isinstance(dtype, str) else np.dtype(dtype).name


def tolerance(dtype: Any = np.float32, k: int = 1) -> float:
    """Relative tolerance for a result of `dtype` whose elements each sum `k` products.

    Rounding error of a length-k reduction grows like sqrt(k) ulps for random data (blocked and
    pairwise sums do better than the worst case k); the factor 16 leaves room for differing
    summation orders and vectorised transcendental functions.
    """
    return 16.0 * _EPS[_dtype_name(dtype)] * math.sqrt(max(int(k), 1))


def to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "get"):  # CuPy
        return x.get()
    return np.asarray(x)


def max_rel_error(actual: Any, desired: Any) -> float:
    """max |a - d| / (|d| + rms(d)): relative error with a noise floor at the tensor's scale,
    so elements near zero from cancellation are judged against the magnitude of the data."""
    a = to_numpy(actual).astype(np.float64)
    d = np.asarray(desired, dtype=np.float64)
    finite = np.isfinite(d)
    if not finite.any():
        return 0.0
    scale = math.sqrt(float(np.mean(d[finite] ** 2))) or 1e-300
    err = np.abs(a[finite] - d[finite]) / (np.abs(d[finite]) + scale)
    return float(err.max(initial=0.0))


def assert_close(actual: Any, desired: Any, *, dtype: Any = np.float32, k: int = 1, rtol: float | None = None,
                 name: str = "output") -> None:
    """Checks type, shape and dtype first, then NaN/Inf positions, then values within
    `rtol` (default tolerance(dtype, k)) in the max_rel_error sense."""
    a_np = to_numpy(actual)
    d = np.asarray(desired)
    if a_np.shape != d.shape:
        raise AssertionError(f"{name}: shape {a_np.shape} != expected {d.shape}")
    want = _dtype_name(dtype)
    if want != "bfloat16" and a_np.dtype != np.dtype(want):
        raise AssertionError(f"{name}: dtype {a_np.dtype} != expected {want}")
    a = a_np.astype(np.float64)
    d = d.astype(np.float64)
    if not np.array_equal(np.isnan(a), np.isnan(d)):
        idx = np.argwhere(np.isnan(a) != np.isnan(d))[0]
        raise AssertionError(f"{name}: NaN mismatch at {tuple(idx)}: got {a[tuple(idx)]}, expected {d[tuple(idx)]}")
    inf_d = np.isinf(d)
    if not np.array_equal(a[inf_d], d[inf_d]) or np.isinf(a[~inf_d]).any():
        raise AssertionError(f"{name}: Inf mismatch")
    tol = tolerance(dtype, k) if rtol is None else rtol
    err = max_rel_error(a, d)
    if err > tol:
        finite = np.isfinite(d)
        diff = np.where(finite, np.abs(a - d), 0)
        idx = tuple(np.unravel_index(np.argmax(diff), diff.shape))
        raise AssertionError(
            f"{name}: max relative error {err:.3e} > tolerance {tol:.3e} "
            f"(worst abs diff at {idx}: got {a[idx]!r}, expected {d[idx]!r})"
        )


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def rand(shape: Any, dtype: Any = np.float32, *, gen: np.random.Generator | None = None, low: float = -1.0,
         high: float = 1.0) -> np.ndarray:
    """Uniform random values in [low, high) with no exact zeros (zeros hide missed writes)."""
    gen = gen if gen is not None else rng()
    x = gen.uniform(low, high, size=shape)
    x[x == 0] = (low + high) / 2 or 0.5
    return x.astype(dtype)


def randint(shape: Any, dtype: Any = np.float32, *, gen: np.random.Generator | None = None, low: int = -4,
            high: int = 5) -> np.ndarray:
    """Small integers as floats: products and sums stay exact, so results must be bit-exact."""
    gen = gen if gen is not None else rng()
    return gen.integers(low, high, size=shape).astype(dtype)


def poison(x: np.ndarray) -> np.ndarray:
    """Fills x with NaN (floats) or the maximum value (integers), in place; returns x."""
    if np.dtype(x.dtype).kind == "f":
        x.fill(np.nan)
    else:
        x.fill(np.iinfo(x.dtype).max)
    return x


def empty_poisoned(shape: Any, dtype: Any = np.float32) -> np.ndarray:
    return poison(np.empty(shape, dtype=dtype))


def layouts(x: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """Equal-valued views of x with other memory layouts: C order, Fortran order, a strided
    slice of a larger buffer, and negative strides on the last two axes."""
    yield "contiguous", np.ascontiguousarray(x)
    yield "fortran", np.asfortranarray(x)
    big = np.empty(tuple(2 * n for n in x.shape), dtype=x.dtype)
    poison(big)
    view = big[tuple(slice(None, None, 2) for _ in x.shape)]
    view[...] = x
    yield "strided", view
    if x.ndim >= 1:
        flip = (Ellipsis, slice(None, None, -1)) if x.ndim == 1 else (Ellipsis, slice(None, None, -1), slice(None, None, -1))
        yield "negative", np.ascontiguousarray(x[flip])[flip]
