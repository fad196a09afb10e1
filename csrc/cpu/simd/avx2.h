#pragma once
// AVX2+FMA vector math, for *_avx2.cpp translation units only. Everything is static inline in
// an ISA-named namespace, so no symbol compiled with these flags is shared with other TUs.
#include <immintrin.h>

#include <cstdint>

namespace fastnn {
namespace simd_avx2 {

constexpr int kWidth = 8;

// exp(x) for x ≤ 88.37, ≤ 1.3 ulp (no overflow handling: callers whose argument can exceed
// 88.37 use exp below). In practice for arguments known to be ≤ 0 (x - max, -|x|, -x²): softmax,
// sigmoid, tanh, erfc. x = n·ln2 + r, |r| ≤ ln2/2: n = round(x·log2e) by the magic-number add
// (1.5·2^23 + 127: n + 127 lands in the low mantissa bits, so 2^n is one shift away, with no
// round/convert instructions), r in two FMA steps (Cody–Waite, ln2 split so n·ln2_hi is exact),
// e^r = 1 + r + r²·P(r), P of degree 4 (minimax, 3e-9 relative). x < -87.34 (below FLT_MIN)
// flushes to 0, exp(-inf) = 0; NaN stays NaN (the mask is unordered-true). 15 instructions,
// 10 of them on the FMA/multiply ports.
static inline __m256 exp_nonpos(__m256 x) {
  const __m256 magic = _mm256_set1_ps(12582912.0f + 127.0f);
  const __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), magic);
  const __m256 n = _mm256_sub_ps(t, magic);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(0.0013814539415761828f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.00836874544620514f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.04166838899254799f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.1666652113199234f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.4999999403953552f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256 scale = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23));  // 2^n
  const __m256 y = _mm256_mul_ps(p, scale);
  return _mm256_and_ps(y, _mm256_cmp_ps(x, _mm256_set1_ps(-87.3365447505531f), _CMP_NLT_UQ));
}

// exp(x), float32, ≤ 1.3 ulp over the normal range: exp_nonpos, and x > 88.376 gives inf (true
// overflow is at 88.723: the 2^n construction needs n ≤ 127). exp(-inf) = 0, exp(+inf) = inf,
// NaN stays NaN, underflow flushes to 0.
static inline __m256 exp(__m256 x) {
  return _mm256_blendv_ps(exp_nonpos(x), _mm256_set1_ps(__builtin_inff()),
                          _mm256_cmp_ps(x, _mm256_set1_ps(88.3762626647949f), _CMP_GT_OQ));
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

  static reg zero() { return _mm256_setzero_ps(); }
  static reg set1(float v) { return _mm256_set1_ps(v); }
  static reg load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, reg v) { _mm256_storeu_ps(p, v); }
  static void stream(float* p, reg v) { _mm256_stream_ps(p, v); }  // p 32-byte aligned
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

// ---- vector math for the glue kernels (activations, softmax, losses) -------------------------
// Accuracy is measured in tests/test_vector_math.py against float64 on dense grids; the bounds
// quoted here are what those tests enforce. Polynomial coefficients come from
// csrc/cpu/activation/fit_vector_math.py (Lawson minimax fits, rounded to float32).

// log(x), ≤ 2 ulp: x = 2^e·m with m ∈ [√½, √2), log(m) = 2·atanh(s), s = (m-1)/(m+1), |s| ≤ 0.172,
// odd Taylor series to s^11 (truncation < 3e-9 relative); e·ln2 added in two parts (the high part
// has 9 significant bits, so e·ln2_hi is exact). e and m come from one integer subtraction of the
// bits of √½ (e = that >> 23, m = x·2^-e): no compare or blend to fold m into the range.
// Subnormals are scaled by 2^23 first. log(0) = -inf, log(x < 0) = NaN, log(inf) = inf, NaN stays
// NaN: the special lanes take (x - 1)·inf, with all bits set (a NaN) where x < 0.
static inline __m256 log(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(1.17549435e-38f), _CMP_LT_OQ);
  const __m256 xs = _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(8388608.0f)), tiny);
  const __m256i xi = _mm256_castps_si256(xs);
  const __m256i ei = _mm256_srai_epi32(_mm256_sub_epi32(xi, _mm256_set1_epi32(0x3f3504f3)), 23);
  const __m256 m = _mm256_castsi256_ps(_mm256_sub_epi32(xi, _mm256_slli_epi32(ei, 23)));
  const __m256 e = _mm256_sub_ps(_mm256_cvtepi32_ps(ei), _mm256_and_ps(tiny, _mm256_set1_ps(23.0f)));
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
  const __m256 special = _mm256_or_ps(_mm256_mul_ps(_mm256_sub_ps(x, one), _mm256_set1_ps(__builtin_inff())),
                                      _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
  const __m256 ok = _mm256_and_ps(_mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ),
                                  _mm256_cmp_ps(x, _mm256_set1_ps(__builtin_inff()), _CMP_LT_OQ));
  return _mm256_blendv_ps(special, r, ok);
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

