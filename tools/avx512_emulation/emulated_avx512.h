#pragma once
// Forced-include header of the emulated AVX-512 build (CMake -DFASTNN_EMULATE_AVX512=ON; see
// tools/avx512_emulation/run_suite.sh): every *_avx512.cpp translation unit is compiled with the
// AVX2+FMA flags and `-include` of this file instead of -mavx512*, so each _mm512 intrinsic and
// __m512* type resolves to SIMDe's portable implementation (SIMDE_ENABLE_NATIVE_ALIASES) and the
// AVX-512 kernels run on CPUs without AVX-512. Never part of a normal build.
//
// <immintrin.h> comes first (SIMDe includes it too, for its AVX2 fast paths): its own _mm512
// declarations are then shadowed by SIMDe's macros. An intrinsic SIMDe lacks would resolve to
// GCC's always_inline target("avx512f") function and fail to compile ("target specific option
// mismatch"), never emit a real AVX-512 instruction; run_suite.sh also checks the objects hold no
// zmm/opmask register. The ones SIMDe 0.7.4 lacks are below, written from Intel's definitions on
// two AVX2 halves: masked loads/stores through vmaskmov (masked-off lanes never touched, no fault),
// reductions in GCC's own reduction order (so sums round as in a real AVX-512 build), conversions
// with the hardware's rounding and overflow results.
#include <immintrin.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

#if !defined(__AVX2__) || !defined(__FMA__)
#error "the emulated AVX-512 build compiles the *_avx512.cpp units with -mavx2 -mfma (FMAs must fuse, as on AVX-512)"
#endif
#if defined(__AVX512F__)
#error "emulated_avx512.h is for builds without -mavx512f"
#endif

// vec_ops.h and similar headers pick their AVX-512 variant on __AVX512F__ or this macro.
#define FASTNN_AVX512_EMULATION 1

namespace fastnn_avx512_emulation {

struct Halves {
  __m256 lo, hi;
};
static inline Halves split(simde__m512 v) {
  Halves h;
  std::memcpy(&h.lo, &v, 32);
  std::memcpy(&h.hi, reinterpret_cast<const char*>(&v) + 32, 32);
  return h;
}
static inline simde__m512 join(__m256 lo, __m256 hi) {
  simde__m512 v;
  std::memcpy(&v, &lo, 32);
  std::memcpy(reinterpret_cast<char*>(&v) + 32, &hi, 32);
  return v;
}
static inline simde__m512 join_i(__m256i lo, __m256i hi) { return join(_mm256_castsi256_ps(lo), _mm256_castsi256_ps(hi)); }
static inline __m256i lo_i(simde__m512i v) {
  __m256i r;
  std::memcpy(&r, &v, 32);
  return r;
}
static inline __m256i hi_i(simde__m512i v) {
  __m256i r;
  std::memcpy(&r, reinterpret_cast<const char*>(&v) + 32, 32);
  return r;
}
static inline simde__m512i as_i(simde__m512 v) {
  simde__m512i r;
  std::memcpy(&r, &v, 64);
  return r;
}
// 8 bits of a mask → 8 lanes of all-ones / zero
static inline __m256i lanes(unsigned k8) {
  const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(int(k8 & 0xffu)), bit), bit);
}

