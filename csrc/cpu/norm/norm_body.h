#pragma once
// Normalization leaf kernels, written once over V (see cpu/simd/vec_algos.h). Included by
// norm_ref.cpp, norm_avx2.cpp and norm_avx512.cpp after their ISA header; the instantiations
// are internal to each translation unit. No std:: calls here (ISA units hold leaf code only).
#include "cpu/norm/norm_kernels.h"
#include "cpu/simd/vec_algos.h"

namespace fastnn {
namespace {

inline float inv_sqrt(double v) { return float(1.0 / __builtin_sqrt(v)); }

// ---- layer_norm ----------------------------------------------------------------------------

// Two-pass row statistics: mean, then the biased variance as mean((x - mean)^2).
// next: a row to prefetch during the (cache-resident) second pass, or null.
template <class V>
void row_mean_rstd(const float* x, int64_t n, float eps, float* mean, float* rstd, const float* next) {
  using reg = typename V::reg;
  const float mu = pairwise_sum<V>(x, n) / float(n);
  const reg vmu = V::set1(mu);
  float ss;
  pairwise_sums<V, 1>(0, n, [&](int64_t i, int m, reg* acc) {
    if (next) prefetch_next<V>(next, i);
    reg d = V::sub(V::loadn(x + i, m), vmu);
    if (m < V::W) d = V::keep_first(d, m);
    acc[0] = V::fmadd(d, d, acc[0]);
  }, &ss);
  *mean = mu;
  *rstd = inv_sqrt(double(ss) / double(n) + double(eps));
}

// y = (x - mean) * rstd * w + b, row by row.
template <class V, bool HasW, bool HasB>
void layer_norm_fwd_rows(const RowNormFwdArgs& a, int64_t r0, int64_t r1) {
  using reg = typename V::reg;
  const int64_t n = a.n;
  for (int64_t r = r0; r < r1; ++r) {
    const float* x = a.x + r * a.ldx;
    float mu, rs;
    row_mean_rstd<V>(x, n, a.eps, &mu, &rs, x + a.ldx);
    if (a.mean) a.mean[r] = mu;
    if (a.rstd) a.rstd[r] = rs;
    const reg vmu = V::set1(mu), vrs = V::set1(rs);
    map_row<V>(a.y + r * a.ldy, n, a.stream, [&](int64_t i, int m) {
      reg t = V::mul(V::sub(V::loadn(x + i, m), vmu), vrs);
      if (HasW && HasB) return V::fmadd(t, V::loadn(a.w + i, m), V::loadn(a.b + i, m));
      if (HasW) return V::mul(t, V::loadn(a.w + i, m));
      if (HasB) return V::add(t, V::loadn(a.b + i, m));
      return t;
    });
  }
  if (a.stream) V::stream_fence();
}

template <class V>
void layer_norm_fwd(const RowNormFwdArgs& a, int64_t r0, int64_t r1) {
  if (a.w && a.b) layer_norm_fwd_rows<V, true, true>(a, r0, r1);
  else if (a.w) layer_norm_fwd_rows<V, true, false>(a, r0, r1);
  else if (a.b) layer_norm_fwd_rows<V, false, true>(a, r0, r1);
  else layer_norm_fwd_rows<V, false, false>(a, r0, r1);
}

// Per row: xh = (x - mean) rstd, gw = g w, s1 = sum(gw), s2 = sum(gw xh);
// dx = rstd (gw - s1/n - xh s2/n); dw += g xh, db += g (block sums folded every kNormFoldRows).
template <class V, bool HasW, bool Acc>
void layer_norm_bwd_rows(const RowNormBwdArgs& a, int64_t r0, int64_t r1, float* acc) {
  using reg = typename V::reg;
  const int64_t n = a.n;
  float *blk_w = acc, *blk_b = acc + n, *sum_w = acc + 2 * n, *comp_w = acc + 3 * n, *sum_b = acc + 4 * n,
        *comp_b = acc + 5 * n;
  int64_t in_block = 0;
  for (int64_t r = r0; r < r1; ++r) {
    const float* x = a.x + r * a.ldx;
    const float* g = a.g + r * a.ldg;
    float mu, rs;
    if (a.mean) {
      mu = a.mean[r], rs = a.rstd[r];
    } else {
      row_mean_rstd<V>(x, n, a.eps, &mu, &rs, nullptr);
    }
    const reg vmu = V::set1(mu), vrs = V::set1(rs);
    float s[2];
    // Tail lanes: g loads as 0, so every product with it is 0 whatever xh is.
    pairwise_sums<V, 2>(0, n, [&](int64_t i, int m, reg* acc2) {
      reg gv = V::loadn(g + i, m);
      reg xh = V::mul(V::sub(V::loadn(x + i, m), vmu), vrs);
      reg gw = HasW ? V::mul(gv, V::loadn(a.w + i, m)) : gv;
      acc2[0] = V::add(acc2[0], gw);
      acc2[1] = V::fmadd(gw, xh, acc2[1]);
      if (Acc) {
        V::storen(blk_w + i, V::fmadd(gv, xh, V::loadn(blk_w + i, m)), m);
        V::storen(blk_b + i, V::add(gv, V::loadn(blk_b + i, m)), m);
      }
    }, s);
    const reg c1 = V::set1(s[0] / float(n)), c2 = V::set1(s[1] / float(n));
    map_row<V>(a.dx + r * a.lddx, n, a.stream, [&](int64_t i, int m) {
      prefetch_next<V>(g + a.ldg, i);
      prefetch_next<V>(x + a.ldx, i);
      reg gv = V::loadn(g + i, m);
      reg xh = V::mul(V::sub(V::loadn(x + i, m), vmu), vrs);
      reg gw = HasW ? V::mul(gv, V::loadn(a.w + i, m)) : gv;
      return V::mul(V::fnmadd(xh, c2, V::sub(gw, c1)), vrs);
    });
    if (Acc && ++in_block == kNormFoldRows) {
      kahan_fold<V>(sum_w, comp_w, blk_w, n);
      kahan_fold<V>(sum_b, comp_b, blk_b, n);
      in_block = 0;
    }
  }
  if (Acc && in_block) {
    kahan_fold<V>(sum_w, comp_w, blk_w, n);
    kahan_fold<V>(sum_b, comp_b, blk_b, n);
  }
  if (a.stream) V::stream_fence();
}

template <class V>
void layer_norm_bwd(const RowNormBwdArgs& a, int64_t r0, int64_t r1, float* acc) {
  const bool want = a.want_dw || a.want_db;
  if (a.w) {
    if (want) layer_norm_bwd_rows<V, true, true>(a, r0, r1, acc);
    else layer_norm_bwd_rows<V, true, false>(a, r0, r1, acc);
  } else {
    if (want) layer_norm_bwd_rows<V, false, true>(a, r0, r1, acc);
    else layer_norm_bwd_rows<V, false, false>(a, r0, r1, acc);
  }
}

// ---- rms_norm ------------------------------------------------------------------------------

template <class V>
float row_rms_rstd(const float* x, int64_t n, float eps) {
  using reg = typename V::reg;
  float ss;
  pairwise_sums<V, 1>(0, n, [&](int64_t i, int m, reg* acc) {
    reg v = V::loadn(x + i, m);
    acc[0] = V::fmadd(v, v, acc[0]);
  }, &ss);
  return inv_sqrt(double(ss) / double(n) + double(eps));
}

template <class V, bool HasW>
void rms_norm_fwd_rows(const RowNormFwdArgs& a, int64_t r0, int64_t r1) {
  using reg = typename V::reg;
  const int64_t n = a.n;
  for (int64_t r = r0; r < r1; ++r) {
    const float* x = a.x + r * a.ldx;
    const float rs = row_rms_rstd<V>(x, n, a.eps);
    if (a.rstd) a.rstd[r] = rs;
    const reg vrs = V::set1(rs);
    map_row<V>(a.y + r * a.ldy, n, a.stream, [&](int64_t i, int m) {
      prefetch_next<V>(x + a.ldx, i);
      reg t = V::mul(V::loadn(x + i, m), vrs);
      return HasW ? V::mul(t, V::loadn(a.w + i, m)) : t;
    });
  }
  if (a.stream) V::stream_fence();
}

template <class V>
void rms_norm_fwd(const RowNormFwdArgs& a, int64_t r0, int64_t r1) {
  if (a.w) rms_norm_fwd_rows<V, true>(a, r0, r1);
  else rms_norm_fwd_rows<V, false>(a, r0, r1);
}

// Per row: gw = g w, s = sum(gw x); dx = r gw - x (r^3 s / n); dw += g x r.
template <class V, bool HasW, bool Acc>
void rms_norm_bwd_rows(const RowNormBwdArgs& a, int64_t r0, int64_t r1, float* acc) {
  using reg = typename V::reg;
  const int64_t n = a.n;
  float *blk_w = acc, *sum_w = acc + 2 * n, *comp_w = acc + 3 * n;
  int64_t in_block = 0;
  for (int64_t r = r0; r < r1; ++r) {
    const float* x = a.x + r * a.ldx;
    const float* g = a.g + r * a.ldg;
    const float rs = a.rstd ? a.rstd[r] : row_rms_rstd<V>(x, n, a.eps);
    const reg vrs = V::set1(rs);
    float s;
    pairwise_sums<V, 1>(0, n, [&](int64_t i, int m, reg* acc1) {
      reg gv = V::loadn(g + i, m), xv = V::loadn(x + i, m);
      reg gw = HasW ? V::mul(gv, V::loadn(a.w + i, m)) : gv;
      acc1[0] = V::fmadd(gw, xv, acc1[0]);
      if (Acc) V::storen(blk_w + i, V::fmadd(V::mul(gv, xv), vrs, V::loadn(blk_w + i, m)), m);
    }, &s);
    const reg k = V::set1(float(double(rs) * double(rs) * double(rs) * double(s) / double(n)));
    map_row<V>(a.dx + r * a.lddx, n, a.stream, [&](int64_t i, int m) {
      prefetch_next<V>(g + a.ldg, i);
      prefetch_next<V>(x + a.ldx, i);
      reg gv = V::loadn(g + i, m);
      reg gw = HasW ? V::mul(gv, V::loadn(a.w + i, m)) : gv;
      return V::fnmadd(V::loadn(x + i, m), k, V::mul(gw, vrs));
    });
    if (Acc && ++in_block == kNormFoldRows) {
      kahan_fold<V>(sum_w, comp_w, blk_w, n);
      in_block = 0;
    }
  }
  if (Acc && in_block) kahan_fold<V>(sum_w, comp_w, blk_w, n);
  if (a.stream) V::stream_fence();
}

template <class V>
void rms_norm_bwd(const RowNormBwdArgs& a, int64_t r0, int64_t r1, float* acc) {
  if (a.w) {
    if (a.want_dw) rms_norm_bwd_rows<V, true, true>(a, r0, r1, acc);
    else rms_norm_bwd_rows<V, true, false>(a, r0, r1, acc);
  } else {
    rms_norm_bwd_rows<V, false, false>(a, r0, r1, acc);
  }
}

// ---- batch_norm: plane chunks --------------------------------------------------------------

template <class V>
void bn_chunk_stats(const float* x, int64_t len, float* mean, float* m2) {
  using reg = typename V::reg;
  const float mu = pairwise_sum<V>(x, len) / float(len);
  const reg vmu = V::set1(mu);
  float ss;
  pairwise_sums<V, 1>(0, len, [&](int64_t i, int m, reg* acc) {
    prefetch_next<V>(x + len, i);  // the next chunk in memory order (units are contiguous)
    reg d = V::sub(V::loadn(x + i, m), vmu);
    if (m < V::W) d = V::keep_first(d, m);
    acc[0] = V::fmadd(d, d, acc[0]);
  }, &ss);
  *mean = mu;
  *m2 = ss;
}

template <class V>
void bn_chunk_apply(const float* x, float* y, int64_t len, float mean, float scale, float shift, bool stream) {
  using reg = typename V::reg;
  const reg vm = V::set1(mean), vs = V::set1(scale), vb = V::set1(shift);
  map_row<V>(y, len, stream, [&](int64_t i, int m) { return V::fmadd(V::sub(V::loadn(x + i, m), vm), vs, vb); });
  if (stream) V::stream_fence();
}

template <class V>
void bn_chunk_sums(const float* g, const float* x, int64_t len, float mean, float* sums) {
  using reg = typename V::reg;
  const reg vm = V::set1(mean);
  pairwise_sums<V, 2>(0, len, [&](int64_t i, int m, reg* acc) {
    reg gv = V::loadn(g + i, m);  // tail lanes 0: products vanish
    acc[0] = V::add(acc[0], gv);
    acc[1] = V::fmadd(gv, V::sub(V::loadn(x + i, m), vm), acc[1]);
  }, sums);
}

template <class V>
void bn_chunk_dx(const float* g, const float* x, float* dx, int64_t len, float a, float c2, float mean, float c3,
                 bool stream) {
  using reg = typename V::reg;
  const reg va = V::set1(a), vc2 = V::set1(c2), vm = V::set1(mean), vc3 = V::set1(c3);
  map_row<V>(dx, len, stream, [&](int64_t i, int m) {
    reg t = V::fmadd(vc2, V::sub(V::loadn(x + i, m), vm), vc3);
    return V::fmadd(va, V::loadn(g + i, m), t);
  });
  if (stream) V::stream_fence();
}

// ---- batch_norm: columns -------------------------------------------------------------------

template <class V>
void bn_col_stats(const float* x, int64_t ldx, int64_t r0, int64_t r1, int64_t L, float* mean, float* m2,
                  int64_t* count, float* scratch) {
  using reg = typename V::reg;
  constexpr int W = V::W;
  float *bm = scratch, *bq = scratch + L;
  for (int64_t rb = r0; rb < r1; rb += kBnWelfordBlock) {
    const int64_t nb = (r1 - rb) < kBnWelfordBlock ? (r1 - rb) : kBnWelfordBlock;
    for (int64_t k = 0; k < nb; ++k) {
      const float* row = x + (rb + k) * ldx;
      const reg inv = V::set1(1.0f / float(k + 1));
      auto step = [&](int64_t j, int m) {
        reg xv = V::loadn(row + j, m);
        reg om = k ? V::loadn(bm + j, m) : V::zero();
        reg oq = k ? V::loadn(bq + j, m) : V::zero();
        reg d = V::sub(xv, om);
        reg nm = V::fmadd(d, inv, om);
        V::storen(bm + j, nm, m);
        V::storen(bq + j, V::fmadd(d, V::sub(xv, nm), oq), m);
      };
      int64_t j = 0;
      for (; j + W <= L; j += W) step(j, W);
      if (j < L) step(j, int(L - j));
    }
    // Chan et al.: merge the block (nb, bm, bq) into the running (count, mean, m2).
    const double na = double(*count), nn = na + double(nb);
    const reg f1 = V::set1(float(double(nb) / nn)), f2 = V::set1(float(na * double(nb) / nn));
    auto merge = [&](int64_t j, int m) {
      reg om = V::loadn(mean + j, m), bmv = V::loadn(bm + j, m);
      reg delta = V::sub(bmv, om);
      V::storen(mean + j, V::fmadd(delta, f1, om), m);
      reg q = V::add(V::loadn(m2 + j, m), V::loadn(bq + j, m));
      V::storen(m2 + j, V::fmadd(V::mul(delta, delta), f2, q), m);
    };
    int64_t j = 0;
    for (; j + W <= L; j += W) merge(j, W);
    if (j < L) merge(j, int(L - j));
    *count += nb;
  }
}

template <class V>
void bn_col_apply(const float* x, int64_t ldx, float* y, int64_t ldy, int64_t r0, int64_t r1, int64_t L,
                  const float* mean, const float* scale, const float* shift, bool stream) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * ldx;
    map_row<V>(y + r * ldy, L, stream, [&](int64_t j, int m) {
      return V::fmadd(V::sub(V::loadn(xr + j, m), V::loadn(mean + j, m)), V::loadn(scale + j, m),
                      V::loadn(shift + j, m));
    });
  }
  if (stream) V::stream_fence();
}

