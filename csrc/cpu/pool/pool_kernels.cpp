#include "cpu/pool/pool_kernels.h"

namespace fastnn {
namespace {

void max_plane_ref(const Pool2dGeometry& g, const float* x, float* y, int64_t* ind, float*) {
  max_pool_plane_ref(g, x, y, ind);
}
int64_t max_scratch_ref(const Pool2dGeometry&) { return 0; }

void mean_rows_ref(const float* x, int64_t rows, int64_t L, float* y) {
  for (int64_t p = 0; p < rows; ++p) {
    float s = 0.0f;
    for (int64_t i = 0; i < L; ++i) s += x[p * L + i];
    y[p] = s / float(L);
  }
}

PoolKernels pool_kernels_ref() { return {max_plane_ref, max_scratch_ref, mean_rows_ref}; }

}  // namespace

const PoolKernels& pool_kernels_for(Isa isa) {
  static const PoolKernels table[kNumIsas] = {
      pool_kernels_ref(),
#if defined(FASTNN_X86)
      pool_kernels_avx2(),
      pool_kernels_avx512(),
#else
      pool_kernels_ref(),
      pool_kernels_ref(),
#endif
  };
  return table[int(isa)];
}

}  // namespace fastnn
