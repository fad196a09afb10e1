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
  __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;  // zeroed in the asm
  if (cs_c == 1)  // the tile is read or written right after the loop: start fetching its lines
    for (int i = 0; i < m; ++i) {
      _mm_prefetch(reinterpret_cast<const char*>(c + i * rs_c), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + i * rs_c + NR - 1), _MM_HINT_T0);
    }

  // The k loop is assembly: compiled from intrinsics, GCC 12 spilled accumulators to the stack.
  // 12 accumulators; b0/b1 hold the B row; a0/a1 alternate broadcasts so loads run ahead of FMAs.
#define FASTNN_AVX2_STEP(O)                        \
  "vmovups (%[b]), %t[b0]\n\t"                     \
  "vmovups 32(%[b]), %t[b1]\n\t"                   \
  "vbroadcastss " #O "+0(%[a]), %t[a0]\n\t"        \
  "vbroadcastss " #O "+4(%[a]), %t[a1]\n\t"        \
  "vfmadd231ps %t[b0], %t[a0], %t[c00]\n\t"        \
  "vfmadd231ps %t[b1], %t[a0], %t[c01]\n\t"        \
  "vbroadcastss " #O "+8(%[a]), %t[a0]\n\t"        \
  "vfmadd231ps %t[b0], %t[a1], %t[c10]\n\t"        \
  "vfmadd231ps %t[b1], %t[a1], %t[c11]\n\t"        \
  "vbroadcastss " #O "+12(%[a]), %t[a1]\n\t"       \
  "vfmadd231ps %t[b0], %t[a0], %t[c20]\n\t"        \
  "vfmadd231ps %t[b1], %t[a0], %t[c21]\n\t"        \
  "vbroadcastss " #O "+16(%[a]), %t[a0]\n\t"       \
  "vfmadd231ps %t[b0], %t[a1], %t[c30]\n\t"        \
  "vfmadd231ps %t[b1], %t[a1], %t[c31]\n\t"        \
  "vbroadcastss " #O "+20(%[a]), %t[a1]\n\t"       \
  "vfmadd231ps %t[b0], %t[a0], %t[c40]\n\t"        \
  "vfmadd231ps %t[b1], %t[a0], %t[c41]\n\t"        \
  "vfmadd231ps %t[b0], %t[a1], %t[c50]\n\t"        \
  "vfmadd231ps %t[b1], %t[a1], %t[c51]\n\t"        \
  "add %[ldb], %[b]\n\t"

  int64_t iters = kc / 4, left = kc % 4;
  const int64_t ldb_bytes = ldb * int64_t(sizeof(float));
  __m256 t0, t1, t2, t3;
  asm volatile(
      "vxorps %t[c00], %t[c00], %t[c00]\n\t"
      "vxorps %t[c01], %t[c01], %t[c01]\n\t"
      "vxorps %t[c10], %t[c10], %t[c10]\n\t"
      "vxorps %t[c11], %t[c11], %t[c11]\n\t"
      "vxorps %t[c20], %t[c20], %t[c20]\n\t"
      "vxorps %t[c21], %t[c21], %t[c21]\n\t"
      "vxorps %t[c30], %t[c30], %t[c30]\n\t"
      "vxorps %t[c31], %t[c31], %t[c31]\n\t"
      "vxorps %t[c40], %t[c40], %t[c40]\n\t"
      "vxorps %t[c41], %t[c41], %t[c41]\n\t"
      "vxorps %t[c50], %t[c50], %t[c50]\n\t"
      "vxorps %t[c51], %t[c51], %t[c51]\n\t"
      "test %[iters], %[iters]\n\t"
      "jz 2f\n\t"
      ".p2align 4\n\t"
      "1:\n\t"
      "prefetcht0 384(%[a])\n\t"
      FASTNN_AVX2_STEP(0)
      FASTNN_AVX2_STEP(24)
      FASTNN_AVX2_STEP(48)
      FASTNN_AVX2_STEP(72)
      "add $96, %[a]\n\t"
      "dec %[iters]\n\t"
      "jnz 1b\n\t"
      "2:\n\t"
      "test %[left], %[left]\n\t"
      "jz 4f\n\t"
      "3:\n\t"
      FASTNN_AVX2_STEP(0)
      "add $24, %[a]\n\t"
      "dec %[left]\n\t"
      "jnz 3b\n\t"
      "4:\n\t"
      : [c00] "=&x"(c00), [c01] "=&x"(c01), [c10] "=&x"(c10), [c11] "=&x"(c11), [c20] "=&x"(c20), [c21] "=&x"(c21),
        [c30] "=&x"(c30), [c31] "=&x"(c31), [c40] "=&x"(c40), [c41] "=&x"(c41), [c50] "=&x"(c50), [c51] "=&x"(c51),
        [b0] "=&x"(t0), [b1] "=&x"(t1), [a0] "=&x"(t2), [a1] "=&x"(t3), [a] "+r"(a), [b] "+r"(b),
        [iters] "+r"(iters), [left] "+r"(left)
      : [ldb] "r"(ldb_bytes)
      : "cc", "memory");
  (void)t0, (void)t1, (void)t2, (void)t3;
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
