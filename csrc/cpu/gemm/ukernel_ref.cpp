// Portable micro-kernel: the reference every ISA kernel is tested against, and the
// generic path on CPUs without AVX2 (plain C++, vectorised by the compiler for the baseline).
#include "cpu/gemm/ukernel.h"

namespace fastnn {
namespace {

constexpr int MR = 6, NR = 8;

void sgemm_ref_6x8(int64_t kc, float alpha, const float* a, const float* b, float beta, float* c, int64_t rs_c,
                   int64_t cs_c) {
  float acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    const float* ak = a + k * MR;
    const float* bk = b + k * NR;
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += ak[i] * bk[j];
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) {
      float* cij = c + i * rs_c + j * cs_c;
      *cij = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *cij;
    }
}

}  // namespace

SgemmUkernelInfo sgemm_ukernel_ref() { return {sgemm_ref_6x8, MR, NR, "sgemm_ref_6x8"}; }

}  // namespace fastnn