static inline simde__m512 maskz_loadu_ps(simde__mmask16 k, const void* p) {
  const float* f = static_cast<const float*>(p);
  return join(_mm256_maskload_ps(f, lanes(k)), _mm256_maskload_ps(f + 8, lanes(k >> 8)));
}
static inline simde__m512 mask_loadu_ps(simde__m512 src, simde__mmask16 k, const void* p) {
  const Halves s = split(src);
  const Halves l = split(maskz_loadu_ps(k, p));
  return join(_mm256_blendv_ps(s.lo, l.lo, _mm256_castsi256_ps(lanes(k))),
              _mm256_blendv_ps(s.hi, l.hi, _mm256_castsi256_ps(lanes(k >> 8))));
}
static inline void mask_storeu_ps(void* p, simde__mmask16 k, simde__m512 v) {
  float* f = static_cast<float*>(p);
  const Halves h = split(v);
  _mm256_maskstore_ps(f, lanes(k), h.lo);
  _mm256_maskstore_ps(f + 8, lanes(k >> 8), h.hi);
}
static inline simde__m512i maskz_loadu_epi32(simde__mmask16 k, const void* p) {
  const int* q = static_cast<const int*>(p);
  return as_i(join_i(_mm256_maskload_epi32(q, lanes(k)), _mm256_maskload_epi32(q + 8, lanes(k >> 8))));
}
static inline void mask_storeu_epi32(void* p, simde__mmask16 k, simde__m512i v) {
  int* q = static_cast<int*>(p);
  _mm256_maskstore_epi32(q, lanes(k), lo_i(v));
  _mm256_maskstore_epi32(q + 8, lanes(k >> 8), hi_i(v));
}
// vmovntps faults on an address that is not 64-byte aligned: say so and stop, as the hardware would.
static inline void stream_ps(void* p, simde__m512 v) {
  if (reinterpret_cast<uintptr_t>(p) % 64 != 0) {
    std::fprintf(stderr, "emulated AVX-512: _mm512_stream_ps to %p, not 64-byte aligned (#GP on hardware)\n", p);
    std::abort();
  }
  const Halves h = split(v);
  _mm256_stream_ps(static_cast<float*>(p), h.lo);
  _mm256_stream_ps(static_cast<float*>(p) + 8, h.hi);
}
static inline simde__m512 cvtepi32_ps(simde__m512i a) {
  return join(_mm256_cvtepi32_ps(lo_i(a)), _mm256_cvtepi32_ps(hi_i(a)));
}
// current rounding mode (nearest even); NaN and out-of-range give INT_MIN, as vcvtps2dq
static inline simde__m512i cvtps_epi32(simde__m512 a) {
  const Halves h = split(a);
  return as_i(join_i(_mm256_cvtps_epi32(h.lo), _mm256_cvtps_epi32(h.hi)));
}
static inline simde__m512i cvttps_epi32(simde__m512 a) {
  const Halves h = split(a);
  return as_i(join_i(_mm256_cvttps_epi32(h.lo), _mm256_cvttps_epi32(h.hi)));
}
// counts above 31 fill with the sign bit, as vpsrad
static inline simde__m512i srai_epi32(simde__m512i a, unsigned n) {
  const __m128i c = _mm_cvtsi32_si128(int(n > 32 ? 32 : n));
  return as_i(join_i(_mm256_sra_epi32(lo_i(a), c), _mm256_sra_epi32(hi_i(a), c)));
}
static inline __m256 extractf32x8_ps(simde__m512 v, int imm) {
  const Halves h = split(v);
  return (imm & 1) ? h.hi : h.lo;
}
// scale is an immediate on hardware: a template parameter here, as _mm256_i32gather_ps needs it
template <int kScale>
static inline simde__m512 i32gather_ps(simde__m512i idx, const void* base) {
  const float* f = static_cast<const float*>(base);
  return join(_mm256_i32gather_ps(f, lo_i(idx), kScale), _mm256_i32gather_ps(f, hi_i(idx), kScale));
}
// lanes written low to high (a later lane wins where indices repeat), as vscatterdps
template <int kScale>
static inline void i32scatter_ps(void* base, simde__m512i idx, simde__m512 v) {
  int32_t i[16];
  float f[16];
  std::memcpy(i, &idx, 64);
  std::memcpy(f, &v, 64);
  for (int l = 0; l < 16; ++l) std::memcpy(static_cast<char*>(base) + int64_t(i[l]) * kScale, &f[l], 4);
}
static inline float cvtss_f32(simde__m512 v) { return _mm256_cvtss_f32(split(v).lo); }
// GCC's _mm512_reduce_add_ps / _max_ps order: halves, quarters, pairs (see avx512fintrin.h)
static inline float reduce_add_ps(simde__m512 v) {
  const Halves h = split(v);
  const __m256 t3 = _mm256_add_ps(h.hi, h.lo);
  const __m128 t6 = _mm_add_ps(_mm256_extractf128_ps(t3, 1), _mm256_castps256_ps128(t3));
  const __m128 t8 = _mm_add_ps(t6, _mm_shuffle_ps(t6, t6, _MM_SHUFFLE(1, 0, 3, 2)));
  return _mm_cvtss_f32(t8) + _mm_cvtss_f32(_mm_shuffle_ps(t8, t8, 1));
}
static inline float reduce_max_ps(simde__m512 v) {
  const Halves h = split(v);
  const __m256 t3 = _mm256_max_ps(h.hi, h.lo);
  const __m128 t6 = _mm_max_ps(_mm256_extractf128_ps(t3, 1), _mm256_castps256_ps128(t3));
  const __m128 t8 = _mm_max_ps(t6, _mm_shuffle_ps(t6, t6, _MM_SHUFFLE(1, 0, 3, 2)));
  return _mm_cvtss_f32(_mm_max_ps(t8, _mm_shuffle_ps(t8, t8, _MM_SHUFFLE(0, 1, 0, 1))));
}
static inline float reduce_min_ps(simde__m512 v) {
  const Halves h = split(v);
  const __m256 t3 = _mm256_min_ps(h.hi, h.lo);
  const __m128 t6 = _mm_min_ps(_mm256_extractf128_ps(t3, 1), _mm256_castps256_ps128(t3));
  const __m128 t8 = _mm_min_ps(t6, _mm_shuffle_ps(t6, t6, _MM_SHUFFLE(1, 0, 3, 2)));
  return _mm_cvtss_f32(_mm_min_ps(t8, _mm_shuffle_ps(t8, t8, _MM_SHUFFLE(0, 1, 0, 1))));
}

}  // namespace fastnn_avx512_emulation

