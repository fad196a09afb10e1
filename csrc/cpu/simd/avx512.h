#pragma once
// AVX-512 vector math, for *_avx512.cpp translation units only (see avx2.h for the rules and
// the algorithm notes).
#include <immintrin.h>

#include <cstdint>

namespace fastnn {
namespace simd_avx512 {

constexpr int kWidth = 16;

// exp for x ≤ 88.37 and exp: the algorithm of simd_avx2::exp_nonpos / exp (magic-number
// rounding, degree-6 polynomial, 2^n by a shift), lane for lane, so both paths round identically.
static inline __m512 exp_nonpos(__m512 x) {
  const __m512 magic = _mm512_set1_ps(12582912.0f + 127.0f);
  const __m512 t = _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), magic);
  const __m512 n = _mm512_sub_ps(t, magic);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(0.0013814539415761828f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.00836874544620514f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.04166838899254799f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.1666652113199234f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.4999999403953552f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  const __m512 scale = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(t), 23));  // 2^n
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3365447505531f), _CMP_NLT_UQ),
                             _mm512_mul_ps(p, scale));
}

static inline __m512 exp(__m512 x) {
  return _mm512_mask_mov_ps(exp_nonpos(x), _mm512_cmp_ps_mask(x, _mm512_set1_ps(88.3762626647949f), _CMP_GT_OQ),
                            _mm512_set1_ps(__builtin_inff()));
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

  static reg zero() { return _mm512_setzero_ps(); }
  static reg set1(float v) { return _mm512_set1_ps(v); }
  static reg load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, reg v) { _mm512_storeu_ps(p, v); }
  static void stream(float* p, reg v) { _mm512_stream_ps(p, v); }  // p 64-byte aligned
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

// ---- vector math for the glue kernels (activations, softmax, losses) -------------------------
// Same algorithms, constants and accuracy bounds as the AVX2 section of avx2.h (see the notes
// there); written lane-for-lane the same so both paths round identically.

static inline __m512 log(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __mmask16 tiny = _mm512_cmp_ps_mask(x, _mm512_set1_ps(1.17549435e-38f), _CMP_LT_OQ);
  const __m512 xs = _mm512_mask_mul_ps(x, tiny, x, _mm512_set1_ps(8388608.0f));
  const __m512i xi = _mm512_castps_si512(xs);
  const __m512i ei = _mm512_srai_epi32(_mm512_sub_epi32(xi, _mm512_set1_epi32(0x3f3504f3)), 23);
  const __m512 m = _mm512_castsi512_ps(_mm512_sub_epi32(xi, _mm512_slli_epi32(ei, 23)));
  const __m512 e = _mm512_mask_sub_ps(_mm512_cvtepi32_ps(ei), tiny, _mm512_cvtepi32_ps(ei), _mm512_set1_ps(23.0f));
  const __m512 s = _mm512_div_ps(_mm512_sub_ps(m, one), _mm512_add_ps(m, one));
  const __m512 s2 = _mm512_mul_ps(s, s);
  __m512 p = _mm512_set1_ps(2.0f / 11.0f);
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f / 9.0f));
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f / 7.0f));
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f / 5.0f));
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f / 3.0f));
  __m512 r = _mm512_fmadd_ps(_mm512_mul_ps(s, s2), p, _mm512_add_ps(s, s));
  r = _mm512_fmadd_ps(e, _mm512_set1_ps(-2.12194440e-4f), r);
  r = _mm512_fmadd_ps(e, _mm512_set1_ps(0.693359375f), r);
  // x ≤ 0, inf, NaN: (x - 1)·inf (-inf at ±0, inf at inf, NaN for NaN), NaN where x < 0
  __m512 special = _mm512_mul_ps(_mm512_sub_ps(x, one), _mm512_set1_ps(__builtin_inff()));
  special = _mm512_mask_mov_ps(special, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ),
                               _mm512_set1_ps(__builtin_nanf("")));
  const __mmask16 ok = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ) &
                       _mm512_cmp_ps_mask(x, _mm512_set1_ps(__builtin_inff()), _CMP_LT_OQ);
  return _mm512_mask_mov_ps(special, ok, r);
}

static inline __m512 log1p(__m512 u) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 w = _mm512_add_ps(one, u);
  const __m512 lw = log(w);
  const __m512 corr = _mm512_div_ps(_mm512_sub_ps(u, _mm512_sub_ps(w, one)), w);
  const __mmask16 keep = _mm512_cmp_ps_mask(w, _mm512_setzero_ps(), _CMP_EQ_OQ) |
                         _mm512_cmp_ps_mask(w, _mm512_set1_ps(__builtin_inff()), _CMP_EQ_OQ);
  return _mm512_mask_mov_ps(_mm512_add_ps(lw, corr), keep, lw);
}

static inline __m512 tanh(__m512 x) {
  const __m512 sign = _mm512_set1_ps(-0.0f);
  const __m512 a = _mm512_andnot_ps(sign, x);
  const __m512 x2 = _mm512_mul_ps(x, x);
  __m512 p = _mm512_set1_ps(-0.005704987328499556f);
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(0.0206390880048275f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-0.05373971536755562f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(0.13331441581249237f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-0.3333328068256378f));
  const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(x2, x), p, x);
  const __m512 e = exp_nonpos(_mm512_mul_ps(a, _mm512_set1_ps(-2.0f)));
  __m512 big = _mm512_div_ps(_mm512_sub_ps(_mm512_set1_ps(1.0f), e), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
  big = _mm512_or_ps(big, _mm512_xor_ps(a, x));  // the sign of x
  return _mm512_mask_mov_ps(big, _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.625f), _CMP_LT_OQ), small);
}

