#pragma once
// Pooling plane kernels, one row per ISA (row 0: the scalar reference).
#include <cstdint>

#include "common/cpu_features.h"
#include "cpu/pool/pool.h"

namespace fastnn {

struct PoolKernels {
  // One (H, W) plane → (Ho, Wo) values and (optional) int64 argmax indices.
  void (*max_plane)(const Pool2dGeometry& g, const float* x, float* y, int64_t* ind);
};

const PoolKernels& pool_kernels_for(Isa isa);

void max_pool_plane_ref(const Pool2dGeometry& g, const float* x, float* y, int64_t* ind);
#if defined(FASTNN_X86)
void max_pool_plane_avx2(const Pool2dGeometry& g, const float* x, float* y, int64_t* ind);
void max_pool_plane_avx512(const Pool2dGeometry& g, const float* x, float* y, int64_t* ind);
#endif

}  // namespace fastnn
