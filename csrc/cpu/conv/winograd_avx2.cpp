// Winograd F(4×4, 3×3) leaf kernels, AVX2+FMA: 8 tiles per vector.
#include <immintrin.h>

#include <cstdint>

#include "cpu/conv/winograd.h"
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
  static reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm256_sub_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  static reg fma(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  static reg fnma(reg a, reg b, reg c) { return _mm256_fnmadd_ps(a, b, c); }
  // 32 floats = 8 groups of 4 → the 4 strided phases, groups in natural order.
  static void deinterleave4(const float* src, reg& p0, reg& p1, reg& p2, reg& p3) {
    const reg v0 = _mm256_loadu_ps(src), v1 = _mm256_loadu_ps(src + 8);
    const reg v2 = _mm256_loadu_ps(src + 16), v3 = _mm256_loadu_ps(src + 24);
    const reg t0 = _mm256_unpacklo_ps(v0, v1), t1 = _mm256_unpackhi_ps(v0, v1);
    const reg t2 = _mm256_unpacklo_ps(v2, v3), t3 = _mm256_unpackhi_ps(v2, v3);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);  // groups come out as 0 2 4 6 | 1 3 5 7
    p0 = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t0, t2, 0x44), order);
    p1 = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t0, t2, 0xEE), order);
    p2 = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t1, t3, 0x44), order);
    p3 = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t1, t3, 0xEE), order);
  }
  static void interleave4_store(float* dst, reg r0, reg r1, reg r2, reg r3) {
    const reg a = _mm256_unpacklo_ps(r0, r1), b = _mm256_unpacklo_ps(r2, r3);
    const reg c = _mm256_unpackhi_ps(r0, r1), d = _mm256_unpackhi_ps(r2, r3);
    const reg e0 = _mm256_shuffle_ps(a, b, 0x44), e1 = _mm256_shuffle_ps(a, b, 0xEE);  // tiles 0|4, 1|5
    const reg e2 = _mm256_shuffle_ps(c, d, 0x44), e3 = _mm256_shuffle_ps(c, d, 0xEE);  // tiles 2|6, 3|7
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(e0, e1, 0x20));
    _mm256_storeu_ps(dst + 8, _mm256_permute2f128_ps(e2, e3, 0x20));
    _mm256_storeu_ps(dst + 16, _mm256_permute2f128_ps(e0, e1, 0x31));
    _mm256_storeu_ps(dst + 24, _mm256_permute2f128_ps(e2, e3, 0x31));
  }
};

#include "cpu/conv/winograd_body.inc"

// m ≤ 6 kernels rows × n ≤ 8 channel lanes → per ξ, n groups of 6 floats (k-minor), written by
// overlapping 8-float stores in increasing order, the last one cut to 6 floats.
void wino_weights_mr6_avx2(const float* w, int64_t w_k, int64_t w_c, int64_t w_r, int64_t w_s, int64_t m, int64_t n,
                           float* dst, int64_t xi_stride, float* fin) {
  alignas(32) float ub[6][36][8];
  for (int64_t i = 0; i < 6; ++i) {
    if (i < m) {
      wino_weights<VecAvx2>(w + i * w_k, w_c, w_r, w_s, n, &ub[i][0][0], fin);
    } else {
      for (int xi = 0; xi < 36; ++xi) _mm256_store_ps(ub[i][xi], _mm256_setzero_ps());
    }
  }
  for (int xi = 0; xi < 36; ++xi) {
    __m256 r[8];
    for (int i = 0; i < 6; ++i) r[i] = _mm256_load_ps(ub[i][xi]);
    r[6] = r[7] = _mm256_setzero_ps();
    simd_avx2::transpose8x8(r);  // r[l] = the 6 kernels' values for channel lane l
    float* d = dst + xi * xi_stride;
    for (int64_t l = 0; l + 1 < n; ++l) _mm256_storeu_ps(d + l * 6, r[l]);
    float* last = d + (n - 1) * 6;  // 4 + 2 floats (a masked store is microcoded and slow here)
    _mm_storeu_ps(last, _mm256_castps256_ps128(r[n - 1]));
    _mm_storel_pi(reinterpret_cast<__m64*>(last + 4), _mm256_extractf128_ps(r[n - 1], 1));
  }
}

}  // namespace

WinogradKernels winograd_kernels_avx2() {
  return {VecAvx2::W, wino_weights<VecAvx2>, wino_weights_mr6_avx2, wino_split<VecAvx2>, wino_input<VecAvx2>, wino_output<VecAvx2>};
}

}  // namespace fastnn
