#pragma once
// Cross-entropy kernel bodies over vec_ops.h (see loss_kernels.h for the contract), reusing the
// softmax row helpers. Include only from loss_{generic,avx2,avx512}.cpp.
#include "cpu/loss/loss_kernels.h"
#include "cpu/softmax/softmax_body.h"

namespace fastnn {
namespace {

// Pass 1: max (from memory); pass 2 (from cache, prefetching the next row): Σ exp(x - max) and,
// for label smoothing, Σ w·(x - max) (relative to the max, so the smoothing term W·log s - Σ w(x - m)
// does not cancel).
template <class VO>
void ce_row_stats(const float* x, int64_t C, const float* w, float* m_out, float* s_out, float* wx_out,
                  const float* next) {
  using V = typename VO::V;
  constexpr int W = VO::W;
  const float m = row_max<VO>(x, C);
  const V vm = VO::set1(m);
  *m_out = m;
  if (!wx_out) {
    *s_out = row_exp_sum<VO>(x, nullptr, C, m, next);
    return;
  }
  V s0 = VO::zero(), s1 = s0, a0 = s0, a1 = s0;
  for (int64_t i = 0; i < C; i += W) {
    if (next) prefetch_next<VO>(next, i);
    const int k = C - i < W ? int(C - i) : W;
    const V d = VO::sub(load_k<VO>(x + i, k, kNegInf), vm);  // unused lanes: -inf → exp 0
    s0 = VO::add(s0, VO::exp_nonpos(d));
    const V dz = VO::keep_n(d, k);
    if (w)
      a1 = VO::fmadd(load_k<VO>(w + i, k, 0.0f), dz, a1);
    else
      a0 = VO::add(a0, dz);
    if (i + W < C) {  // a second independent chain
      i += W;
      const int k2 = C - i < W ? int(C - i) : W;
      const V d2 = VO::sub(load_k<VO>(x + i, k2, kNegInf), vm);
      s1 = VO::add(s1, VO::exp_nonpos(d2));
      const V dz2 = VO::keep_n(d2, k2);
      if (w)
        a0 = VO::fmadd(load_k<VO>(w + i, k2, 0.0f), dz2, a0);
      else
        a1 = VO::add(a1, dz2);
    }
  }
  *s_out = VO::hsum(VO::add(s0, s1));
  *wx_out = VO::hsum(VO::add(a0, a1));
}

// Statistics and gradient of one row with one exp per element: pass 1 max, pass 2 e = exp(x - m)
// into the gradient row (or, when streaming, into scratch, so dx is written once) and their sum s,
// pass 3 dx = (a/s)·e - b·w (w null: - b).
template <class VO, bool Stream>
void ce_row_grad_impl(const float* x, float* dx, int64_t C, float a, float b, const float* w, float* scratch,
                      const float* next, float* m_out, float* s_out) {
  using V = typename VO::V;
  const float m = row_max<VO>(x, C);
  float* e = Stream ? scratch : dx;
  const float s = row_exp_sum<VO>(x, e, C, m, next);
  *m_out = m;
  *s_out = s;
  const V va = VO::set1(a / s), vb = VO::set1(b);
  auto body = [&](V ev, V wv) { return VO::fnmadd(vb, wv, VO::mul(va, ev)); };
  map_loop<VO, Stream>(
      dx, C, [&](int64_t i) { return body(VO::load(e + i), w ? VO::load(w + i) : VO::set1(1.0f)); },
      [&](int64_t i, int k) { return body(VO::load_n(e + i, k, 0.0f), w ? VO::load_n(w + i, k, 0.0f) : VO::set1(1.0f)); });
}

template <class VO>
void ce_row_grad(const float* x, float* dx, int64_t C, float a, float b, const float* w, bool stream, float* scratch,
                 const float* next, float* m, float* s) {
  if (stream)
    ce_row_grad_impl<VO, true>(x, dx, C, a, b, w, scratch, next, m, s);
  else
    ce_row_grad_impl<VO, false>(x, dx, C, a, b, w, scratch, next, m, s);
}

template <class VO>
void ce_col_stats(const float* x, int64_t xs, int64_t C, int L, const float* w, float* m, float* s, float* wx) {
  using V = typename VO::V;
  for (int l = 0; l < L; ++l) m[l] = kNegInf, s[l] = 0.0f;
  if (wx)
    for (int l = 0; l < L; ++l) wx[l] = 0.0f;
  for_lanes<VO>(C, L, [&](int64_t c, int l, int k) {
    store_k<VO>(m + l, VO::max(load_k<VO>(m + l, k, 0.0f), load_k<VO>(x + c * xs + l, k, kNegInf)), k);
  });
  for_lanes<VO>(C, L, [&](int64_t c, int l, int k) {
    const V d = VO::sub(load_k<VO>(x + c * xs + l, k, 0.0f), load_k<VO>(m + l, k, 0.0f));
    store_k<VO>(s + l, VO::add(load_k<VO>(s + l, k, 0.0f), VO::exp_nonpos(d)), k);
    if (wx) {
      const V acc = load_k<VO>(wx + l, k, 0.0f);
      store_k<VO>(wx + l, w ? VO::fmadd(VO::set1(w[c]), d, acc) : VO::add(acc, d), k);
    }
  });
}

template <class VO>
void ce_col_backward(const float* x, int64_t xs, float* dx, int64_t ds, int64_t C, int L, const float* m,
                     const float* ls, const float* a, const float* b, const float* w) {
  using V = typename VO::V;
  for_lanes<VO>(C, L, [&](int64_t c, int l, int k) {
    const V xv = load_k<VO>(x + c * xs + l, k, 0.0f);
    const V e = VO::exp_nonpos(VO::sub(VO::sub(xv, load_k<VO>(m + l, k, 0.0f)), load_k<VO>(ls + l, k, 0.0f)));
    const V wc = VO::set1(w ? w[c] : 1.0f);
    store_k<VO>(dx + c * ds + l, VO::fnmadd(load_k<VO>(b + l, k, 0.0f), wc, VO::mul(load_k<VO>(a + l, k, 0.0f), e)), k);
  });
}

}  // namespace
}  // namespace fastnn