template <class V>
void bn_col_sums(const float* g, int64_t ldg, const float* x, int64_t ldx, int64_t r0, int64_t r1, int64_t L,
                 const float* mean, float* acc, float* dx, int64_t lddx, const float* a, bool stream) {
  using reg = typename V::reg;
  constexpr int W = V::W;
  float *blk_g = acc, *blk_x = acc + L, *sum_g = acc + 2 * L, *comp_g = acc + 3 * L, *sum_x = acc + 4 * L,
        *comp_x = acc + 5 * L;
  int64_t in_block = 0;
  for (int64_t r = r0; r < r1; ++r) {
    const float* gr = g + r * ldg;
    const float* xr = x + r * ldx;
    auto step = [&](int64_t j, int m) {
      reg gv = V::loadn(gr + j, m);
      reg d = V::sub(V::loadn(xr + j, m), V::loadn(mean + j, m));
      V::storen(blk_g + j, V::add(gv, V::loadn(blk_g + j, m)), m);
      V::storen(blk_x + j, V::fmadd(gv, d, V::loadn(blk_x + j, m)), m);
    };
    int64_t j = 0;
    for (; j + W <= L; j += W) step(j, W);
    if (j < L) step(j, int(L - j));
    if (dx) {
      map_row<V>(dx + r * lddx, L, stream,
                 [&](int64_t jj, int m) { return V::mul(V::loadn(a + jj, m), V::loadn(gr + jj, m)); });
    }
    if (++in_block == kNormFoldRows) {
      kahan_fold<V>(sum_g, comp_g, blk_g, L);
      kahan_fold<V>(sum_x, comp_x, blk_x, L);
      in_block = 0;
    }
  }
  if (in_block) {
    kahan_fold<V>(sum_g, comp_g, blk_g, L);
    kahan_fold<V>(sum_x, comp_x, blk_x, L);
  }
  if (dx && stream) V::stream_fence();
}

