#pragma once
// Pointwise loss bodies (binary cross entropy, with logits, mean squared error) over vec_ops.h.
// Include only from loss_{generic,avx2,avx512}.cpp.
//
//   bce        l = -w·(t·max(log p, -100) + (1 - t)·max(log1p(-p), -100))        (PyTorch's clamp)
//              d = w·(p - t) / max(p(1 - p), 1e-12f)
//   bce_logits l = w·((1 - t)·x + lw·softplus(-x)),  lw = 1 + (pw - 1)·t,
//              softplus(-x) = max(-x, 0) + log1p(exp(-|x|))
//              d = w·((1 - t) - lw·σ(-x))
//   mse        l = (x - t)²          d = 2(x - t)
// Optional operands (w, pw, per-element grad_out, out) are template flags: no per-element branch.
#include "cpu/activation/vec_ops.h"
#include "cpu/loss/loss_kernels.h"

namespace fastnn {
namespace {

constexpr int64_t kLossSumBlock = 1024;

// Σ f(i, k) over [0, n): f returns the loss vector of elements [i, i + k), k ≤ W; lanes ≥ k are
// discarded. Float accumulation within 1024-element blocks, double across blocks.
template <class VO, class F>
double sum_loop(int64_t n, F&& f) {
  using V = typename VO::V;
  constexpr int W = VO::W;
  double total = 0.0;
  for (int64_t b = 0; b < n; b += kLossSumBlock) {
    const int64_t e = b + kLossSumBlock < n ? b + kLossSumBlock : n;
    V a0 = VO::zero(), a1 = a0;
    int64_t i = b;
    for (; i + 2 * W <= e; i += 2 * W) {
      a0 = VO::add(a0, f(i, W));
      a1 = VO::add(a1, f(i + W, W));
    }
    for (; i + W <= e; i += W) a0 = VO::add(a0, f(i, W));
    if (i < e) a1 = VO::add(a1, VO::keep_n(f(i, int(e - i)), int(e - i)));
    total += double(VO::hsum(VO::add(a0, a1)));
  }
  return total;
}

template <class VO>
inline typename VO::V ld(const float* p, int64_t i, int k, float fill) {
  return k == VO::W ? VO::load(p + i) : VO::load_n(p + i, k, fill);
}
template <class VO>
inline void st(float* p, int64_t i, typename VO::V v, int k) {
  if (k == VO::W)
    VO::store(p + i, v);
  else
    VO::store_n(p + i, v, k);
}

// ---- binary cross entropy ----------------------------------------------------------------------

template <class VO, bool HasW, bool HasOut>
double bce_impl(const float* p, const float* t, const float* w, float* out, int64_t n, int64_t* bad) {
  using V = typename VO::V;
  const V one = VO::set1(1.0f), floor = VO::set1(-100.0f);
  V nbad = VO::zero();  // lanes count inputs outside [0, 1] (exact in float below 2^24 per lane)
  const double total = sum_loop<VO>(n, [&](int64_t i, int k) {
    const V pv = ld<VO>(p, i, k, 0.5f), tv = ld<VO>(t, i, k, 0.0f);
    const V lp = VO::max(floor, VO::log(pv));  // NaN survives (second operand)
    const V l1p = VO::max(floor, VO::log1p(VO::neg(pv)));
    V l = VO::neg(VO::fmadd(tv, lp, VO::mul(VO::sub(one, tv), l1p)));
    if (HasW) l = VO::mul(l, ld<VO>(w, i, k, 0.0f));
    if (HasOut) st<VO>(out, i, l, k);
    const V b = VO::select(VO::mor(VO::lt(pv, VO::zero()), VO::gt(pv, one)), one, VO::zero());
    nbad = VO::add(nbad, VO::keep_n(b, k));
    return l;
  });
  *bad += int64_t(VO::hsum(nbad));
  return total;
}

template <class VO>
double bce(const float* p, const float* t, const float* w, float* out, int64_t n, int64_t* bad) {
  if (w) return out ? bce_impl<VO, true, true>(p, t, w, out, n, bad) : bce_impl<VO, true, false>(p, t, w, out, n, bad);
  return out ? bce_impl<VO, false, true>(p, t, w, out, n, bad) : bce_impl<VO, false, false>(p, t, w, out, n, bad);
}

template <class VO, bool HasG, bool HasW, bool Stream>
void bce_backward_impl(const float* g, float gs, const float* p, const float* t, const float* w, float* dx,
                       int64_t n) {
  using V = typename VO::V;
  const V one = VO::set1(1.0f), eps = VO::set1(1e-12f), vgs = VO::set1(gs);
  auto f = [&](int64_t i, int k) {
    const V pv = ld<VO>(p, i, k, 0.5f), tv = ld<VO>(t, i, k, 0.0f);
    V d = VO::div(VO::sub(pv, tv), VO::max(eps, VO::mul(pv, VO::sub(one, pv))));
    if (HasW) d = VO::mul(d, ld<VO>(w, i, k, 0.0f));
    if (HasG) d = VO::mul(d, ld<VO>(g, i, k, 0.0f));
    return VO::mul(d, vgs);
  };
  map_loop<VO, Stream>(
      dx, n, [&](int64_t i) { return f(i, VO::W); }, f);
}

// ---- binary cross entropy with logits ------------------------------------------------------------

template <class VO, bool HasW, bool HasPW>
inline typename VO::V bce_logits_term(typename VO::V x, typename VO::V t, const float* w, const float* pw, int64_t i,
                                      int k) {
  using V = typename VO::V;
  const V one = VO::set1(1.0f);
  const V sp = VO::add(VO::max(VO::zero(), VO::neg(x)), VO::log1p_exp_neg(VO::abs(x)));
  const V lw = HasPW ? VO::fmadd(VO::sub(ld<VO>(pw, i, k, 1.0f), one), t, one) : one;
  V l = VO::fmadd(VO::sub(one, t), x, VO::mul(lw, sp));
  if (HasW) l = VO::mul(l, ld<VO>(w, i, k, 0.0f));
  return l;
}

template <class VO, bool HasW, bool HasPW, bool HasOut>
double bce_logits_impl(const float* x, const float* t, const float* w, const float* pw, float* out, int64_t n) {
  return sum_loop<VO>(n, [&](int64_t i, int k) {
    const typename VO::V l = bce_logits_term<VO, HasW, HasPW>(ld<VO>(x, i, k, 0.0f), ld<VO>(t, i, k, 0.0f), w, pw, i, k);
    if (HasOut) st<VO>(out, i, l, k);
    return l;
  });
}

template <class VO>
double bce_logits(const float* x, const float* t, const float* w, const float* pw, float* out, int64_t n) {
  const int sel = (w ? 4 : 0) | (pw ? 2 : 0) | (out ? 1 : 0);
  switch (sel) {
    case 0: return bce_logits_impl<VO, false, false, false>(x, t, w, pw, out, n);
    case 1: return bce_logits_impl<VO, false, false, true>(x, t, w, pw, out, n);
    case 2: return bce_logits_impl<VO, false, true, false>(x, t, w, pw, out, n);
    case 3: return bce_logits_impl<VO, false, true, true>(x, t, w, pw, out, n);
    case 4: return bce_logits_impl<VO, true, false, false>(x, t, w, pw, out, n);
    case 5: return bce_logits_impl<VO, true, false, true>(x, t, w, pw, out, n);
    case 6: return bce_logits_impl<VO, true, true, false>(x, t, w, pw, out, n);
    default: return bce_logits_impl<VO, true, true, true>(x, t, w, pw, out, n);
  }
}

template <class VO, bool HasG, bool HasW, bool HasPW, bool Stream>
void bce_logits_backward_impl(const float* g, float gs, const float* x, const float* t, const float* w,
                              const float* pw, float* dx, int64_t n) {
  using V = typename VO::V;
  const V one = VO::set1(1.0f), vgs = VO::set1(gs);
  auto f = [&](int64_t i, int k) {
    const V xv = ld<VO>(x, i, k, 0.0f), tv = ld<VO>(t, i, k, 0.0f);
    const V lw = HasPW ? VO::fmadd(VO::sub(ld<VO>(pw, i, k, 1.0f), one), tv, one) : one;
    V d = VO::fnmadd(lw, VO::sigmoid(VO::neg(xv)), VO::sub(one, tv));
    if (HasW) d = VO::mul(d, ld<VO>(w, i, k, 0.0f));
    if (HasG) d = VO::mul(d, ld<VO>(g, i, k, 0.0f));
    return VO::mul(d, vgs);
  };
  map_loop<VO, Stream>(
      dx, n, [&](int64_t i) { return f(i, VO::W); }, f);
}

// ---- mean squared error ------------------------------------------------------------------------

template <class VO, bool HasOut>
double mse_impl(const float* x, const float* t, float* out, int64_t n) {
  return sum_loop<VO>(n, [&](int64_t i, int k) {
    const typename VO::V d = VO::sub(ld<VO>(x, i, k, 0.0f), ld<VO>(t, i, k, 0.0f));
    const typename VO::V l = VO::mul(d, d);
    if (HasOut) st<VO>(out, i, l, k);
    return l;
  });
}

template <class VO>
double mse(const float* x, const float* t, float* out, int64_t n) {
  return out ? mse_impl<VO, true>(x, t, out, n) : mse_impl<VO, false>(x, t, out, n);
}

template <class VO, bool HasG, bool Stream>
void mse_backward_impl(const float* g, float gs, const float* x, const float* t, float* dx, int64_t n) {
  using V = typename VO::V;
  const V two_gs = VO::set1(2.0f * gs);
  auto f = [&](int64_t i, int k) {
    V d = VO::mul(VO::sub(ld<VO>(x, i, k, 0.0f), ld<VO>(t, i, k, 0.0f)), two_gs);
    if (HasG) d = VO::mul(d, ld<VO>(g, i, k, 0.0f));
    return d;
  };
  map_loop<VO, Stream>(
      dx, n, [&](int64_t i) { return f(i, VO::W); }, f);
}

// ---- run-time flags → instantiations -------------------------------------------------------------

template <class VO>
void bce_backward(const float* g, float gs, const float* p, const float* t, const float* w, float* dx, int64_t n,
                  bool stream) {
  const int sel = (g ? 4 : 0) | (w ? 2 : 0) | (stream ? 1 : 0);
  switch (sel) {
    case 0: return bce_backward_impl<VO, false, false, false>(g, gs, p, t, w, dx, n);
    case 1: return bce_backward_impl<VO, false, false, true>(g, gs, p, t, w, dx, n);
    case 2: return bce_backward_impl<VO, false, true, false>(g, gs, p, t, w, dx, n);
    case 3: return bce_backward_impl<VO, false, true, true>(g, gs, p, t, w, dx, n);
    case 4: return bce_backward_impl<VO, true, false, false>(g, gs, p, t, w, dx, n);
    case 5: return bce_backward_impl<VO, true, false, true>(g, gs, p, t, w, dx, n);
    case 6: return bce_backward_impl<VO, true, true, false>(g, gs, p, t, w, dx, n);
    default: return bce_backward_impl<VO, true, true, true>(g, gs, p, t, w, dx, n);
  }
}

template <class VO, bool HasG, bool HasW>
void bce_logits_backward_pw(const float* g, float gs, const float* x, const float* t, const float* w,
                            const float* pw, float* dx, int64_t n, bool stream) {
  const int sel = (pw ? 2 : 0) | (stream ? 1 : 0);
  switch (sel) {
    case 0: return bce_logits_backward_impl<VO, HasG, HasW, false, false>(g, gs, x, t, w, pw, dx, n);
    case 1: return bce_logits_backward_impl<VO, HasG, HasW, false, true>(g, gs, x, t, w, pw, dx, n);
    case 2: return bce_logits_backward_impl<VO, HasG, HasW, true, false>(g, gs, x, t, w, pw, dx, n);
    default: return bce_logits_backward_impl<VO, HasG, HasW, true, true>(g, gs, x, t, w, pw, dx, n);
  }
}

template <class VO>
void bce_logits_backward(const float* g, float gs, const float* x, const float* t, const float* w, const float* pw,
                         float* dx, int64_t n, bool stream) {
  if (g) {
    if (w) return bce_logits_backward_pw<VO, true, true>(g, gs, x, t, w, pw, dx, n, stream);
    return bce_logits_backward_pw<VO, true, false>(g, gs, x, t, w, pw, dx, n, stream);
  }
  if (w) return bce_logits_backward_pw<VO, false, true>(g, gs, x, t, w, pw, dx, n, stream);
  return bce_logits_backward_pw<VO, false, false>(g, gs, x, t, w, pw, dx, n, stream);
}

template <class VO>
void mse_backward(const float* g, float gs, const float* x, const float* t, float* dx, int64_t n, bool stream) {
  if (g) {
    if (stream) return mse_backward_impl<VO, true, true>(g, gs, x, t, dx, n);
    return mse_backward_impl<VO, true, false>(g, gs, x, t, dx, n);
  }
  if (stream) return mse_backward_impl<VO, false, true>(g, gs, x, t, dx, n);
  return mse_backward_impl<VO, false, false>(g, gs, x, t, dx, n);
}

}  // namespace
}  // namespace fastnn