// tanh(x), ≤ 2.5 ulp: |x| < 0.625: x + x³·P(x²) (degree-4 minimax, 4e-9 relative); otherwise
// sign(x)·(1 - e) / (1 + e), e = exp(-2|x|) ≤ 0.29 (no overflow, no cancellation). NaN stays NaN,
// ±inf → ±1.
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
  const __m256 e = exp_nonpos(_mm256_mul_ps(a, _mm256_set1_ps(-2.0f)));
  __m256 big = _mm256_div_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), e), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
  big = _mm256_or_ps(big, _mm256_xor_ps(a, x));  // the sign of x
  return _mm256_blendv_ps(big, small, _mm256_cmp_ps(a, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
}

// sigmoid(x) = 1 / (1 + exp(-x)), ≤ 3 ulp relative on both tails: e = exp(-|x|) never overflows
// and x < 0 uses e / (1 + e) (the numerator picked by the sign bit of x, no compare). NaN stays NaN.
static inline __m256 sigmoid(__m256 x) {
  const __m256 e = exp_nonpos(_mm256_or_ps(x, _mm256_set1_ps(-0.0f)));  // exp(-|x|)
  const __m256 num = _mm256_blendv_ps(_mm256_set1_ps(1.0f), e, x);
  return _mm256_div_ps(num, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

// exp(-c·a²) for c = 1 or 0.5 (a power of two, so c·a² splits exactly): a² = h + l with
// l = fma(a, a, -h) recovered exactly, exp(-c(h + l)) ≈ exp(-c·h)·(1 - c·l). Without the split
// the rounding of a² alone costs up to a²/2 ulp (≈ 40 ulp at a = 9).
static inline __m256 exp_neg_sq(__m256 a, float c) {
  a = _mm256_min_ps(_mm256_set1_ps(20.0f), a);  // exp(-c·400) is 0 anyway; keeps l finite for a = inf
  const __m256 h = _mm256_mul_ps(a, a);
  const __m256 l = _mm256_fmsub_ps(a, a, h);
  const __m256 vc = _mm256_set1_ps(c);
  const __m256 e = exp_nonpos(_mm256_mul_ps(h, _mm256_set1_ps(-c)));
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


// ---- GEMM epilogue activations and their derivatives (gemm: csrc/cpu/gemm/epilogue_avx2.h) ----
// PyTorch definitions, built on exp / tanh / sigmoid / normal_tail above. Derivatives are written
// from the forward input x in forms without cancellation in the tails (1 − tanh² and σ(1 − σ)
// computed from e^{-|x|}, not by subtraction). NaN inputs give NaN outputs, relu included.
namespace gemm_act {

static inline __m256 relu(__m256 x) { return _mm256_max_ps(_mm256_setzero_ps(), x); }  // NaN: 2nd operand
static inline __m256 silu(__m256 x) { return _mm256_mul_ps(x, sigmoid(x)); }

// Φ(x) = P(Z ≤ x) and φ(x), from the tail Q(|x|): Φ = 1 − Q (x > 0) or Q (x ≤ 0).
static inline __m256 normal_cdf(__m256 x, __m256* pdf) {
  const __m256 q = normal_tail(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x), pdf);
  return _mm256_blendv_ps(q, _mm256_sub_ps(_mm256_set1_ps(1.0f), q), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ));
}
static inline __m256 gelu(__m256 x) {
  __m256 pdf;
  return _mm256_mul_ps(x, normal_cdf(x, &pdf));
}

// gelu_tanh(x) = ½x(1 + tanh u) = x·σ(2u), u = √(2/π)(x + 0.044715x³): the σ form does not
// cancel for x ≪ 0. 2u:
static inline __m256 gelu_tanh_2u(__m256 x) {
  return _mm256_mul_ps(_mm256_set1_ps(2.0f * 0.79788456080286536f),
                       _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(0.044715f), x), _mm256_mul_ps(x, x), x));
}
static inline __m256 gelu_tanh(__m256 x) { return _mm256_mul_ps(x, sigmoid(gelu_tanh_2u(x))); }

// σ(x) and σ'(x) = e/(1 + e)², e = e^{-|x|}.
static inline __m256 sigmoid_and_grad(__m256 x, __m256* grad) {
  const __m256 e = exp_nonpos(_mm256_or_ps(x, _mm256_set1_ps(-0.0f)));
  const __m256 r = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
  const __m256 er = _mm256_mul_ps(e, r);
  *grad = _mm256_mul_ps(er, r);
  return _mm256_blendv_ps(r, er, x);  // sign bit of x set: e/(1 + e)
}

static inline __m256 relu_grad(__m256 x) {  // 0 at x == 0 and for NaN, as PyTorch
  return _mm256_and_ps(_mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ), _mm256_set1_ps(1.0f));
}
static inline __m256 sigmoid_grad(__m256 x) {
  __m256 g;
  sigmoid_and_grad(x, &g);
  return g;
}
static inline __m256 tanh_grad(__m256 x) {  // 1 − tanh² = 4e/(1 + e)², e = e^{-2|x|}
  const __m256 e = exp_nonpos(_mm256_mul_ps(_mm256_set1_ps(-2.0f), _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x)));
  const __m256 r = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(4.0f), e), _mm256_mul_ps(r, r));
}
static inline __m256 silu_grad(__m256 x) {  // σ + x·σ'
  __m256 g;
  const __m256 s = sigmoid_and_grad(x, &g);
  return _mm256_fmadd_ps(x, g, s);
}
static inline __m256 gelu_grad(__m256 x) {  // Φ + x·φ
  __m256 pdf;
  const __m256 cdf = normal_cdf(x, &pdf);
  return _mm256_fmadd_ps(x, pdf, cdf);
}
static inline __m256 gelu_tanh_grad(__m256 x) {  // σ(2u) + x·σ'(2u)·2u'
  __m256 g;
  const __m256 s = sigmoid_and_grad(gelu_tanh_2u(x), &g);
  const __m256 d2u = _mm256_mul_ps(_mm256_set1_ps(2.0f * 0.79788456080286536f),
                                   _mm256_fmadd_ps(_mm256_set1_ps(3.0f * 0.044715f), _mm256_mul_ps(x, x),
                                                   _mm256_set1_ps(1.0f)));
  return _mm256_fmadd_ps(_mm256_mul_ps(x, g), d2u, s);
}

}  // namespace gemm_act

