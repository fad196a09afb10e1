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

// ---- vector math for the glue kernels (activations, softmax, losses) -------------------------
// Accuracy is measured in tests/test_vector_math.py against float64 on dense grids; the bounds
// quoted here are what those tests enforce. Polynomial coefficients come from
// csrc/cpu/activation/fit_vector_math.py (Lawson minimax fits, rounded to float32).

// log(x), ≤ 2 ulp: x = 2^e·m with m ∈ [√½, √2), log(m) = 2·atanh(s), s = (m-1)/(m+1), |s| ≤ 0.172,
// odd Taylor series to s^11 (truncation < 3e-9 relative); e·ln2 added in two parts (the high part
// has 9 significant bits, so e·ln2_hi is exact). Denormals are scaled by 2^23 first.
// log(0) = -inf, log(x < 0) = NaN, log(inf) = inf, NaN stays NaN.
static inline __m256 log(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(1.17549435e-38f), _CMP_LT_OQ);
  __m256 xs = _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(8388608.0f)), tiny);
  const __m256i xi = _mm256_castps_si256(xs);
  __m256 e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(xi, 23), _mm256_set1_epi32(127)));
  e = _mm256_sub_ps(e, _mm256_and_ps(tiny, _mm256_set1_ps(23.0f)));
  __m256 m = _mm256_castsi256_ps(
      _mm256_or_si256(_mm256_and_si256(xi, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f800000)));
  const __m256 big = _mm256_cmp_ps(m, _mm256_set1_ps(1.41421356237f), _CMP_GE_OQ);
  m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
  e = _mm256_add_ps(e, _mm256_and_ps(big, one));
  const __m256 s = _mm256_div_ps(_mm256_sub_ps(m, one), _mm256_add_ps(m, one));
  const __m256 s2 = _mm256_mul_ps(s, s);
  __m256 p = _mm256_set1_ps(2.0f / 11.0f);
  p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(2.0f / 9.0f));
  p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(2.0f / 7.0f));
  p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(2.0f / 5.0f));
  p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(2.0f / 3.0f));
  __m256 r = _mm256_fmadd_ps(_mm256_mul_ps(s, s2), p, _mm256_add_ps(s, s));
  r = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.12194440e-4f), r);
  r = _mm256_fmadd_ps(e, _mm256_set1_ps(0.693359375f), r);
  const __m256 pass = _mm256_or_ps(_mm256_cmp_ps(x, x, _CMP_UNORD_Q),
                                   _mm256_cmp_ps(x, _mm256_set1_ps(__builtin_inff()), _CMP_EQ_OQ));
  r = _mm256_blendv_ps(r, x, pass);
  r = _mm256_blendv_ps(r, _mm256_set1_ps(-__builtin_inff()), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_EQ_OQ));
  r = _mm256_blendv_ps(r, _mm256_set1_ps(__builtin_nanf("")), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
  return r;
}

// log(1 + u), ≤ 2 ulp for u > -1: w = 1 + u rounded, log1p(u) = log(w) + (u - (w - 1)) / w (the
// second term restores what the rounding of w lost; for |u| < 2^-25 it returns u).
// log1p(-1) = -inf, log1p(u < -1) = NaN, log1p(inf) = inf.
static inline __m256 log1p(__m256 u) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 w = _mm256_add_ps(one, u);
  const __m256 lw = log(w);
  const __m256 corr = _mm256_div_ps(_mm256_sub_ps(u, _mm256_sub_ps(w, one)), w);
  const __m256 keep = _mm256_or_ps(_mm256_cmp_ps(w, _mm256_setzero_ps(), _CMP_EQ_OQ),
                                   _mm256_cmp_ps(w, _mm256_set1_ps(__builtin_inff()), _CMP_EQ_OQ));
  return _mm256_blendv_ps(_mm256_add_ps(lw, corr), lw, keep);
}

// tanh(x), ≤ 2 ulp: |x| < 0.625: x + x³·P(x²) (degree-4 minimax, 4e-9 relative); otherwise
// sign(x)·(1 - 2 / (exp(2|x|) + 1)). NaN stays NaN, ±inf → ±1.
static inline __m256 tanh(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 a = _mm256_andnot_ps(sign, x);
  const __m256 x2 = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-0.005704987328499556f);
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(0.0206390880048275f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-0.05373971536755562f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(0.13331441581249237f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-0.3333328068256378f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(x2, x), p, x);
  const __m256 e = exp(_mm256_add_ps(a, a));
  __m256 big = _mm256_sub_ps(_mm256_set1_ps(1.0f),
                             _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
  big = _mm256_or_ps(big, _mm256_and_ps(sign, x));
  return _mm256_blendv_ps(big, small, _mm256_cmp_ps(a, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
}

// sigmoid(x) = 1 / (1 + exp(-x)), ≤ 2 ulp relative on both tails: e = exp(-|x|) never overflows
// and x < 0 uses e / (1 + e). NaN stays NaN.
static inline __m256 sigmoid(__m256 x) {
  const __m256 e = exp(_mm256_or_ps(x, _mm256_set1_ps(-0.0f)));  // exp(-|x|)
  const __m256 r = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
  return _mm256_blendv_ps(_mm256_mul_ps(e, r), r, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ));
}

// exp(-c·a²) for c = 1 or 0.5 (a power of two, so c·a² splits exactly): a² = h + l with
// l = fma(a, a, -h) recovered exactly, exp(-c(h + l)) ≈ exp(-c·h)·(1 - c·l). Without the split
// the rounding of a² alone costs up to a²/2 ulp (≈ 40 ulp at a = 9).
static inline __m256 exp_neg_sq(__m256 a, float c) {
  a = _mm256_min_ps(_mm256_set1_ps(20.0f), a);  // exp(-c·400) is 0 anyway; keeps l finite for a = inf
  const __m256 h = _mm256_mul_ps(a, a);
  const __m256 l = _mm256_fmsub_ps(a, a, h);
  const __m256 vc = _mm256_set1_ps(c);
  const __m256 e = exp(_mm256_mul_ps(h, _mm256_set1_ps(-c)));
  return _mm256_fnmadd_ps(e, _mm256_mul_ps(vc, l), e);
}

// R(a) = erfc(a)·exp(a²) for a ≥ 0, ≤ 4 ulp: t = 1 / (1 + a/2), R = t·P(t - 1/2), P of degree 9
// fitted on a ∈ [0, 10] (2e-8 relative; the rest is float32 rounding of t and Horner).
static inline __m256 erfc_scaled(__m256 a) {
  const __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(a, _mm256_set1_ps(0.5f), _mm256_set1_ps(1.0f)));
  const __m256 u = _mm256_sub_ps(t, _mm256_set1_ps(0.5f));
  __m256 p = _mm256_set1_ps(0.012283201329410076f);
  p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(-0.06797686219215393f));
  p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(0.046464696526527405f));
  p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(0.09742472320795059f));
  p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(-0.10296633839607239f));
  p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(-0.17202594876289368f));
  p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(0.14574384689331055f));
  p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(0.5589430928230286f));
  p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(0.6871609091758728f));
  p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(0.5107913613319397f));
  return _mm256_mul_ps(t, p);
}

