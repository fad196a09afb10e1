// AVX2+FMA micro-kernels, 6×16: 12 YMM accumulators + 2 B vectors + 2 alternating broadcasts
// of A (16 registers). Per k: 2 loads, 6 broadcasts, 12 FMAs — FMA-bound on Zen 3 and on
// Haswell..Raptor Lake (2 FMA pipes; broadcasts from memory run on the load ports).
// Kernel-only on Zen 3 (A in L2, B panel in L1, one core): 6×16 ≈ 87-97 GFLOP/s, a 4×24
// variant ≈ 82-88 (same FMA bound); 6×16 kept: a C row is one cache line, N edges waste less.
//
// Two A sources, same B / C / epilogue handling:
//   sgemm_avx2_6x16_ex    A packed (6 floats per k)                        — the GEMM driver
//   sgemm_avx2_6x16_rowa  A read in place, row-major (6 rows lda apart)    — skips packing A
//                         when it would not be amortised (few column panels)
#include <immintrin.h>

#include "cpu/gemm/epilogue_avx2.h"
#include "cpu/gemm/gemv.h"
#include "cpu/gemm/pack.h"
#include "cpu/gemm/ukernel.h"

namespace fastnn {
namespace {

constexpr int MR = 6, NR = 16;

// ---- write-back ------------------------------------------------------------------------------

// C (m×n of the tile) = epilogue(alpha·acc + beta·C); acc in registers.
__attribute__((always_inline)) inline void finish_tile(__m256 c00, __m256 c01, __m256 c10, __m256 c11, __m256 c20,
                                                       __m256 c21, __m256 c30, __m256 c31, __m256 c40, __m256 c41,
                                                       __m256 c50, __m256 c51, float alpha, float beta, float* c,
                                                       int64_t rs_c, int64_t cs_c, int m, int n,
                                                       const SgemmTileEpilogue* ep) {
  const __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (!ep && m == MR && n == NR && cs_c == 1) {  // the hot path: a full tile, plain GEMM
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
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
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    _mm256_store_ps(tile + i * NR, acc[i][0]);
    _mm256_store_ps(tile + i * NR + 8, acc[i][1]);
  }
  write_back_general<NR>(tile, alpha, beta, c, rs_c, cs_c, m, n, ep);
}

inline void prefetch_tile(const float* c, int64_t rs_c, int64_t cs_c, int m) {
  if (cs_c != 1) return;  // the tile is read or written right after the loop: start fetching it
  for (int i = 0; i < m; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * rs_c), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * rs_c + NR - 1), _MM_HINT_T0);
  }
}

// ---- the k loop --------------------------------------------------------------------------------
// Assembly: compiled from intrinsics, GCC 12 spilled accumulators to the stack. One step: the B
// row (b0, b1), six broadcasts of A alternating a0/a1 so loads run ahead of the FMAs. A0..A5 are
// the six A operands' addresses for this step.
#define FASTNN_AVX2_STEP(A0, A1, A2, A3, A4, A5) \
  "vmovups (%[b]), %t[b0]\n\t"                   \
  "vmovups 32(%[b]), %t[b1]\n\t"                 \
  "vbroadcastss " A0 ", %t[a0]\n\t"              \
  "vbroadcastss " A1 ", %t[a1]\n\t"              \
  "vfmadd231ps %t[b0], %t[a0], %t[c00]\n\t"      \
  "vfmadd231ps %t[b1], %t[a0], %t[c01]\n\t"      \
  "vbroadcastss " A2 ", %t[a0]\n\t"              \
  "vfmadd231ps %t[b0], %t[a1], %t[c10]\n\t"      \
  "vfmadd231ps %t[b1], %t[a1], %t[c11]\n\t"      \
  "vbroadcastss " A3 ", %t[a1]\n\t"              \
  "vfmadd231ps %t[b0], %t[a0], %t[c20]\n\t"      \
  "vfmadd231ps %t[b1], %t[a0], %t[c21]\n\t"      \
  "vbroadcastss " A4 ", %t[a0]\n\t"              \
  "vfmadd231ps %t[b0], %t[a1], %t[c30]\n\t"      \
  "vfmadd231ps %t[b1], %t[a1], %t[c31]\n\t"      \
  "vbroadcastss " A5 ", %t[a1]\n\t"              \
  "vfmadd231ps %t[b0], %t[a0], %t[c40]\n\t"      \
  "vfmadd231ps %t[b1], %t[a0], %t[c41]\n\t"      \
  "vfmadd231ps %t[b0], %t[a1], %t[c50]\n\t"      \
  "vfmadd231ps %t[b1], %t[a1], %t[c51]\n\t"      \
  "add %[ldb], %[b]\n\t"

