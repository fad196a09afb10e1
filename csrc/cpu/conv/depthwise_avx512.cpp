// Depthwise plane kernels, AVX-512F (16 lanes). Compiled and dispatched; unverified on hardware
// where the build machine lacks AVX-512.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "cpu/conv/depthwise.h"
#include "cpu/simd/avx512.h"

namespace fastnn {
namespace {

using V = simd_avx512::VecF32;

#include "cpu/conv/depthwise_body.inc"

}  // namespace

DepthwiseKernels depthwise_kernels_avx512() {
  return {dw_plane<V>, dw_wgrad<V>, dw_scratch<V>, dw_wgrad_scratch<V>};
}

}  // namespace fastnn
