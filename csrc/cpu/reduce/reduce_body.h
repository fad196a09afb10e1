#pragma once
// Reduction leaf kernels, written once over V (see cpu/simd/vec_algos.h); included by
// reduce_ref.cpp, reduce_avx2.cpp and reduce_avx512.cpp. No std:: calls (ISA leaf code).
#include "cpu/reduce/reduce_kernels.h"
#include "cpu/simd/vec_algos.h"

namespace fastnn {
namespace {

template <class V>
void rows_sum(const float* x, int64_t ld, int64_t rows, int64_t n, float* out) {
  for (int64_t r = 0; r < rows; ++r) out[r] = pairwise_sum<V>(x + r * ld, n);
}

// (v, i) beats (best, bi): a NaN beats any number and an earlier NaN; otherwise greater wins,
// equal values go to the earlier position.
inline bool beats(float v, int64_t i, float best, int64_t bi) {
  const bool vn = v != v, bn = best != best;
  if (vn || bn) return vn && (!bn || i < bi);
  return v > best || (v == best && i < bi);
}

template <class V>
void rows_max(const float* x, int64_t ld, int64_t rows, int64_t n, float* val, int32_t* idx) {
  using reg = typename V::reg;
  using ireg = typename V::ireg;
  constexpr int W = V::W;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * ld;
    float best = row[0];
    int64_t bi = 0, i = 1;
    if (W > 1 && n >= 4 * W) {
      // Two independent chains; lane l of chain c tracks the first strict maximum among
      // positions c W + l + 2 W k. NaNs are only flagged here (a NaN row is rare): if one
      // appeared, the first NaN is found by a scalar scan instead.
      reg c0 = V::load(row), c1 = V::load(row + W);
      ireg p0 = V::iota(), p1 = V::iadd(V::iota(), V::iset1(W));
      ireg i0 = p0, i1 = p1;
      auto nan = V::mask_or(V::isnan(c0), V::isnan(c1));
      const ireg step = V::iset1(2 * W);
      for (i = 2 * W; i + 2 * W <= n; i += 2 * W) {
        p0 = V::iadd(p0, step), p1 = V::iadd(p1, step);
        reg v0 = V::load(row + i), v1 = V::load(row + i + W);
        auto t0 = V::gt(v0, c0), t1 = V::gt(v1, c1);
        nan = V::mask_or(nan, V::mask_or(V::isnan(v0), V::isnan(v1)));
        c0 = V::select(t0, v0, c0), i0 = V::iselect(t0, p0, i0);
        c1 = V::select(t1, v1, c1), i1 = V::iselect(t1, p1, i1);
      }
      if (V::any(nan)) {
        int64_t k = 0;
        while (row[k] == row[k]) ++k;  // a NaN exists in [0, i)
        val[r] = row[k];
        idx[r] = int32_t(k);
        continue;
      }
      float lv[2 * W];
      int32_t li[2 * W];
      V::store_lanes(lv, li, c0, i0);
      V::store_lanes(lv + W, li + W, c1, i1);
      best = lv[0], bi = li[0];
      for (int l = 1; l < 2 * W; ++l)
        if (beats(lv[l], li[l], best, bi)) best = lv[l], bi = li[l];
    }
    for (; i < n; ++i) {  // later positions: only strictly better values win
      const float v = row[i];
      if (v > best || (v != v && best == best)) best = v, bi = i;
    }
    val[r] = best;
    idx[r] = int32_t(bi);
  }
}

template <class V>
void cols_sum(const float* x, int64_t rs, int64_t nrows, int64_t K, float* acc) {
  constexpr int W = V::W;
  float *blk = acc, *sum = acc + K, *comp = acc + 2 * K;
  int64_t in_block = 0;
  for (int64_t r = 0; r < nrows; ++r) {
    const float* row = x + r * rs;
    int64_t j = 0;
    for (; j + W <= K; j += W) V::store(blk + j, V::add(V::load(blk + j), V::load(row + j)));
    if (j < K) {
      const int m = int(K - j);
      V::store_tail(blk + j, V::add(V::load_tail(blk + j, m), V::load_tail(row + j, m)), m);
    }
    if (++in_block == kReduceFoldRows) {
      kahan_fold<V>(sum, comp, blk, K);
      in_block = 0;
    }
  }
  if (in_block) kahan_fold<V>(sum, comp, blk, K);
}

template <class V>
void cols_max(const float* x, int64_t rs, int64_t nrows, int64_t K, float* val, int32_t* rel) {
  using reg = typename V::reg;
  using ireg = typename V::ireg;
  constexpr int W = V::W;
  for (int64_t r = 0; r < nrows; ++r) {
    const float* row = x + r * rs;
    const ireg vr = V::iset1(int32_t(r));
    auto step = [&](int64_t j, int m) {
      reg v = V::loadn(row + j, m), cur = V::loadn(val + j, m);
      auto take = V::mask_or(V::gt(v, cur), V::mask_andnot(V::isnan(cur), V::isnan(v)));
      V::storen(val + j, V::select(take, v, cur), m);
      V::istoren(rel + j, V::iselect(take, vr, V::iloadn(rel + j, m)), m);
    };
    int64_t j = 0;
    for (; j + W <= K; j += W) step(j, W);
    if (j < K) step(j, int(K - j));
  }
}

template <class V>
ReduceKernels make_reduce_kernels() {
  return {rows_sum<V>, rows_max<V>, cols_sum<V>, cols_max<V>};
}

}  // namespace
}  // namespace fastnn
