// Depthwise plane kernels, AVX2+FMA (8 lanes).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "cpu/conv/depthwise.h"
#include "cpu/simd/avx2.h"

namespace fastnn {
namespace {

struct VecAvx2 {
  using reg = __m256;
  static constexpr int W = 8;
  static reg zero() { return _mm256_setzero_ps(); }
  static reg set1(float f) { return _mm256_set1_ps(f); }
  static reg loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, reg v) { _mm256_storeu_ps(p, v); }
  static reg fma(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  static reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static float hsum(reg v) { return simd_avx2::hsum(v); }
};

#include "cpu/conv/depthwise_body.inc"

}  // namespace

DepthwiseKernels depthwise_kernels_avx2() {
  return {dw_plane<VecAvx2>, dw_wgrad<VecAvx2>, dw_scratch<VecAvx2>, dw_wgrad_scratch<VecAvx2>};
}

}  // namespace fastnn
