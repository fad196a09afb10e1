#pragma once
// A small vector-op layer so the glue-kernel bodies (activations, softmax, losses) are written
// once, as templates over V, and instantiated per ISA (ggml-style):
//   VecScalar  — W = 1, libm math: the generic reference twin (baseline flags)
//   VecAvx2    — W = 8, simd_avx2 math (only in *_avx2.cpp, where __AVX2__ is defined)
//   VecAvx512  — W = 16, simd_avx512 math (only in *_avx512.cpp)
// Everything is in an anonymous namespace: each translation unit gets its own copy, so a body
// compiled with AVX-512 flags can never be merged by the linker into an AVX2 or baseline TU.
//
// Semantics shared by all three (the kernels rely on them):
//   max(a, b) / min(a, b) return b when either is NaN (x86 MAXPS/MINPS); put the value whose
//   NaN must survive second.  select(m, a, b) = m ? a : b.  Comparisons are ordered (false on NaN).
//   sign_select(x, a, b) = signbit(x) ? a : b (no compare: AVX2 blends on the sign bit directly).
//   exp_nonpos(x) = exp(x) for x ≤ 88.37 (arguments known to be ≤ 0: x - max, -|x|); no overflow
//   handling, so cheaper than exp.
#if defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__)
// GCC 12 reports _mm512_undefined_ps() inside its own max/min/scalef/... intrinsics as
// (maybe-)uninitialized (GCC PR 105593); must be in effect before <immintrin.h> is first included.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <cmath>
#include <cstdint>
#include <cstring>

// FASTNN_AVX512_EMULATION: tools/avx512_emulation builds the AVX-512 bodies without AVX-512
// flags, every _mm512 intrinsic routed to SIMDe, to test them on machines without AVX-512.
#if defined(__AVX512F__) || defined(FASTNN_AVX512_EMULATION)
#define FASTNN_VEC_AVX512 1
#include "cpu/simd/avx512.h"
#elif defined(__AVX2__)
#define FASTNN_VEC_AVX2 1
#include "cpu/simd/avx2.h"
#endif

namespace fastnn {
namespace {

struct VecScalar {
  using V = float;
  using M = bool;
  static constexpr int W = 1;
  static constexpr const char* name = "generic";

  static V load(const float* p) { return *p; }
  static V load_n(const float* p, int n, float fill) { return n > 0 ? *p : fill; }
  static void store(float* p, V v) { *p = v; }
  static void store_n(float* p, V v, int n) {
    if (n > 0) *p = v;
  }
  static void stream(float* p, V v) { *p = v; }
  static V keep_n(V v, int n) { return n > 0 ? v : 0.0f; }  // lanes ≥ n set to +0
  static void fence() {}
  static V set1(float v) { return v; }
  static V zero() { return 0.0f; }

  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V div(V a, V b) { return a / b; }
  // Unfused on purpose: baseline x86-64 has no FMA instruction and std::fma would be a libm call.
  static V fmadd(V a, V b, V c) { return a * b + c; }
  static V fnmadd(V a, V b, V c) { return c - a * b; }
  static V max(V a, V b) { return a > b ? a : b; }
  static V min(V a, V b) { return a < b ? a : b; }
  static V abs(V a) { return std::fabs(a); }
  static V neg(V a) { return -a; }

  static M lt(V a, V b) { return a < b; }
  static M le(V a, V b) { return a <= b; }
  static M gt(V a, V b) { return a > b; }
  static M ge(V a, V b) { return a >= b; }
  static M eq(V a, V b) { return a == b; }
  static M unord(V a, V b) { return std::isnan(a) || std::isnan(b); }
  static M mand(M a, M b) { return a && b; }
  static M mor(M a, M b) { return a || b; }
  static bool any(M m) { return m; }
  static V select(M m, V a, V b) { return m ? a : b; }
  static V sign_select(V x, V a, V b) { return std::signbit(x) ? a : b; }