#define FASTNN_AVX2_STEP_(...) FASTNN_AVX2_STEP(__VA_ARGS__)  // expands the operand list first

#define FASTNN_AVX2_ZERO_ACC                                                                            \
  "vxorps %t[c00], %t[c00], %t[c00]\n\t" "vxorps %t[c01], %t[c01], %t[c01]\n\t"                         \
  "vxorps %t[c10], %t[c10], %t[c10]\n\t" "vxorps %t[c11], %t[c11], %t[c11]\n\t"                         \
  "vxorps %t[c20], %t[c20], %t[c20]\n\t" "vxorps %t[c21], %t[c21], %t[c21]\n\t"                         \
  "vxorps %t[c30], %t[c30], %t[c30]\n\t" "vxorps %t[c31], %t[c31], %t[c31]\n\t"                         \
  "vxorps %t[c40], %t[c40], %t[c40]\n\t" "vxorps %t[c41], %t[c41], %t[c41]\n\t"                         \
  "vxorps %t[c50], %t[c50], %t[c50]\n\t" "vxorps %t[c51], %t[c51], %t[c51]\n\t"

#define FASTNN_AVX2_ACC_OUTPUTS                                                                         \
  [c00] "=&x"(c00), [c01] "=&x"(c01), [c10] "=&x"(c10), [c11] "=&x"(c11), [c20] "=&x"(c20),              \
      [c21] "=&x"(c21), [c30] "=&x"(c30), [c31] "=&x"(c31), [c40] "=&x"(c40), [c41] "=&x"(c41),          \
      [c50] "=&x"(c50), [c51] "=&x"(c51), [b0] "=&x"(t0), [b1] "=&x"(t1), [a0] "=&x"(t2), [a1] "=&x"(t3)

#define FASTNN_PACKED_A(O) #O "+0(%[a])", #O "+4(%[a])", #O "+8(%[a])", #O "+12(%[a])", #O "+16(%[a])", #O "+20(%[a])"
#define FASTNN_ROW_A(O) \
  #O "(%[a])", #O "(%[a],%[lda],1)", #O "(%[a],%[lda],2)", #O "(%[a3])", #O "(%[a3],%[lda],1)", #O "(%[a3],%[lda],2)"

// a: packed 6×kc panel (6 floats per k)   b: kc rows of 16 floats, ldb apart   c: m×n of a 6×16 tile
void sgemm_avx2_6x16_ex(int64_t kc, float alpha, const float* a, const float* b, int64_t ldb, float beta, float* c,
                        int64_t rs_c, int64_t cs_c, int m, int n, const SgemmTileEpilogue* ep) {
  prefetch_tile(c, rs_c, cs_c, m);
  __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, t0, t1, t2, t3;
  int64_t iters = kc / 4, left = kc % 4;
  const int64_t ldb_bytes = ldb * int64_t(sizeof(float));
  asm volatile(
      FASTNN_AVX2_ZERO_ACC
      "test %[iters], %[iters]\n\t"
      "jz 2f\n\t"
      ".p2align 4\n\t"
      "1:\n\t"
      "prefetcht0 384(%[a])\n\t"
      FASTNN_AVX2_STEP_(FASTNN_PACKED_A(0))
      FASTNN_AVX2_STEP_(FASTNN_PACKED_A(24))
      FASTNN_AVX2_STEP_(FASTNN_PACKED_A(48))
      FASTNN_AVX2_STEP_(FASTNN_PACKED_A(72))
      "add $96, %[a]\n\t"
      "dec %[iters]\n\t"
      "jnz 1b\n\t"
      "2:\n\t"
      "test %[left], %[left]\n\t"
      "jz 4f\n\t"
      "3:\n\t"
      FASTNN_AVX2_STEP_(FASTNN_PACKED_A(0))
      "add $24, %[a]\n\t"
      "dec %[left]\n\t"
      "jnz 3b\n\t"
      "4:\n\t"
      : FASTNN_AVX2_ACC_OUTPUTS, [a] "+r"(a), [b] "+r"(b), [iters] "+r"(iters), [left] "+r"(left)
      : [ldb] "r"(ldb_bytes)
      : "cc", "memory");
  (void)t0, (void)t1, (void)t2, (void)t3;
  finish_tile(c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, alpha, beta, c, rs_c, cs_c, m, n, ep);
}

