// Portable micro-kernel, 4×8: the reference every ISA kernel is tested against, and the generic
// path on CPUs without AVX2. Written with GCC/Clang vector extensions (4 floats), so the baseline
// build keeps the accumulator tile in 8 SSE registers (NEON on ARM). No FMA in the baseline ISA:
// each step is a multiply and an add, and a 6×8 tile (12 accumulators + 2 B + broadcast +
// product) spilled two accumulators to the stack; 4×8 does not.
#include <cstring>

#include "cpu/activation_math.h"
#include "cpu/gemm/epilogue_math.h"
#include "cpu/gemm/gemv.h"
#include "cpu/gemm/pack.h"
#include "cpu/gemm/ukernel.h"

namespace fastnn {
namespace {

constexpr int MR = 4, NR = 8;
typedef float f4 __attribute__((vector_size(16)));

inline f4 load4(const float* p) {  // any alignment
  f4 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// The tile of C (m×n) = epilogue(alpha·acc + beta·C).
void finish_tile(const f4 (&acc)[MR][2], float alpha, float beta, float* c, int64_t rs_c, int64_t cs_c, int m, int n,
                 const SgemmTileEpilogue* ep) {
  float tile[MR][NR];
  std::memcpy(tile, acc, sizeof(tile));
  const float* bias = ep ? ep->bias : nullptr;
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      float* cij = c + i * rs_c + j * cs_c;
      float z = alpha * tile[i][j];
      if (beta != 0.0f) z += beta * *cij;
      if (!ep) {
        *cij = z;
        continue;
      }
      if (bias) z += ep->bias_per_row ? bias[i] : bias[j];
      *cij = ep->dy ? ep->dy[i * ep->rs_dy + j * ep->cs_dy] * activation_grad(ep->act, z) : apply_activation(ep->act, z);
    }
}

// a(i, k) = a[i*ars + k*acs]: packed (ars 1, acs MR) or rows in place (ars lda, acs 1).
inline void accumulate(int64_t kc, const float* a, int64_t ars, int64_t acs, const float* b, int64_t ldb,
                       f4 (&acc)[MR][2]) {
  for (int64_t k = 0; k < kc; ++k) {
    const f4 b0 = load4(b), b1 = load4(b + 4);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const float ai = a[i * ars];
      const f4 av = {ai, ai, ai, ai};
      acc[i][0] += av * b0;
      acc[i][1] += av * b1;
    }
    a += acs;
    b += ldb;
  }
}

// a: packed 4×kc panel   b: kc rows of 8 floats, ldb apart   c: m×n of a 4×8 tile
void sgemm_ref_4x8_ex(int64_t kc, float alpha, const float* a, const float* b, int64_t ldb, float beta, float* c,
                      int64_t rs_c, int64_t cs_c, int m, int n, const SgemmTileEpilogue* ep) {
  f4 acc[MR][2] = {};
  accumulate(kc, a, 1, MR, b, ldb, acc);
  finish_tile(acc, alpha, beta, c, rs_c, cs_c, m, n, ep);
}

// a: 4 rows of A in place, a[i*lda + k]
void sgemm_ref_4x8_rowa(int64_t kc, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
                        float* c, int64_t rs_c, int64_t cs_c, int n, const SgemmTileEpilogue* ep) {
  f4 acc[MR][2] = {};
  accumulate(kc, a, lda, 1, b, ldb, acc);
  finish_tile(acc, alpha, beta, c, rs_c, cs_c, MR, n, ep);
}

void sgemm_ref_4x8(int64_t kc, float alpha, const float* a, const float* b, float beta, float* c, int64_t rs_c,
                   int64_t cs_c) {
  sgemm_ref_4x8_ex(kc, alpha, a, b, NR, beta, c, rs_c, cs_c, MR, NR, nullptr);
}

}  // namespace

SgemmUkernelInfo sgemm_ukernel_ref() {
  return {sgemm_ref_4x8, MR, NR, "sgemm_ref_4x8", sgemm_ref_4x8_ex, pack_a, pack_b, sgemm_ref_4x8_rowa,
          sgemv_dot_ref, sgemv_axpy_ref};
}

}  // namespace fastnn
