"""Regenerates the polynomial coefficients of the vector math in csrc/cpu/simd/avx2.h / avx512.h.

Each fit is a near-minimax relative-error fit by Lawson's iteratively reweighted least squares on
Chebyshev nodes, against mpmath at 30 digits; coefficients are printed rounded to float32. Run:
    python csrc/cpu/activation/fit_vector_math.py        (needs numpy and mpmath)
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 30


def cheb(a, b, n=4000):
    k = np.arange(n)
    return (a + b) / 2 + (b - a) / 2 * np.cos(np.pi * (k + 0.5) / n)


def lawson(xs, f, powers_of, w, degree, iters=200):
    """min over c of max |w (sum_k c_k powers_of(x)^k - f)|; returns (c, max weighted error)."""
    A = np.stack([powers_of(xs) ** k for k in range(degree + 1)], 1) * w[:, None]
    y = f * w
    lw = np.full(len(xs), 1.0 / len(xs))
    for _ in range(iters):
        sw = np.sqrt(lw)
        c, *_ = np.linalg.lstsq(A * sw[:, None], y * sw, rcond=None)
        e = np.abs(A @ c - y)
        lw = lw * e
        lw /= lw.sum()
    return c, float(np.abs(A @ c - y).max())


def show(name, c, err):
    print(f"{name}: max relative error {err:.2e}; coefficients, constant term first:")
    print("   ", ", ".join(f"{float(np.float32(v))!r}f" for v in c))


# tanh(x) = x + x^3 P(x^2) on |x| < 0.625
xs = cheb(1e-4, 0.625)
f = np.array([float((mp.tanh(mp.mpf(x)) - x) / mp.mpf(x) ** 3) for x in xs])
show("tanh P", *lawson(xs, f, lambda x: x * x, xs ** 3 / np.tanh(xs), 4))

# erf(x) = x Q(x^2) on |x| < 0.5
xs = cheb(1e-4, 0.5)
f = np.array([float(mp.erf(mp.mpf(x)) / x) for x in xs])
show("erf Q", *lawson(xs, f, lambda x: x * x, 1 / f, 4))

# erfc(a) exp(a^2) = t P(t - 1/2), t = 1 / (1 + a/2), a in [0, 10]
zs = cheb(0.0, 10.0)
t = 1 / (1 + 0.5 * zs)
f = np.array([float(mp.erfc(mp.mpf(z)) * mp.exp(mp.mpf(z) ** 2)) for z in zs]) / t
show("erfc_scaled P", *lawson(t, f, lambda u: u - 0.5, 1 / f, 9))