  static V exp(V x) { return std::exp(x); }
  static V exp_nonpos(V x) { return std::exp(x); }
  static V log(V x) { return std::log(x); }
  static V log1p(V x) { return std::log1p(x); }
  static V log1p_exp_neg(V a) { return std::log1p(std::exp(-a)); }
  static V tanh(V x) { return std::tanh(x); }
  static V erf(V x) { return std::erf(x); }
  static V erfc(V x) { return std::erfc(x); }
  static V sigmoid(V x) {
    const float e = std::exp(-std::fabs(x));
    const float r = 1.0f / (1.0f + e);
    return x >= 0.0f ? r : e * r;
  }
  // Q(a) = P(Z > a) for a ≥ 0 and the density φ(a); double inside so the generic path is an
  // independent, correctly rounded reference for the polynomial versions.
  static V normal_tail(V a, V* pdf) {
    const double ad = a;
    *pdf = float(std::exp(-0.5 * ad * ad) * 0.398942280401432678);
    return float(0.5 * std::erfc(ad * 0.707106781186547524));
  }

  static float hsum(V v) { return v; }
  static float hmax(V v) { return v; }
};

#if defined(FASTNN_VEC_AVX512)
struct VecAvx512 {
  using V = __m512;
  using M = __mmask16;
  static constexpr int W = 16;
  static constexpr const char* name = "avx512";

  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V load_n(const float* p, int n, float fill) {
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), simd_avx512::tail_mask(n), p);
  }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static void store_n(float* p, V v, int n) { _mm512_mask_storeu_ps(p, simd_avx512::tail_mask(n), v); }
  static void stream(float* p, V v) { _mm512_stream_ps(p, v); }
  static V keep_n(V v, int n) { return _mm512_maskz_mov_ps(simd_avx512::tail_mask(n), v); }
  static void fence() { _mm_sfence(); }
  static V set1(float v) { return _mm512_set1_ps(v); }
  static V zero() { return _mm512_setzero_ps(); }

  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V fnmadd(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V min(V a, V b) { return _mm512_min_ps(a, b); }
  static V abs(V a) { return _mm512_andnot_ps(_mm512_set1_ps(-0.0f), a); }
  static V neg(V a) { return _mm512_xor_ps(a, _mm512_set1_ps(-0.0f)); }

  static M lt(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static M le(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
  static M gt(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static M ge(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
  static M eq(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
  static M unord(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q); }
  static M mand(M a, M b) { return M(a & b); }
  static M mor(M a, M b) { return M(a | b); }
  static bool any(M m) { return m != 0; }
  static V select(M m, V a, V b) { return _mm512_mask_blend_ps(m, b, a); }
  static V sign_select(V x, V a, V b) { return _mm512_mask_blend_ps(_mm512_movepi32_mask(_mm512_castps_si512(x)), b, a); }

  static V exp(V x) { return simd_avx512::exp(x); }
  static V exp_nonpos(V x) { return simd_avx512::exp_nonpos(x); }
  static V log(V x) { return simd_avx512::log(x); }
  static V log1p(V x) { return simd_avx512::log1p(x); }
  static V log1p_exp_neg(V a) { return simd_avx512::log1p_exp_neg(a); }
  static V tanh(V x) { return simd_avx512::tanh(x); }
  static V erf(V x) { return simd_avx512::erf(x); }
  static V erfc(V x) { return simd_avx512::erfc(x); }
  static V sigmoid(V x) { return simd_avx512::sigmoid(x); }
  static V normal_tail(V a, V* pdf) { return simd_avx512::normal_tail(a, pdf); }

  static float hsum(V v) { return simd_avx512::hsum(v); }
  static float hmax(V v) { return simd_avx512::hmax(v); }
};
#elif defined(FASTNN_VEC_AVX2)
struct VecAvx2 {
  using V = __m256;
  using M = __m256;
  static constexpr int W = 8;
  static constexpr const char* name = "avx2";

  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V load_n(const float* p, int n, float fill) {
    const __m256i m = simd_avx2::tail_mask(n);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
  }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static void store_n(float* p, V v, int n) { _mm256_maskstore_ps(p, simd_avx2::tail_mask(n), v); }
  static void stream(float* p, V v) { _mm256_stream_ps(p, v); }
  static V keep_n(V v, int n) { return _mm256_and_ps(v, _mm256_castsi256_ps(simd_avx2::tail_mask(n))); }
  static void fence() { _mm_sfence(); }
  static V set1(float v) { return _mm256_set1_ps(v); }
  static V zero() { return _mm256_setzero_ps(); }

  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V fnmadd(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V min(V a, V b) { return _mm256_min_ps(a, b); }
  static V abs(V a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static V neg(V a) { return _mm256_xor_ps(a, _mm256_set1_ps(-0.0f)); }

  static M lt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static M le(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
  static M gt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static M ge(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  static M eq(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
  static M unord(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_UNORD_Q); }
  static M mand(M a, M b) { return _mm256_and_ps(a, b); }
  static M mor(M a, M b) { return _mm256_or_ps(a, b); }
  static bool any(M m) { return _mm256_movemask_ps(m) != 0; }
  static V select(M m, V a, V b) { return _mm256_blendv_ps(b, a, m); }
  static V sign_select(V x, V a, V b) { return _mm256_blendv_ps(b, a, x); }

  static V exp(V x) { return simd_avx2::exp(x); }
  static V exp_nonpos(V x) { return simd_avx2::exp_nonpos(x); }
  static V log(V x) { return simd_avx2::log(x); }
  static V log1p(V x) { return simd_avx2::log1p(x); }
  static V log1p_exp_neg(V a) { return simd_avx2::log1p_exp_neg(a); }
  static V tanh(V x) { return simd_avx2::tanh(x); }
  static V erf(V x) { return simd_avx2::erf(x); }
  static V erfc(V x) { return simd_avx2::erfc(x); }
  static V sigmoid(V x) { return simd_avx2::sigmoid(x); }
  static V normal_tail(V a, V* pdf) { return simd_avx2::normal_tail(a, pdf); }

  static float hsum(V v) { return simd_avx2::hsum(v); }
  static float hmax(V v) { return simd_avx2::hmax(v); }
};
#endif

// ---- loop skeletons ------------------------------------------------------------------------

// y[0, n) = f(i) (full vector at element i) / ft(i, k) (k < W elements at i). With Stream the
// body stores with non-temporal stores after peeling the head up to y's vector alignment
// (for outputs much larger than the last-level cache: saves the read-for-ownership of y).
template <class VO, bool Stream, class F, class Ft>
inline void map_loop(float* y, int64_t n, F&& f, Ft&& ft) {
  constexpr int W = VO::W;
  int64_t i = 0;
  if (Stream && W > 1) {
    const uintptr_t mis = (reinterpret_cast<uintptr_t>(y) / sizeof(float)) % W;
    int64_t head = mis ? W - int64_t(mis) : 0;
    if (head > n) head = n;
    if (head > 0) VO::store_n(y, ft(int64_t(0), int(head)), int(head));
    i = head;
    for (; i + W <= n; i += W) VO::stream(y + i, f(i));
  } else {
    for (; i + 2 * W <= n; i += 2 * W) {  // two independent vectors per trip for the OoO window
      const typename VO::V a = f(i), b = f(i + W);
      VO::store(y + i, a);
      VO::store(y + i + W, b);
    }
    for (; i + W <= n; i += W) VO::store(y + i, f(i));
  }
  if (i < n) VO::store_n(y + i, ft(i, int(n - i)), int(n - i));
  if (Stream) VO::fence();
}

}  // namespace
}  // namespace fastnn
