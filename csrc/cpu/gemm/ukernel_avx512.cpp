// AVX-512 micro-kernel, 14×32: 28 ZMM accumulators + 2 B vectors + 1 broadcast of A
// (31 of 32 registers). Per k: 2 loads, 14 broadcasts, 28 FMAs.
#include <immintrin.h>

#include "cpu/gemm/ukernel.h"

namespace fastnn {
namespace {

constexpr int MR = 14, NR = 32;

void sgemm_avx512_14x32(int64_t kc, float alpha, const float* a, const float* b, float beta, float* c,
                        int64_t rs_c, int64_t cs_c) {
  __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) {
    acc0[i] = _mm512_setzero_ps();
    acc1[i] = _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < kc; ++k) {
    __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) {
      __m512 ai = _mm512_set1_ps(a[i]);
      acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);
    }
    a += MR;
    b += NR;
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  if (cs_c == 1) {
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) {
      float* ci = c + i * rs_c;
      __m512 r0 = _mm512_mul_ps(va, acc0[i]), r1 = _mm512_mul_ps(va, acc1[i]);
      if (beta != 0.0f) {
        r0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(ci), r0);
        r1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(ci + 16), r1);
      }
      _mm512_storeu_ps(ci, r0);
      _mm512_storeu_ps(ci + 16, r1);
    }
  } else {
    alignas(64) float tile[MR][NR];
    for (int i = 0; i < MR; ++i) {
      _mm512_store_ps(&tile[i][0], acc0[i]);
      _mm512_store_ps(&tile[i][16], acc1[i]);
    }
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) {
        float* cij = c + i * rs_c + j * cs_c;
        *cij = beta == 0.0f ? alpha * tile[i][j] : alpha * tile[i][j] + beta * *cij;
      }
  }
}

}  // namespace

SgemmUkernelInfo sgemm_ukernel_avx512() { return {sgemm_avx512_14x32, MR, NR, "sgemm_avx512_14x32"}; }

}  // namespace fastnn