// ---- 8×8 transpose (gemm packing): r[i] holds row i on entry, column i on exit -------------
static inline void transpose8x8(__m256 r[8]) {
  __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// log(1 + exp(-a)) for a ≥ 0 (softplus(-a); BCE with logits), ≤ 3 ulp. With e = exp(-a) ∈ (0, 1],
// log(1 + e) = 2·atanh(e / (2 + e)) for e < √2 - 1, and ln2 + 2·atanh((e - 1) / (e + 3)) above
// (both |s| ≤ 0.172): s comes straight from e, so the rounding of 1 + e never enters and one
// division suffices. a = inf → 0; NaN stays NaN.
static inline __m256 log1p_exp_neg(__m256 a) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 e = exp_nonpos(_mm256_xor_ps(a, _mm256_set1_ps(-0.0f)));
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

// ---- exp2 for softmax kernels (attention) ---------------------------------------------------
// 2^x on [-127, 127], ≤ 2 ulp: x = n + f, f ∈ [-½, ½], 2^f by a degree-5 minimax polynomial with
// p(0) = 1 exactly, n added to the exponent field as an integer. Half the instructions of exp():
// no blends. x ≤ -127 (including -inf) gives exactly 0 (n = -127 cancels the exponent of p = 1;
// x < -126 may give a denormal within 2^-126 of the truth); x ≥ 127 gives 2^127;
// NaN stays NaN. Callers pass arguments in base-2 units (scores pre-multiplied by log2 e).
static inline __m256 exp2_softmax(__m256 x) {
  // MINPS/MAXPS return the second operand when either is NaN: keep x second so NaN survives.
  x = _mm256_max_ps(_mm256_set1_ps(-127.0f), _mm256_min_ps(_mm256_set1_ps(127.0f), x));
  const __m256 n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 f = _mm256_sub_ps(x, n);
  __m256 p = _mm256_set1_ps(1.3264708686619997e-3f);
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.671509265899658e-3f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.550733581185341e-2f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(0.24022242426872253f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(0.6931470036506653f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23);
  return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e));
}

}  // namespace simd_avx2
}  // namespace fastnn
