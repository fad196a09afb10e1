// AVX2+FMA micro-kernel, 6×16: 12 YMM accumulators + 2 B vectors + 1 broadcast of A
// (15 of 16 registers). Per k: 2 loads, 6 broadcasts, 12 FMAs — FMA-bound on Zen 3 and
// Haswell..Raptor Lake (2 FMA pipes; broadcasts from memory run on the load ports).
// 6×16 measured faster than 4×24 and 8×8+8 on Zen 3 (bench notes in sgemm.cpp).
#include <immintrin.h>

#include "cpu/gemm/epilogue_avx2.h"
#include "cpu/gemm/pack.h"
#include "cpu/gemm/ukernel.h"

namespace fastnn {
namespace {

constexpr int MR = 6, NR = 16;

// ---- the kernel ------------------------------------------------------------------------------

// a: packed 6×kc panel (6 floats per k)   b: kc rows of 16 floats, ldb apart   c: m×n of a 6×16 tile
void sgemm_avx2_6x16_ex(int64_t kc, float alpha, const float* a, const float* b, int64_t ldb, float beta, float* c,
                        int64_t rs_c, int64_t cs_c, int m, int n, const SgemmTileEpilogue* ep) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  if (cs_c == 1)  // the tile is read or written right after the loop: start fetching its lines
    for (int i = 0; i < m; ++i) {
      _mm_prefetch(reinterpret_cast<const char*>(c + i * rs_c), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + i * rs_c + NR - 1), _MM_HINT_T0);
    }

#define FASTNN_AVX2_STEP(A, B)                                                                      \
  {                                                                                                 \
    const __m256 b0 = _mm256_loadu_ps(B), b1 = _mm256_loadu_ps((B) + 8);                           \
    __m256 ai;                                                                                      \
    ai = _mm256_broadcast_ss((A) + 0); c00 = _mm256_fmadd_ps(ai, b0, c00); c01 = _mm256_fmadd_ps(ai, b1, c01); \
    ai = _mm256_broadcast_ss((A) + 1); c10 = _mm256_fmadd_ps(ai, b0, c10); c11 = _mm256_fmadd_ps(ai, b1, c11); \
    ai = _mm256_broadcast_ss((A) + 2); c20 = _mm256_fmadd_ps(ai, b0, c20); c21 = _mm256_fmadd_ps(ai, b1, c21); \
    ai = _mm256_broadcast_ss((A) + 3); c30 = _mm256_fmadd_ps(ai, b0, c30); c31 = _mm256_fmadd_ps(ai, b1, c31); \
    ai = _mm256_broadcast_ss((A) + 4); c40 = _mm256_fmadd_ps(ai, b0, c40); c41 = _mm256_fmadd_ps(ai, b1, c41); \
    ai = _mm256_broadcast_ss((A) + 5); c50 = _mm256_fmadd_ps(ai, b0, c50); c51 = _mm256_fmadd_ps(ai, b1, c51); \
  }

  int64_t k = 0;
  for (; k + 4 <= kc; k += 4) {
    _mm_prefetch(reinterpret_cast<const char*>(a + 8 * MR * 4), _MM_HINT_T0);
    FASTNN_AVX2_STEP(a, b)
    FASTNN_AVX2_STEP(a + MR, b + ldb)
    FASTNN_AVX2_STEP(a + 2 * MR, b + 2 * ldb)
    FASTNN_AVX2_STEP(a + 3 * MR, b + 3 * ldb)
    a += 4 * MR;
    b += 4 * ldb;
  }
  for (; k < kc; ++k) {
    FASTNN_AVX2_STEP(a, b)
    a += MR;
    b += ldb;
  }
#undef FASTNN_AVX2_STEP

  if (!ep && m == MR && n == NR && cs_c == 1) {  // the hot path: a full tile, plain GEMM
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    const __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      float* ci = c + i * rs_c;
      __m256 r0 = acc[i][0], r1 = acc[i][1];
      if (alpha != 1.0f) r0 = _mm256_mul_ps(va, r0), r1 = _mm256_mul_ps(va, r1);
      if (beta != 0.0f) {
        r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci), r0);
        r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8), r1);
      }
      _mm256_storeu_ps(ci, r0);
      _mm256_storeu_ps(ci + 8, r1);
    }
    return;
  }
  alignas(32) float tile[MR * NR];
  _mm256_store_ps(tile + 0 * NR, c00), _mm256_store_ps(tile + 0 * NR + 8, c01);
  _mm256_store_ps(tile + 1 * NR, c10), _mm256_store_ps(tile + 1 * NR + 8, c11);
  _mm256_store_ps(tile + 2 * NR, c20), _mm256_store_ps(tile + 2 * NR + 8, c21);
  _mm256_store_ps(tile + 3 * NR, c30), _mm256_store_ps(tile + 3 * NR + 8, c31);
  _mm256_store_ps(tile + 4 * NR, c40), _mm256_store_ps(tile + 4 * NR + 8, c41);
  _mm256_store_ps(tile + 5 * NR, c50), _mm256_store_ps(tile + 5 * NR + 8, c51);
  write_back_general<NR>(tile, alpha, beta, c, rs_c, cs_c, m, n, ep);
}

void sgemm_avx2_6x16(int64_t kc, float alpha, const float* a, const float* b, float beta, float* c, int64_t rs_c,
                     int64_t cs_c) {
  sgemm_avx2_6x16_ex(kc, alpha, a, b, NR, beta, c, rs_c, cs_c, MR, NR, nullptr);
}

}  // namespace

SgemmUkernelInfo sgemm_ukernel_avx2() {
  return {sgemm_avx2_6x16, MR, NR, "sgemm_avx2_6x16", sgemm_avx2_6x16_ex, sgemm_pack_a_avx2, sgemm_pack_b_avx2};
}

}  // namespace fastnn
