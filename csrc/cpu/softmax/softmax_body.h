#pragma once
// softmax / log_softmax kernel bodies over vec_ops.h, instantiated per ISA by
// softmax_{generic,avx2,avx512}.cpp. Include only from those files.
//
// Row forward: pass 1 max (from memory); pass 2 e = exp(x - max) and its sum (log: the sum only),
// from cache, prefetching the next row meanwhile so memory does not idle during the exps; pass 3
// y = e/sum (log: y = (x - max) - log(sum)). Without streaming e is stored in y and rescaled in
// place; with streaming e goes to an L2-resident scratch row and y is written once, with
// non-temporal stores, so each element costs one exp either way. x - max ≤ 0, so the cheaper
// exp_nonpos serves. A slice holding NaN or +inf, or only -inf, gives a NaN slice (the sum is
// NaN), as PyTorch and the oracle.
#include <limits>

#include "cpu/activation/vec_ops.h"
#include "cpu/simd/vec_algos.h"
#include "cpu/softmax/softmax_kernels.h"

namespace fastnn {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

template <class VO>
float row_max(const float* x, int64_t C) {
  using V = typename VO::V;
  constexpr int W = VO::W;
  V m0 = VO::set1(kNegInf), m1 = m0, m2 = m0, m3 = m0;
  int64_t i = 0;
  for (; i + 4 * W <= C; i += 4 * W) {
    m0 = VO::max(m0, VO::load(x + i));
    m1 = VO::max(m1, VO::load(x + i + W));
    m2 = VO::max(m2, VO::load(x + i + 2 * W));
    m3 = VO::max(m3, VO::load(x + i + 3 * W));
  }
  for (; i + W <= C; i += W) m0 = VO::max(m0, VO::load(x + i));
  if (i < C) m1 = VO::max(m1, VO::load_n(x + i, int(C - i), kNegInf));
  return VO::hmax(VO::max(VO::max(m0, m1), VO::max(m2, m3)));
}

// Σ f(i) over the row with four independent accumulators; f returns a vector, ft a masked tail
// (zero in the unused lanes).
template <class VO, class F, class Ft>
float row_sum(int64_t C, F&& f, Ft&& ft) {
  using V = typename VO::V;
  constexpr int W = VO::W;
  V s0 = VO::zero(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 4 * W <= C; i += 4 * W) {
    s0 = VO::add(s0, f(i));
    s1 = VO::add(s1, f(i + W));
    s2 = VO::add(s2, f(i + 2 * W));
    s3 = VO::add(s3, f(i + 3 * W));
  }
  for (; i + W <= C; i += W) s0 = VO::add(s0, f(i));
  if (i < C) s1 = VO::add(s1, ft(i, int(C - i)));
  return VO::hsum(VO::add(VO::add(s0, s1), VO::add(s2, s3)));
}

// Σ exp(x - m) over the row; with e non-null the exps are stored there too. Prefetches next.
template <class VO>
float row_exp_sum(const float* x, float* e, int64_t C, float m, const float* next) {
  using V = typename VO::V;
  const V vm = VO::set1(m);
  return row_sum<VO>(
      C,
      [&](int64_t i) {
        if (next) prefetch_next<VO>(next, i);
        const V v = VO::exp_nonpos(VO::sub(VO::load(x + i), vm));
        if (e) VO::store(e + i, v);
        return v;
      },
      [&](int64_t i, int k) {  // unused lanes: exp(-inf - m) = 0 (m = -inf or NaN: the row is NaN anyway)
        const V v = VO::exp_nonpos(VO::sub(VO::load_n(x + i, k, kNegInf), vm));
        if (e) VO::store_n(e + i, v, k);
        return v;
      });
}

template <class VO, bool Stream>
void softmax_row_impl(const float* x, float* y, int64_t C, bool log, float* scratch, const float* next) {
  using V = typename VO::V;
  const float m = row_max<VO>(x, C);
  if (!log) {
    float* e = Stream ? scratch : y;  // the exps, in cache
    const V r = VO::set1(1.0f / row_exp_sum<VO>(x, e, C, m, next));
    map_loop<VO, Stream>(
        y, C, [&](int64_t i) { return VO::mul(VO::load(e + i), r); },
        [&](int64_t i, int k) { return VO::mul(VO::load_n(e + i, k, 0.0f), r); });
    return;
  }
  // (x - max) - log(sum): x - max is exact near the max; max + log(sum) rounded first would not be.
  const V vm = VO::set1(m);
  const V shift = VO::set1(__builtin_logf(row_exp_sum<VO>(x, nullptr, C, m, next)));  // not std::log: no
                                                                                     // inline libstdc++ code
  map_loop<VO, Stream>(
      y, C, [&](int64_t i) { return VO::sub(VO::sub(VO::load(x + i), vm), shift); },
      [&](int64_t i, int k) { return VO::sub(VO::sub(VO::load_n(x + i, k, 0.0f), vm), shift); });
}

template <class VO>
void softmax_row(const float* x, float* y, int64_t C, bool log, bool stream, float* scratch, const float* next) {
  if (stream)
    softmax_row_impl<VO, true>(x, y, C, log, scratch, next);
  else
    softmax_row_impl<VO, false>(x, y, C, log, scratch, next);
}

// Pass 1 Σ g·y (log: Σ g) from memory, pass 2 dx from cache, prefetching the next rows of g and y.
template <class VO, bool Stream>
void softmax_row_backward_impl(const float* g, const float* y, float* dx, int64_t C, bool log, const float* next_g,
                               const float* next_y) {
  using V = typename VO::V;
  auto prefetch = [&](int64_t i) {
    if (next_g) prefetch_next<VO>(next_g, i);
    if (next_y) prefetch_next<VO>(next_y, i);
  };
  if (!log) {
    const float dot = row_sum<VO>(
        C, [&](int64_t i) { return VO::mul(VO::load(g + i), VO::load(y + i)); },
        [&](int64_t i, int k) { return VO::mul(VO::load_n(g + i, k, 0.0f), VO::load_n(y + i, k, 0.0f)); });
    const V vd = VO::set1(dot);
    map_loop<VO, Stream>(
        dx, C,
        [&](int64_t i) {
          prefetch(i);
          return VO::mul(VO::load(y + i), VO::sub(VO::load(g + i), vd));
        },
        [&](int64_t i, int k) { return VO::mul(VO::load_n(y + i, k, 0.0f), VO::sub(VO::load_n(g + i, k, 0.0f), vd)); });
  } else {
    const float sg = row_sum<VO>(
        C, [&](int64_t i) { return VO::load(g + i); }, [&](int64_t i, int k) { return VO::load_n(g + i, k, 0.0f); });
    const V vs = VO::set1(sg);
    map_loop<VO, Stream>(
        dx, C,
        [&](int64_t i) {
          prefetch(i);
          return VO::fnmadd(VO::exp(VO::load(y + i)), vs, VO::load(g + i));
        },
        [&](int64_t i, int k) {
          return VO::fnmadd(VO::exp(VO::load_n(y + i, k, 0.0f)), vs, VO::load_n(g + i, k, 0.0f));
        });
  }
}

template <class VO>
void softmax_row_backward(const float* g, const float* y, float* dx, int64_t C, bool log, bool stream,
                          const float* next_g, const float* next_y) {
  if (stream)
    softmax_row_backward_impl<VO, true>(g, y, dx, C, log, next_g, next_y);
  else
    softmax_row_backward_impl<VO, false>(g, y, dx, C, log, next_g, next_y);
}

// ---- column kernels: L ≤ kSoftmaxColumns slices side by side ---------------------------------

// Applies f(c, l, k) to the vector of lanes [l, l + k) of row c, for every row and lane group.
template <class VO, class F>
inline void for_lanes(int64_t C, int L, F&& f) {
  constexpr int W = VO::W;
  for (int64_t c = 0; c < C; ++c)
    for (int l = 0; l < L; l += W) f(c, l, L - l < W ? L - l : W);
}

template <class VO>
inline typename VO::V load_k(const float* p, int k, float fill) {
  return k == VO::W ? VO::load(p) : VO::load_n(p, k, fill);
}
template <class VO>
inline void store_k(float* p, typename VO::V v, int k) {
  if (k == VO::W)
    VO::store(p, v);
  else
    VO::store_n(p, v, k);
}

template <class VO>
void softmax_col(const float* x, int64_t xs, float* y, int64_t ys, int64_t C, int L, bool log) {
  using V = typename VO::V;
  alignas(64) float m[kSoftmaxColumns], s[kSoftmaxColumns];
  for (int l = 0; l < L; ++l) m[l] = kNegInf, s[l] = 0.0f;
  for_lanes<VO>(C, L, [&](int64_t c, int l, int k) {
    store_k<VO>(m + l, VO::max(load_k<VO>(m + l, k, 0.0f), load_k<VO>(x + c * xs + l, k, kNegInf)), k);
  });
  for_lanes<VO>(C, L, [&](int64_t c, int l, int k) {
    const V e = VO::exp(VO::sub(load_k<VO>(x + c * xs + l, k, 0.0f), load_k<VO>(m + l, k, 0.0f)));
    if (!log) store_k<VO>(y + c * ys + l, e, k);
    store_k<VO>(s + l, VO::add(load_k<VO>(s + l, k, 0.0f), e), k);
  });
  for (int l = 0; l < L; ++l) s[l] = log ? __builtin_logf(s[l]) : 1.0f / s[l];
  if (!log) {
    for_lanes<VO>(C, L, [&](int64_t c, int l, int k) {
      store_k<VO>(y + c * ys + l, VO::mul(load_k<VO>(y + c * ys + l, k, 0.0f), load_k<VO>(s + l, k, 0.0f)), k);
    });
  } else {
    for_lanes<VO>(C, L, [&](int64_t c, int l, int k) {
      const V v = VO::sub(VO::sub(load_k<VO>(x + c * xs + l, k, 0.0f), load_k<VO>(m + l, k, 0.0f)),
                          load_k<VO>(s + l, k, 0.0f));
      store_k<VO>(y + c * ys + l, v, k);
    });
  }
}

template <class VO>
void softmax_col_backward(const float* g, int64_t gs, const float* y, int64_t ys, float* dx, int64_t ds, int64_t C,
                          int L, bool log) {
  using V = typename VO::V;
  alignas(64) float acc[kSoftmaxColumns];
  for (int l = 0; l < L; ++l) acc[l] = 0.0f;
  for_lanes<VO>(C, L, [&](int64_t c, int l, int k) {
    const V gv = load_k<VO>(g + c * gs + l, k, 0.0f);
    const V term = log ? gv : VO::mul(gv, load_k<VO>(y + c * ys + l, k, 0.0f));
    store_k<VO>(acc + l, VO::add(load_k<VO>(acc + l, k, 0.0f), term), k);
  });
  for_lanes<VO>(C, L, [&](int64_t c, int l, int k) {
    const V gv = load_k<VO>(g + c * gs + l, k, 0.0f);
    const V yv = load_k<VO>(y + c * ys + l, k, 0.0f);
    const V a = load_k<VO>(acc + l, k, 0.0f);
    const V v = log ? VO::fnmadd(VO::exp(yv), a, gv) : VO::mul(yv, VO::sub(gv, a));
    store_k<VO>(dx + c * ds + l, v, k);
  });
}

template <class VO>
const SoftmaxKernels& make_softmax_kernels() {
  static const SoftmaxKernels table = {&softmax_row<VO>, &softmax_row_backward<VO>, &softmax_col<VO>,
                                       &softmax_col_backward<VO>};
  return table;
}

}  // namespace
}  // namespace fastnn