// erfc(x), ≤ 6 ulp relative (x ≥ 0: exp(-x²)·R(x); x < 0: 2 - that). Underflows to 0 past
// x ≈ 9.3. NaN stays NaN.
static inline __m256 erfc(__m256 x) {
  const __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
  const __m256 q = _mm256_mul_ps(exp_neg_sq(a, 1.0f), erfc_scaled(a));
  return _mm256_blendv_ps(q, _mm256_sub_ps(_mm256_set1_ps(2.0f), q), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
}

// erf(x), ≤ 3 ulp: |x| < 0.5: x·Q(x²) (degree-4 minimax, 1.4e-9 relative), else sign(x)·(1 - erfc(|x|)).
static inline __m256 erf(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 a = _mm256_andnot_ps(sign, x);
  const __m256 x2 = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(0.004718002397567034f);
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-0.026757191866636276f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(0.11282823234796524f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-0.37612608075141907f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(1.1283791065216064f));
  const __m256 small = _mm256_mul_ps(x, p);
  const __m256 q = _mm256_mul_ps(exp_neg_sq(a, 1.0f), erfc_scaled(a));
  __m256 big = _mm256_sub_ps(_mm256_set1_ps(1.0f), q);
  big = _mm256_or_ps(big, _mm256_and_ps(sign, x));
  return _mm256_blendv_ps(big, small, _mm256_cmp_ps(a, _mm256_set1_ps(0.5f), _CMP_LT_OQ));
}

// Standard normal tail Q(a) = P(Z > a) = erfc(a/√2)/2 for a ≥ 0, with exp(-a²/2) split exactly
// from a (not from the rounded a/√2); also returns the density φ(a) = exp(-a²/2)/√(2π).
static inline __m256 normal_tail(__m256 a, __m256* pdf) {
  const __m256 e = exp_neg_sq(a, 0.5f);
  *pdf = _mm256_mul_ps(e, _mm256_set1_ps(0.398942280401432678f));
  const __m256 r = erfc_scaled(_mm256_mul_ps(a, _mm256_set1_ps(0.707106781186547524f)));
  return _mm256_mul_ps(_mm256_mul_ps(e, _mm256_set1_ps(0.5f)), r);
}

// log(1 + exp(-a)) for a ≥ 0 (softplus(-a); BCE with logits), ≤ 3 ulp. With e = exp(-a) ∈ (0, 1],
// log(1 + e) = 2·atanh(e / (2 + e)) for e < √2 - 1, and ln2 + 2·atanh((e - 1) / (e + 3)) above
// (both |s| ≤ 0.172): s comes straight from e, so the rounding of 1 + e never enters and one
// division suffices. a = inf → 0; NaN stays NaN.
static inline __m256 log1p_exp_neg(__m256 a) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 e = exp(_mm256_xor_ps(a, _mm256_set1_ps(-0.0f)));
  const __m256 big = _mm256_cmp_ps(e, _mm256_set1_ps(0.414213562373f), _CMP_GE_OQ);
  const __m256 num = _mm256_blendv_ps(e, _mm256_sub_ps(e, one), big);
  const __m256 den = _mm256_add_ps(e, _mm256_blendv_ps(_mm256_set1_ps(2.0f), _mm256_set1_ps(3.0f), big));
  const __m256 s = _mm256_div_ps(num, den);
  const __m256 s2 = _mm256_mul_ps(s, s);
  __m256 p = _mm256_set1_ps(2.0f / 11.0f);
  p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(2.0f / 9.0f));
  p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(2.0f / 7.0f));
  p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(2.0f / 5.0f));
  p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(2.0f / 3.0f));
  const __m256 k = _mm256_and_ps(big, one);
  __m256 res = _mm256_fmadd_ps(_mm256_mul_ps(s, s2), p, _mm256_add_ps(s, s));
  res = _mm256_fmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), res);
  return _mm256_fmadd_ps(k, _mm256_set1_ps(0.693359375f), res);
}

}  // namespace simd_avx2
}  // namespace fastnn