// a: 6 full rows of A in place, a[i*lda + k]   (otherwise as sgemm_avx2_6x16_ex)
void sgemm_avx2_6x16_rowa(int64_t kc, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                          float beta, float* c, int64_t rs_c, int64_t cs_c, int n, const SgemmTileEpilogue* ep) {
  prefetch_tile(c, rs_c, cs_c, MR);
  __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, t0, t1, t2, t3;
  int64_t iters = kc / 4, left = kc % 4;
  const int64_t ldb_bytes = ldb * int64_t(sizeof(float)), lda_bytes = lda * int64_t(sizeof(float));
  const float* a3 = a + 3 * lda;
  asm volatile(
      FASTNN_AVX2_ZERO_ACC
      "test %[iters], %[iters]\n\t"
      "jz 2f\n\t"
      ".p2align 4\n\t"
      "1:\n\t"
      FASTNN_AVX2_STEP_(FASTNN_ROW_A(0))
      FASTNN_AVX2_STEP_(FASTNN_ROW_A(4))
      FASTNN_AVX2_STEP_(FASTNN_ROW_A(8))
      FASTNN_AVX2_STEP_(FASTNN_ROW_A(12))
      "add $16, %[a]\n\t"
      "add $16, %[a3]\n\t"
      "dec %[iters]\n\t"
      "jnz 1b\n\t"
      "2:\n\t"
      "test %[left], %[left]\n\t"
      "jz 4f\n\t"
      "3:\n\t"
      FASTNN_AVX2_STEP_(FASTNN_ROW_A(0))
      "add $4, %[a]\n\t"
      "add $4, %[a3]\n\t"
      "dec %[left]\n\t"
      "jnz 3b\n\t"
      "4:\n\t"
      : FASTNN_AVX2_ACC_OUTPUTS, [a] "+r"(a), [a3] "+r"(a3), [b] "+r"(b), [iters] "+r"(iters), [left] "+r"(left)
      : [ldb] "r"(ldb_bytes), [lda] "r"(lda_bytes)
      : "cc", "memory");
  (void)t0, (void)t1, (void)t2, (void)t3;
  finish_tile(c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, alpha, beta, c, rs_c, cs_c, MR, n, ep);
}

#undef FASTNN_AVX2_STEP
#undef FASTNN_AVX2_STEP_
#undef FASTNN_AVX2_ZERO_ACC
#undef FASTNN_AVX2_ACC_OUTPUTS
#undef FASTNN_PACKED_A
#undef FASTNN_ROW_A

void sgemm_avx2_6x16(int64_t kc, float alpha, const float* a, const float* b, float beta, float* c, int64_t rs_c,
                     int64_t cs_c) {
  sgemm_avx2_6x16_ex(kc, alpha, a, b, NR, beta, c, rs_c, cs_c, MR, NR, nullptr);
}

}  // namespace

SgemmUkernelInfo sgemm_ukernel_avx2() {
  return {sgemm_avx2_6x16,   MR, NR, "sgemm_avx2_6x16", sgemm_avx2_6x16_ex, sgemm_pack_a_avx2, sgemm_pack_b_avx2,
          sgemm_avx2_6x16_rowa, sgemv_dot_avx2, sgemv_axpy_avx2};
}

}  // namespace fastnn