static inline __m512 sigmoid(__m512 x) {
  const __m512 e = exp_nonpos(_mm512_or_ps(x, _mm512_set1_ps(-0.0f)));
  const __mmask16 neg = _mm512_movepi32_mask(_mm512_castps_si512(x));  // sign bits
  const __m512 num = _mm512_mask_mov_ps(_mm512_set1_ps(1.0f), neg, e);
  return _mm512_div_ps(num, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

static inline __m512 exp_neg_sq(__m512 a, float c) {
  a = _mm512_min_ps(_mm512_set1_ps(20.0f), a);  // exp(-c·400) is 0 anyway; keeps l finite for a = inf
  const __m512 h = _mm512_mul_ps(a, a);
  const __m512 l = _mm512_fmsub_ps(a, a, h);
  const __m512 vc = _mm512_set1_ps(c);
  const __m512 e = exp_nonpos(_mm512_mul_ps(h, _mm512_set1_ps(-c)));
  return _mm512_fnmadd_ps(e, _mm512_mul_ps(vc, l), e);
}

static inline __m512 erfc_scaled(__m512 a) {
  const __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(a, _mm512_set1_ps(0.5f), _mm512_set1_ps(1.0f)));
  const __m512 u = _mm512_sub_ps(t, _mm512_set1_ps(0.5f));
  __m512 p = _mm512_set1_ps(0.012283201329410076f);
  p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(-0.06797686219215393f));
  p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(0.046464696526527405f));
  p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(0.09742472320795059f));
  p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(-0.10296633839607239f));
  p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(-0.17202594876289368f));
  p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(0.14574384689331055f));
  p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(0.5589430928230286f));
  p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(0.6871609091758728f));
  p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(0.5107913613319397f));
  return _mm512_mul_ps(t, p);
}

static inline __m512 erfc(__m512 x) {
  const __m512 a = _mm512_andnot_ps(_mm512_set1_ps(-0.0f), x);
  const __m512 q = _mm512_mul_ps(exp_neg_sq(a, 1.0f), erfc_scaled(a));
  return _mm512_mask_sub_ps(q, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), _mm512_set1_ps(2.0f), q);
}

static inline __m512 erf(__m512 x) {
  const __m512 sign = _mm512_set1_ps(-0.0f);
  const __m512 a = _mm512_andnot_ps(sign, x);
  const __m512 x2 = _mm512_mul_ps(x, x);
  __m512 p = _mm512_set1_ps(0.004718002397567034f);
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-0.026757191866636276f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(0.11282823234796524f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-0.37612608075141907f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(1.1283791065216064f));
  const __m512 small = _mm512_mul_ps(x, p);
  const __m512 q = _mm512_mul_ps(exp_neg_sq(a, 1.0f), erfc_scaled(a));
  __m512 big = _mm512_sub_ps(_mm512_set1_ps(1.0f), q);
  big = _mm512_or_ps(big, _mm512_and_ps(sign, x));
  return _mm512_mask_mov_ps(big, _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.5f), _CMP_LT_OQ), small);
}

static inline __m512 normal_tail(__m512 a, __m512* pdf) {
  const __m512 e = exp_neg_sq(a, 0.5f);
  *pdf = _mm512_mul_ps(e, _mm512_set1_ps(0.398942280401432678f));
  const __m512 r = erfc_scaled(_mm512_mul_ps(a, _mm512_set1_ps(0.707106781186547524f)));
  return _mm512_mul_ps(_mm512_mul_ps(e, _mm512_set1_ps(0.5f)), r);
}

static inline __m512 log1p_exp_neg(__m512 a) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 e = exp_nonpos(_mm512_xor_ps(a, _mm512_set1_ps(-0.0f)));
  const __mmask16 big = _mm512_cmp_ps_mask(e, _mm512_set1_ps(0.414213562373f), _CMP_GE_OQ);
  const __m512 num = _mm512_mask_sub_ps(e, big, e, one);
  const __m512 den = _mm512_add_ps(e, _mm512_mask_blend_ps(big, _mm512_set1_ps(2.0f), _mm512_set1_ps(3.0f)));
  const __m512 s = _mm512_div_ps(num, den);
  const __m512 s2 = _mm512_mul_ps(s, s);
  __m512 p = _mm512_set1_ps(2.0f / 11.0f);
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f / 9.0f));
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f / 7.0f));
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f / 5.0f));
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f / 3.0f));
  const __m512 k = _mm512_maskz_mov_ps(big, one);
  __m512 res = _mm512_fmadd_ps(_mm512_mul_ps(s, s2), p, _mm512_add_ps(s, s));
  res = _mm512_fmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), res);
  return _mm512_fmadd_ps(k, _mm512_set1_ps(0.693359375f), res);
}

// ---- exp2 for softmax kernels (attention) ---------------------------------------------------
// 2^x on [-127, 127], ≤ 2 ulp, same design and edge behaviour as simd_avx2::exp2_softmax (x ≤ -127
// gives exactly 0, x ≥ 127 gives 2^127, NaN stays NaN).
static inline __m512 exp2_softmax(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-127.0f), _mm512_min_ps(_mm512_set1_ps(127.0f), x));
  const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(x, n);
  __m512 p = _mm512_set1_ps(1.3264708686619997e-3f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.671509265899658e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550733581185341e-2f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.24022242426872253f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.6931470036506653f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  const __m512i e = _mm512_slli_epi32(_mm512_cvtps_epi32(n), 23);
  return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(p), e));
}

}  // namespace simd_avx512
}  // namespace fastnn
