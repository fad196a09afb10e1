#pragma once
// AVX-512 vector math, for *_avx512.cpp translation units only (see avx2.h for the rules and
// the algorithm notes).
#include <immintrin.h>

#include <cstdint>

namespace fastnn {
namespace simd_avx512 {

constexpr int kWidth = 16;

static inline __m512 exp(__m512 x) {
  const __m512 hi = _mm512_set1_ps(88.3762626647949f), lo = _mm512_set1_ps(-87.3365447505531f);
  __m512 xc = _mm512_max_ps(lo, _mm512_min_ps(hi, x));
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  __m512 y = _mm512_scalef_ps(p, n);  // p · 2^n
  y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ), _mm512_setzero_ps());
  y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, hi, _CMP_GT_OQ), _mm512_set1_ps(__builtin_inff()));
  return y;
}

static inline float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }
static inline float hmax(__m512 v) { return _mm512_reduce_max_ps(v); }

// Mask with the first n (0..16) lanes set.
static inline __mmask16 tail_mask(int n) { return __mmask16((1u << n) - 1u); }

}  // namespace simd_avx512
}  // namespace fastnn
