#pragma once
// AVX2+FMA vector math, for *_avx2.cpp translation units only. Everything is static inline in
// an ISA-named namespace, so no symbol compiled with these flags is shared with other TUs.
#include <immintrin.h>

#include <cstdint>

namespace fastnn {
namespace simd_avx2 {

constexpr int kWidth = 8;

// exp(x), float32, ≈ 1 ulp over the normal range: x = n·ln2 + r, |r| ≤ ln2/2, e^r by a degree-6
// polynomial (Cephes expf coefficients), 2^n built in the exponent field. x > 88.376 gives
// inf (true overflow is at 88.723: the 2^n trick needs n <= 127). exp(-inf) = 0,
// exp(+inf) = inf, NaN stays NaN, underflow flushes to 0.
static inline __m256 exp(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-87.3365447505531f);
  // MINPS/MAXPS return the second operand when either is NaN: keep x second so NaN survives.
  __m256 xc = _mm256_max_ps(lo, _mm256_min_ps(hi, x));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, lo, _CMP_LT_OQ));
  y = _mm256_blendv_ps(y, _mm256_set1_ps(__builtin_inff()), _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
  return y;
}

static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

static inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Mask with the first n (0..8) lanes set, for loads/stores of a row's tail.
static inline __m256i tail_mask(int n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}

// ---- VecF32: width-generic float ops (glue-b: norms, reductions, broadcasting, optimizers) --
// Kernels written once as templates over V = simd_avx2::VecF32 / simd_avx512::VecF32 /
// simd_scalar::VecF32 (cpu/simd/scalar.h). In an unnamed namespace: internal linkage, so no
// symbol compiled with these flags can be picked by the linker for baseline code.
namespace {
struct VecF32 {
  using reg = __m256;
  using ireg = __m256i;
  using mask = __m256;
  static constexpr int W = 8;
  static constexpr int kStreamAlign = 32;  // bytes; stream() needs this alignment

  static reg zero() { return _mm256_setzero_ps(); }
  static reg set1(float v) { return _mm256_set1_ps(v); }
  static reg load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, reg v) { _mm256_storeu_ps(p, v); }
  static void stream(float* p, reg v) { _mm256_stream_ps(p, v); }
  static void stream_fence() { _mm_sfence(); }
  // First n lanes (0 < n < W) from p, the others zero; masked lanes are never touched.
  static reg load_tail(const float* p, int n) { return _mm256_maskload_ps(p, tail_mask(n)); }
  static void store_tail(float* p, reg v, int n) { _mm256_maskstore_ps(p, tail_mask(n), v); }
  // n == W: full vector, else the tail forms. Callers pass a constant W in hot loops.
  // Lanes >= n (0 < n < W) set to zero.
  static reg keep_first(reg v, int n) { return _mm256_and_ps(v, _mm256_castsi256_ps(tail_mask(n))); }
  static reg loadn(const float* p, int n) { return n == W ? load(p) : load_tail(p, n); }
  static void storen(float* p, reg v, int n) { n == W ? store(p, v) : store_tail(p, v, n); }

  static reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm256_sub_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  static reg div(reg a, reg b) { return _mm256_div_ps(a, b); }
  static reg fmadd(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }    // a*b + c
  static reg fnmadd(reg a, reg b, reg c) { return _mm256_fnmadd_ps(a, b, c); }  // c - a*b
  static reg sqrt(reg a) { return _mm256_sqrt_ps(a); }
  // max/min return b when either is NaN (x86 MAXPS rule); callers order operands on purpose.
  static reg max(reg a, reg b) { return _mm256_max_ps(a, b); }
  static reg min(reg a, reg b) { return _mm256_min_ps(a, b); }
  static reg neg(reg a) { return _mm256_xor_ps(a, _mm256_set1_ps(-0.0f)); }
  static float reduce_add(reg a) { return hsum(a); }

  static mask gt(reg a, reg b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static mask isnan(reg a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
  static mask mask_or(mask a, mask b) { return _mm256_or_ps(a, b); }
  static mask mask_andnot(mask a, mask b) { return _mm256_andnot_ps(a, b); }  // ~a & b
  static bool any(mask m) { return _mm256_movemask_ps(m) != 0; }
  static reg select(mask m, reg t, reg f) { return _mm256_blendv_ps(f, t, m); }

  static ireg iset1(int32_t v) { return _mm256_set1_epi32(v); }
  static ireg iota() { return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7); }
  static ireg iadd(ireg a, ireg b) { return _mm256_add_epi32(a, b); }
  static ireg iselect(mask m, ireg t, ireg f) {
    return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(f), _mm256_castsi256_ps(t), m));
  }
  static ireg iloadn(const int32_t* p, int n) {
    return n == W ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)) : _mm256_maskload_epi32(p, tail_mask(n));
  }
  static void istoren(int32_t* p, ireg v, int n) {
    if (n == W) _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
    else _mm256_maskstore_epi32(p, tail_mask(n), v);
  }
  static void store_lanes(float* v, int32_t* i, reg a, ireg b) {
    _mm256_storeu_ps(v, a);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(i), b);
  }
};
}  // namespace

}  // namespace simd_avx2
}  // namespace fastnn
