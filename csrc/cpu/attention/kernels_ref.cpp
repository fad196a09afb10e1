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

void softmax_fwd_ref(const ScoreBlock& blk, float* m, float* l, float* alpha) {
  apply_masks(blk);
  for (int64_t i = 0; i < blk.n; ++i) {
    float mx = m[i];
    for (int64_t j = 0; j < blk.nk; ++j) mx = std::fmax(mx, blk.s[j * blk.lds + i]);
    const float safe = mx == -kInf ? 0.0f : mx;
    float sum = 0.0f;
    for (int64_t j = 0; j < blk.nk; ++j) {
      float* x = blk.s + j * blk.lds + i;
      *x = std::exp(*x - safe);
      sum += *x;
    }
    alpha[i] = std::exp(m[i] - safe);
    l[i] = alpha[i] * l[i] + sum;
    m[i] = mx;
  }
}

void softmax_bwd_ref(const ScoreBlock& blk, const float* lse, const float* delta, float* dp, int64_t lddp) {
  apply_masks(blk);
  for (int64_t j = 0; j < blk.nk; ++j) {
    float* sj = blk.s + j * blk.lds;
    float* dj = dp + j * lddp;
    for (int64_t i = 0; i < blk.n; ++i) {
      const float p = std::exp(sj[i] - lse[i]);
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

const Leaves kGeneric = {"generic", kLanes, 4, 32, 64, 64, gemm_ref, softmax_fwd_ref, softmax_bwd_ref, decode_ref};

}  // namespace

const Leaves& leaves_generic() { return kGeneric; }

}  // namespace attn
}  // namespace fastnn
