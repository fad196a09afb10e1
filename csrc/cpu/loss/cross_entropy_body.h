#pragma once
// Cross-entropy kernel bodies over vec_ops.h (see loss_kernels.h for the contract), reusing the
// softmax row helpers. Include only from loss_{generic,avx2,avx512}.cpp.
#include "cpu/loss/loss_kernels.h"
#include "cpu/softmax/softmax_body.h"

namespace fastnn {
namespace {

// Pass 1: max; pass 2 (from cache): Σ exp(x - max) and, for label smoothing, Σ w·(x - max)
// (relative to the max, so the smoothing term W·log s - Σ w(x - m) does not cancel).
template <class VO>
void ce_row_stats(const float* x, int64_t C, const float* w, float* m_out, float* s_out, float* wx_out) {
  using V = typename VO::V;
  constexpr int W = VO::W;
  const float m = row_max<VO>(x, C);
  const V vm = VO::set1(m);
  *m_out = m;
  if (!wx_out) {
    *s_out = row_sum<VO>(
        C, [&](int64_t i) { return VO::exp(VO::sub(VO::load(x + i), vm)); },
        [&](int64_t i, int k) { return VO::exp(VO::sub(VO::load_n(x + i, k, kNegInf), vm)); });
    return;
  }
  V s0 = VO::zero(), s1 = s0, a0 = s0, a1 = s0;
  for (int64_t i = 0; i < C; i += W) {
    const int k = C - i < W ? int(C - i) : W;
    const V d = VO::sub(load_k<VO>(x + i, k, kNegInf), vm);  // unused lanes: -inf → exp 0
    s0 = VO::add(s0, VO::exp(d));
    const V dz = VO::keep_n(d, k);
    if (w)
      a1 = VO::fmadd(load_k<VO>(w + i, k, 0.0f), dz, a1);
    else
      a0 = VO::add(a0, dz);
    if (i + W < C) {  // a second independent chain
      i += W;
      const int k2 = C - i < W ? int(C - i) : W;
      const V d2 = VO::sub(load_k<VO>(x + i, k2, kNegInf), vm);
      s1 = VO::add(s1, VO::exp(d2));
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

template <class VO, bool Stream>
void ce_row_backward_impl(const float* x, float* dx, int64_t C, float m, float ls, float a, float b, const float* w) {
  using V = typename VO::V;
  const V vm = VO::set1(m), vls = VO::set1(ls), va = VO::set1(a), vb = VO::set1(b);
  auto body = [&](V xv, V wv) { return VO::fnmadd(vb, wv, VO::mul(va, VO::exp(VO::sub(VO::sub(xv, vm), vls)))); };
  map_loop<VO, Stream>(
      dx, C, [&](int64_t i) { return body(VO::load(x + i), w ? VO::load(w + i) : VO::set1(1.0f)); },
      [&](int64_t i, int k) { return body(VO::load_n(x + i, k, 0.0f), w ? VO::load_n(w + i, k, 0.0f) : VO::set1(1.0f)); });
}

template <class VO>
void ce_row_backward(const float* x, float* dx, int64_t C, float m, float ls, float a, float b, const float* w,
                     bool stream) {
  if (stream)
    ce_row_backward_impl<VO, true>(x, dx, C, m, ls, a, b, w);
  else
    ce_row_backward_impl<VO, false>(x, dx, C, m, ls, a, b, w);
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
    store_k<VO>(s + l, VO::add(load_k<VO>(s + l, k, 0.0f), VO::exp(d)), k);
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
    const V e = VO::exp(VO::sub(VO::sub(xv, load_k<VO>(m + l, k, 0.0f)), load_k<VO>(ls + l, k, 0.0f)));
    const V wc = VO::set1(w ? w[c] : 1.0f);
    store_k<VO>(dx + c * ds + l, VO::fnmadd(load_k<VO>(b + l, k, 0.0f), wc, VO::mul(load_k<VO>(a + l, k, 0.0f), e)), k);
  });
}

}  // namespace
}  // namespace fastnn