// GCC defines some of these names as macros when not optimizing: replace them either way.
#undef _mm512_maskz_loadu_ps
#undef _mm512_mask_loadu_ps
#undef _mm512_mask_storeu_ps
#undef _mm512_maskz_loadu_epi32
#undef _mm512_mask_storeu_epi32
#undef _mm512_stream_ps
#undef _mm512_cvtepi32_ps
#undef _mm512_cvtps_epi32
#undef _mm512_cvttps_epi32
#undef _mm512_srai_epi32
#undef _mm512_extractf32x8_ps
#undef _mm512_cvtss_f32
#undef _mm512_i32gather_ps
#undef _mm512_i32scatter_ps
#undef _mm512_reduce_add_ps
#undef _mm512_reduce_max_ps
#undef _mm512_reduce_min_ps
#define _mm512_maskz_loadu_ps fastnn_avx512_emulation::maskz_loadu_ps
#define _mm512_mask_loadu_ps fastnn_avx512_emulation::mask_loadu_ps
#define _mm512_mask_storeu_ps fastnn_avx512_emulation::mask_storeu_ps
#define _mm512_maskz_loadu_epi32 fastnn_avx512_emulation::maskz_loadu_epi32
#define _mm512_mask_storeu_epi32 fastnn_avx512_emulation::mask_storeu_epi32
#define _mm512_stream_ps fastnn_avx512_emulation::stream_ps
#define _mm512_cvtepi32_ps fastnn_avx512_emulation::cvtepi32_ps
#define _mm512_cvtps_epi32 fastnn_avx512_emulation::cvtps_epi32
#define _mm512_cvttps_epi32 fastnn_avx512_emulation::cvttps_epi32
#define _mm512_srai_epi32 fastnn_avx512_emulation::srai_epi32
#define _mm512_extractf32x8_ps fastnn_avx512_emulation::extractf32x8_ps
#define _mm512_cvtss_f32 fastnn_avx512_emulation::cvtss_f32
#define _mm512_i32gather_ps(idx, base, scale) fastnn_avx512_emulation::i32gather_ps<(scale)>((idx), (base))
#define _mm512_i32scatter_ps(base, idx, v, scale) fastnn_avx512_emulation::i32scatter_ps<(scale)>((base), (idx), (v))
#define _mm512_reduce_add_ps fastnn_avx512_emulation::reduce_add_ps
#define _mm512_reduce_max_ps fastnn_avx512_emulation::reduce_max_ps
#define _mm512_reduce_min_ps fastnn_avx512_emulation::reduce_min_ps
