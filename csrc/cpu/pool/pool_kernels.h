#pragma once
// Pooling plane kernels, one row per ISA (row 0: the scalar reference).
#include <cstdint>

#include "common/cpu_features.h"
#include "cpu/pool/pool.h"

namespace fastnn {

struct PoolKernels {
  // One (H, W) plane → (Ho, Wo) values and (optional) int64 argmax indices; scratch holds
  // max_scratch(g) floats (64-byte aligned). Needs H·W < 2^31 (int32 indices inside).
  void (*max_plane)(const Pool2dGeometry& g, const float* x, float* y, int64_t* ind, float* scratch);
  int64_t (*max_scratch)(const Pool2dGeometry& g);
  // y[p] = Σ x[p·L .. p·L + L) / L for p < rows: global average pooling of contiguous planes.
  void (*mean_rows)(const float* x, int64_t rows, int64_t L, float* y);
};

const PoolKernels& pool_kernels_for(Isa isa);

void max_pool_plane_ref(const Pool2dGeometry& g, const float* x, float* y, int64_t* ind);
#if defined(FASTNN_X86)
PoolKernels pool_kernels_avx2();
PoolKernels pool_kernels_avx512();
#endif

}  // namespace fastnn
