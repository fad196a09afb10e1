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

// ---- VecF32: width-generic float ops (glue-b; see the notes in avx2.h) ----------------------
namespace {
struct VecF32 {
  using reg = __m512;
  using ireg = __m512i;
  using mask = __mmask16;
  static constexpr int W = 16;
  static constexpr int kStreamAlign = 64;

  static reg zero() { return _mm512_setzero_ps(); }
  static reg set1(float v) { return _mm512_set1_ps(v); }
  static reg load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, reg v) { _mm512_storeu_ps(p, v); }
  static void stream(float* p, reg v) { _mm512_stream_ps(p, v); }
  static void stream_fence() { _mm_sfence(); }
  static reg load_tail(const float* p, int n) { return _mm512_maskz_loadu_ps(tail_mask(n), p); }
  static void store_tail(float* p, reg v, int n) { _mm512_mask_storeu_ps(p, tail_mask(n), v); }
  // Lanes >= n (0 < n < W) set to zero.
  static reg keep_first(reg v, int n) { return _mm512_maskz_mov_ps(tail_mask(n), v); }
  static reg loadn(const float* p, int n) { return n == W ? load(p) : load_tail(p, n); }
  static void storen(float* p, reg v, int n) { n == W ? store(p, v) : store_tail(p, v, n); }

  static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static reg div(reg a, reg b) { return _mm512_div_ps(a, b); }
  static reg fmadd(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static reg fnmadd(reg a, reg b, reg c) { return _mm512_fnmadd_ps(a, b, c); }
  static reg sqrt(reg a) { return _mm512_sqrt_ps(a); }
  static reg max(reg a, reg b) { return _mm512_max_ps(a, b); }
  static reg min(reg a, reg b) { return _mm512_min_ps(a, b); }
  static reg neg(reg a) {
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_set1_epi32(int32_t(0x80000000u))));
  }
  static float reduce_add(reg a) { return hsum(a); }

  static mask gt(reg a, reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static mask isnan(reg a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
  static mask mask_or(mask a, mask b) { return mask(a | b); }
  static mask mask_andnot(mask a, mask b) { return mask(~a & b); }
  static bool any(mask m) { return m != 0; }
  static reg select(mask m, reg t, reg f) { return _mm512_mask_blend_ps(m, f, t); }

  static ireg iset1(int32_t v) { return _mm512_set1_epi32(v); }
  static ireg iota() { return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }
  static ireg iadd(ireg a, ireg b) { return _mm512_add_epi32(a, b); }
  static ireg iselect(mask m, ireg t, ireg f) { return _mm512_mask_blend_epi32(m, f, t); }
  static ireg iloadn(const int32_t* p, int n) {
    return n == W ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi32(tail_mask(n), p);
  }
  static void istoren(int32_t* p, ireg v, int n) {
    if (n == W) _mm512_storeu_si512(p, v);
    else _mm512_mask_storeu_epi32(p, tail_mask(n), v);
  }
  static void store_lanes(float* v, int32_t* i, reg a, ireg b) {
    _mm512_storeu_ps(v, a);
    _mm512_storeu_si512(i, b);
  }
};
}  // namespace

}  // namespace simd_avx512
}  // namespace fastnn
