// Depthwise plane kernels, AVX2+FMA (8 lanes).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "cpu/conv/depthwise.h"
#include "cpu/simd/avx2.h"

namespace fastnn {
namespace {

using V = simd_avx2::VecF32;

#include "cpu/conv/depthwise_body.inc"

}  // namespace

DepthwiseKernels depthwise_kernels_avx2() {
  return {dw_plane<V>, dw_wgrad<V>, dw_scratch<V>, dw_wgrad_scratch<V>};
}

}  // namespace fastnn
