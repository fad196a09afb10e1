// Winograd F(4×4, 3×3) leaf kernels, AVX-512F: 16 tiles per vector (phase splits by gather and
// scatter). Compiled and dispatched; unverified on hardware here (no AVX-512 machine).
#include <immintrin.h>

#include <cstdint>

#include "cpu/conv/winograd.h"

namespace fastnn {
namespace {

struct VecAvx512 {
  using reg = __m512;
  static constexpr int W = 16;
  static reg zero() { return _mm512_setzero_ps(); }
  static reg set1(float f) { return _mm512_set1_ps(f); }
  static reg loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, reg v) { _mm512_storeu_ps(p, v); }
  static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static reg fnma(reg a, reg b, reg c) { return _mm512_fnmadd_ps(a, b, c); }
  static __m512i stride4() {
    return _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60);
  }
  static void deinterleave4(const float* src, reg& p0, reg& p1, reg& p2, reg& p3) {
    const __m512i idx = stride4();
    p0 = _mm512_i32gather_ps(idx, src, 4);
    p1 = _mm512_i32gather_ps(idx, src + 1, 4);
    p2 = _mm512_i32gather_ps(idx, src + 2, 4);
    p3 = _mm512_i32gather_ps(idx, src + 3, 4);
  }
  static void interleave4_store(float* dst, reg r0, reg r1, reg r2, reg r3) {
    const __m512i idx = stride4();
    _mm512_i32scatter_ps(dst, idx, r0, 4);
    _mm512_i32scatter_ps(dst + 1, idx, r1, 4);
    _mm512_i32scatter_ps(dst + 2, idx, r2, 4);
    _mm512_i32scatter_ps(dst + 3, idx, r3, 4);
  }
};

#include "cpu/conv/winograd_body.inc"

}  // namespace

WinogradKernels winograd_kernels_avx512() {
  return {VecAvx512::W, wino_weights<VecAvx512>, nullptr, wino_split<VecAvx512>, wino_input<VecAvx512>, wino_output<VecAvx512>};
}

}  // namespace fastnn