template <class V>
void bn_col_dx(const float* g, int64_t ldg, const float* x, int64_t ldx, float* dx, int64_t lddx, int64_t r0,
               int64_t r1, int64_t L, const float* a, const float* c2, const float* mean, const float* c3,
               bool stream) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* gr = g + r * ldg;
    const float* xr = x + r * ldx;
    map_row<V>(dx + r * lddx, L, stream, [&](int64_t j, int m) {
      auto t = V::fmadd(V::loadn(c2 + j, m), V::sub(V::loadn(xr + j, m), V::loadn(mean + j, m)), V::loadn(c3 + j, m));
      return V::fmadd(V::loadn(a + j, m), V::loadn(gr + j, m), t);
    });
  }
  if (stream) V::stream_fence();
}

template <class V>
NormKernels make_norm_kernels() {
  NormKernels k;
  k.layer_norm_fwd = layer_norm_fwd<V>;
  k.layer_norm_bwd = layer_norm_bwd<V>;
  k.rms_norm_fwd = rms_norm_fwd<V>;
  k.rms_norm_bwd = rms_norm_bwd<V>;
  k.bn_chunk_stats = bn_chunk_stats<V>;
  k.bn_chunk_apply = bn_chunk_apply<V>;
  k.bn_chunk_sums = bn_chunk_sums<V>;
  k.bn_chunk_dx = bn_chunk_dx<V>;
  k.bn_col_stats = bn_col_stats<V>;
  k.bn_col_apply = bn_col_apply<V>;
  k.bn_col_sums = bn_col_sums<V>;
  k.bn_col_dx = bn_col_dx<V>;
  return k;
}

}  // namespace
}  // namespace fastnn
