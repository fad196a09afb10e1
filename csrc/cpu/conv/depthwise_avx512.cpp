// Depthwise plane kernels, AVX-512F (16 lanes). Compiled and dispatched; unverified on hardware
// where the build machine lacks AVX-512.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "cpu/conv/depthwise.h"
#include "cpu/simd/avx512.h"

namespace fastnn {
namespace {

struct VecAvx512 {
  using reg = __m512;
  static constexpr int W = 16;
  static reg zero() { return _mm512_setzero_ps(); }
  static reg set1(float f) { return _mm512_set1_ps(f); }
  static reg loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, reg v) { _mm512_storeu_ps(p, v); }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static float hsum(reg v) { return simd_avx512::hsum(v); }
};

#include "cpu/conv/depthwise_body.inc"

}  // namespace

DepthwiseKernels depthwise_kernels_avx512() {
  return {dw_plane<VecAvx512>, dw_wgrad<VecAvx512>, dw_scratch<VecAvx512>, dw_wgrad_scratch<VecAvx512>};
}

}  // namespace fastnn
