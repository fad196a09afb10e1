// Generic leaf kernels: the plain C++ reference twin every ISA path is tested against, and the
// path on CPUs without AVX2. Same contracts as kernels.h; no intrinsics.
#include <cmath>
#include <limits>

#include "cpu/attention/kernels.h"

namespace fastnn {
namespace attn {
namespace {

constexpr int kLanes = 8;  // padding granularity only: keeps scratch layouts identical to AVX2
constexpr float kInf = std::numeric_limits<float>::infinity();

void gemm_ref(int64_t m, int64_t n, int64_t k, const float* a, int64_t rsa, int64_t ksa, const float* b, int64_t ldb,
              float* c, int64_t ldc, GemmMode mode, const float* alpha) {
  float acc[kLanes];
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t j0 = 0; j0 < n; j0 += kLanes) {
      for (int t = 0; t < kLanes; ++t) acc[t] = 0.0f;
      for (int64_t kk = 0; kk < k; ++kk) {
        const float x = a[r * rsa + kk * ksa];
        const float* bk = b + kk * ldb + j0;
        for (int t = 0; t < kLanes; ++t) acc[t] += x * bk[t];
      }
      float* cr = c + r * ldc + j0;
      for (int t = 0; t < kLanes; ++t) {
        if (mode == GemmMode::store)
          cr[t] = acc[t];
        else if (mode == GemmMode::accumulate)
          cr[t] += acc[t];
        else
          cr[t] = alpha[j0 + t] * cr[t] + acc[t];
      }
    }
  }
}

// Adds the block's masks to s[j][i] in place.
void apply_masks(const ScoreBlock& blk) {
  for (int64_t j = 0; j < blk.nk; ++j) {
    float* sj = blk.s + j * blk.lds;
    const float br = blk.bias_row ? blk.bias_row[j] : 0.0f;
    const float* bt = blk.bias_tile ? blk.bias_tile + j * blk.ldbias : nullptr;
    for (int64_t i = 0; i < blk.n; ++i) {
      float x = sj[i];
      if (blk.bias_row) x += br;
      if (bt) x += bt[i];
      if (i < blk.causal_thr + j) x = -kInf;
      sj[i] = x;
    }
  }
}

// One panel of kLanes lanes starting at i0 (the scratch holds [nk][kLanes]).
void attend_panel_ref(const FwdBlock& f, const ScoreBlock& masks, int64_t i0) {
  float* s = f.s;
  for (int64_t j = 0; j < f.nk; ++j) {
    const float* kj = f.k + j * f.ldk;
    for (int i = 0; i < kLanes; ++i) {
      float acc = 0.0f;
      for (int64_t t = 0; t < f.d; ++t) acc += kj[t] * f.qt[t * f.ldq + i0 + i];
      s[j * kLanes + i] = acc;
    }
  }
  ScoreBlock blk = masks;  // the panel's lanes: lane i of s is lane i0 + i of the block
  blk.s = s;
  blk.lds = kLanes;
  blk.n = kLanes;
  if (blk.bias_tile) blk.bias_tile += i0;
  if (blk.causal_thr != kNoCausal) blk.causal_thr -= i0;
  apply_masks(blk);
  for (int i = 0; i < kLanes; ++i) {
    float* m = f.m + i0 + i;
    float mx = *m;
    for (int64_t j = 0; j < f.nk; ++j) mx = std::fmax(mx, s[j * kLanes + i]);
    const float safe = mx == -kInf ? 0.0f : mx;
    float sum = 0.0f;
    for (int64_t j = 0; j < f.nk; ++j) {
      float* x = s + j * kLanes + i;
      *x = std::exp2(*x - safe);
      sum += *x;
    }
    const float alpha = std::exp2(*m - safe);
    f.l[i0 + i] = alpha * f.l[i0 + i] + sum;
    *m = mx;
    for (int64_t t = 0; t < f.dv; ++t) {
      float acc = 0.0f;
      for (int64_t j = 0; j < f.nk; ++j) acc += f.v[j * f.ldv + t] * s[j * kLanes + i];
      float* o = f.ot + t * f.ldo + i0 + i;
      *o = alpha * *o + acc;
    }
  }
}

void attend_ref(const FwdBlock& f) {
  const ScoreBlock masks{f.s, kLanes, f.nk, f.n, f.bias_row, f.bias_tile, f.ldbias, f.causal_thr};
  for (int64_t i0 = 0; i0 < f.n; i0 += kLanes) attend_panel_ref(f, masks, i0);
}

void softmax_bwd_ref(const ScoreBlock& blk, const float* lse, const float* delta, float* dp, int64_t lddp) {
  apply_masks(blk);
  for (int64_t j = 0; j < blk.nk; ++j) {
    float* sj = blk.s + j * blk.lds;
    float* dj = dp + j * lddp;
    for (int64_t i = 0; i < blk.n; ++i) {
      const float p = std::exp2(sj[i] - lse[i]);
      sj[i] = p;
      dj[i] = p * (dj[i] - delta[i]);
    }
  }
}

void decode_ref(const DecodeBlock& d) {
  for (int r = 0; r < d.rows; ++r) {
    const float* q = d.q + r * d.ldq;
    float* s = d.s + r * d.lds;
    float mx = d.m[r];
    for (int64_t j = 0; j < d.nk; ++j) {
      const float* kj = d.k + j * d.ldk;
      float acc = 0.0f;
      for (int64_t t = 0; t < d.d; ++t) acc += q[t] * kj[t];
      if (d.bias) acc += d.bias[r * d.ldbias + j];
      if (d.limit && j >= d.limit[r]) acc = -kInf;
      s[j] = acc;
      mx = std::fmax(mx, acc);
    }
    const float safe = mx == -kInf ? 0.0f : mx;
    const float alpha = std::exp(d.m[r] - safe);
    float sum = 0.0f;
    float* o = d.o + r * d.ldo;
    for (int64_t t = 0; t < d.dv; ++t) o[t] *= alpha;
    for (int64_t j = 0; j < d.nk; ++j) {
      const float p = std::exp(s[j] - safe);
      sum += p;
      const float* vj = d.v + j * d.ldv;
      for (int64_t t = 0; t < d.dv; ++t) o[t] += p * vj[t];
    }
    d.l[r] = alpha * d.l[r] + sum;
    d.m[r] = mx;
  }
}

void pack_transposed_ref(const float* src, int64_t sl, int64_t n, int64_t D, float scale, float* dst, int64_t ld) {
  const int64_t np = (n + kLanes - 1) / kLanes * kLanes;
  for (int64_t d = 0; d < D; ++d) {
    for (int64_t i = 0; i < n; ++i) dst[d * ld + i] = scale * src[i * sl + d];
    for (int64_t i = n; i < np; ++i) dst[d * ld + i] = 0.0f;
  }
}

void unpack_transposed_ref(const float* src, int64_t ld, int64_t n, int64_t D, const float* rowscale, float* dst,
                           int64_t sl) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d = 0; d < D; ++d) dst[i * sl + d] = rowscale[i] == 0.0f ? 0.0f : rowscale[i] * src[d * ld + i];
}

const Leaves kGeneric = {"generic",  kLanes,     4,          32, 64, 64, kLanes, gemm_ref, attend_ref, softmax_bwd_ref,
                         decode_ref, pack_transposed_ref, unpack_transposed_ref};

}  // namespace

const Leaves& leaves_generic() { return kGeneric; }

}  // namespace attn
}  // namespace fastnn
