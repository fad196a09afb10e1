// AVX2+FMA micro-kernel, 6×16: 12 YMM accumulators + 2 B vectors + 1 broadcast of A
// (15 of 16 registers). Per k: 2 loads, 6 broadcasts, 12 FMAs.
#include <immintrin.h>

#include "cpu/gemm/ukernel.h"

namespace fastnn {
namespace {

constexpr int MR = 6, NR = 16;

void sgemm_avx2_6x16(int64_t kc, float alpha, const float* a, const float* b, float beta, float* c, int64_t rs_c,
                     int64_t cs_c) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    __m256 ai;
    ai = _mm256_broadcast_ss(a + 0); c00 = _mm256_fmadd_ps(ai, b0, c00); c01 = _mm256_fmadd_ps(ai, b1, c01);
    ai = _mm256_broadcast_ss(a + 1); c10 = _mm256_fmadd_ps(ai, b0, c10); c11 = _mm256_fmadd_ps(ai, b1, c11);
    ai = _mm256_broadcast_ss(a + 2); c20 = _mm256_fmadd_ps(ai, b0, c20); c21 = _mm256_fmadd_ps(ai, b1, c21);
    ai = _mm256_broadcast_ss(a + 3); c30 = _mm256_fmadd_ps(ai, b0, c30); c31 = _mm256_fmadd_ps(ai, b1, c31);
    ai = _mm256_broadcast_ss(a + 4); c40 = _mm256_fmadd_ps(ai, b0, c40); c41 = _mm256_fmadd_ps(ai, b1, c41);
    ai = _mm256_broadcast_ss(a + 5); c50 = _mm256_fmadd_ps(ai, b0, c50); c51 = _mm256_fmadd_ps(ai, b1, c51);
    a += MR;
    b += NR;
  }
  __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  if (cs_c == 1) {
    for (int i = 0; i < MR; ++i) {
      float* ci = c + i * rs_c;
      for (int h = 0; h < 2; ++h) {
        __m256 r = _mm256_mul_ps(va, acc[i][h]);
        if (beta != 0.0f) r = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8 * h), r);
        _mm256_storeu_ps(ci + 8 * h, r);
      }
    }
  } else {
    alignas(32) float tile[MR][NR];
    for (int i = 0; i < MR; ++i) {
      _mm256_store_ps(&tile[i][0], acc[i][0]);
      _mm256_store_ps(&tile[i][8], acc[i][1]);
    }
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) {
        float* cij = c + i * rs_c + j * cs_c;
        *cij = beta == 0.0f ? alpha * tile[i][j] : alpha * tile[i][j] + beta * *cij;
      }
  }
}

}  // namespace

SgemmUkernelInfo sgemm_ukernel_avx2() { return {sgemm_avx2_6x16, MR, NR, "sgemm_avx2_6x16"}; }

}  // namespace fastnn
