// AVX-512 micro-kernel, 14×32: 28 ZMM accumulators + 2 B vectors + 1 broadcast of A
// (31 of 32 registers). Per k: 2 loads, 14 broadcasts, 28 FMAs.
// Compiled and dispatched, but not run on the development machine (Zen 3, no AVX-512): the
// tests exercise it wherever the CPU has AVX-512.
#include <immintrin.h>

#include "cpu/gemm/epilogue_avx2.h"
#include "cpu/gemm/gemv.h"
#include "cpu/gemm/pack.h"
#include "cpu/gemm/ukernel.h"

namespace fastnn {
namespace {

constexpr int MR = 14, NR = 32;

// a: packed 14×kc panel   b: kc rows of 32 floats, ldb apart   c: m×n of a 14×32 tile
void sgemm_avx512_14x32_ex(int64_t kc, float alpha, const float* a, const float* b, int64_t ldb, float beta,
                           float* c, int64_t rs_c, int64_t cs_c, int m, int n, const SgemmTileEpilogue* ep) {
  __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) {
    acc0[i] = _mm512_setzero_ps();
    acc1[i] = _mm512_setzero_ps();
  }
  if (cs_c == 1)
    for (int i = 0; i < m; ++i) {
      _mm_prefetch(reinterpret_cast<const char*>(c + i * rs_c), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + i * rs_c + NR - 1), _MM_HINT_T0);
    }
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);
    }
    a += MR;
    b += ldb;
  }
  if (!ep && m == MR && n == NR && cs_c == 1) {
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
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
    return;
  }
  alignas(64) float tile[MR * NR];
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) {
    _mm512_store_ps(tile + i * NR, acc0[i]);
    _mm512_store_ps(tile + i * NR + 16, acc1[i]);
  }
  write_back_general<NR>(tile, alpha, beta, c, rs_c, cs_c, m, n, ep);
}

void sgemm_avx512_14x32(int64_t kc, float alpha, const float* a, const float* b, float beta, float* c, int64_t rs_c,
                        int64_t cs_c) {
  sgemm_avx512_14x32_ex(kc, alpha, a, b, NR, beta, c, rs_c, cs_c, MR, NR, nullptr);
}

}  // namespace

SgemmUkernelInfo sgemm_ukernel_avx512() {
  return {sgemm_avx512_14x32, MR, NR, "sgemm_avx512_14x32", sgemm_avx512_14x32_ex, pack_a, pack_b, nullptr,
          // matrix-vector products are memory-bound: the AVX2 kernels serve AVX-512 CPUs too
          sgemv_dot_avx2, sgemv_axpy_avx2};
}

}  // namespace fastnn
