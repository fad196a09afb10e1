// AVX-512 dropout: Philox4x32-10 on 16 counters per vector; one vector of counters covers a
// whole 64-element group (word j → elements 16j .. 16j + 15). Leaf code only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC PR 105593, see vec_ops.h
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include "common/philox.h"
#include "cpu/dropout/dropout_kernels.h"

namespace fastnn {
namespace {

// Philox4x32-10 of counters {q0 + l, hi(q0), lo(off), hi(off)}, l = 0..15 (q0 % 16 == 0: no
// carry), as philox8 in dropout_avx2.cpp: even and odd counters as two halves in the low halves of
// the 64-bit lanes (no blends until the end), and the lane-uniform products of rounds 1 and 2
// computed once as scalars.
inline void philox16(uint64_t q0, const DropoutParams& p, __m512i out[4]) {
  const __m512i m0 = _mm512_set1_epi32(int(kPhiloxM0)), m1 = _mm512_set1_epi32(int(kPhiloxM1));
  const __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32(int(uint32_t(q0))),
                                      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  uint32_t k0 = uint32_t(p.seed), k1 = uint32_t(p.seed >> 32);
  auto bc = [](uint32_t v) { return _mm512_set1_epi32(int(v)); };
  __m512i h[2][4];  // [even/odd][word]
  const uint64_t P1 = uint64_t(kPhiloxM1) * uint32_t(p.offset);
  const uint32_t u0 = uint32_t(P1 >> 32) ^ uint32_t(q0 >> 32) ^ k0, u1 = uint32_t(P1);
  for (int e = 0; e < 2; ++e) {
    const __m512i a = e ? _mm512_srli_epi64(c0, 32) : c0;
    const __m512i pr = _mm512_mul_epu32(a, m0);
    h[e][2] = _mm512_xor_si512(_mm512_srli_epi64(pr, 32), bc(uint32_t(p.offset >> 32) ^ k1));
    h[e][3] = pr;
  }
  k0 += kPhiloxW0, k1 += kPhiloxW1;
  const uint64_t P0 = uint64_t(kPhiloxM0) * u0;
  for (int e = 0; e < 2; ++e) {
    const __m512i pr = _mm512_mul_epu32(h[e][2], m1);
    h[e][0] = _mm512_xor_si512(_mm512_srli_epi64(pr, 32), bc(u1 ^ k0));
    h[e][1] = pr;
    h[e][2] = _mm512_xor_si512(h[e][3], bc(uint32_t(P0 >> 32) ^ k1));
    h[e][3] = bc(uint32_t(P0));
  }
  k0 += kPhiloxW0, k1 += kPhiloxW1;
#pragma GCC unroll 8
  for (int r = 2; r < 10; ++r) {
    const __m512i kk0 = bc(k0), kk1 = bc(k1);
    for (int e = 0; e < 2; ++e) {
      const __m512i p0 = _mm512_mul_epu32(h[e][0], m0), p1 = _mm512_mul_epu32(h[e][2], m1);
      h[e][0] = _mm512_xor_si512(_mm512_xor_si512(_mm512_srli_epi64(p1, 32), h[e][1]), kk0);
      h[e][1] = p1;
      h[e][2] = _mm512_xor_si512(_mm512_xor_si512(_mm512_srli_epi64(p0, 32), h[e][3]), kk1);
      h[e][3] = p0;
    }
    k0 += kPhiloxW0, k1 += kPhiloxW1;
  }
  for (int j = 0; j < 4; ++j) out[j] = _mm512_mask_blend_epi32(0xAAAA, h[0][j], _mm512_slli_epi64(h[1][j], 32));
}

inline void apply16(const float* x, float* y, uint8_t* mask, int64_t e, __mmask16 keep, __m512 scale, bool stream) {
  if (y) {
    const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + e), _mm512_maskz_mov_ps(keep, scale));
    if (stream && (reinterpret_cast<uintptr_t>(y + e) & 63) == 0)
      _mm512_stream_ps(y + e, v);
    else
      _mm512_storeu_ps(y + e, v);
  }
  if (mask) _mm_storeu_si128(reinterpret_cast<__m128i*>(mask + e), _mm_maskz_mov_epi8(keep, _mm_set1_epi8(1)));
}

}  // namespace

void dropout_avx512(const float* x, float* y, uint8_t* mask, int64_t n, int64_t start, const DropoutParams& p,
                    bool stream) {
  const int64_t end = start + n;
  const __m512 scale = _mm512_set1_ps(p.scale);
  if (p.threshold == 0 || p.threshold >= kDropoutKeepNone) {
    const __mmask16 keep = p.threshold == 0 ? __mmask16(0xFFFF) : __mmask16(0);
    int64_t e = 0;
    for (; e + 16 <= n; e += 16) apply16(x, y, mask, e, keep, scale, stream);
    for (; e < n; ++e) {
      if (y) y[e] = x[e] * (p.threshold == 0 ? p.scale : 0.0f);
      if (mask) mask[e] = p.threshold == 0;
    }
  } else {
    const __m512i thr = _mm512_set1_epi32(int(uint32_t(p.threshold)));
    for (int64_t i = start; i < end;) {
      const int64_t g0 = i & ~int64_t(63);
      __m512i w4[4];
      philox16(uint64_t(g0 >> 6) * 16, p, w4);
      if (i == g0 && g0 + 64 <= end) {
        for (int j = 0; j < 4; ++j)
          apply16(x, y, mask, g0 - start + 16 * j, _mm512_cmpge_epu32_mask(w4[j], thr), scale, stream);
        i = g0 + 64;
      } else {
        alignas(64) uint32_t w[64];
        for (int j = 0; j < 4; ++j) _mm512_store_si512(reinterpret_cast<void*>(w + 16 * j), w4[j]);
        const int64_t stop = end < g0 + 64 ? end : g0 + 64;
        for (; i < stop; ++i) {
          const bool keep = w[i - g0] >= p.threshold;
          const int64_t k = i - start;
          if (y) y[k] = x[k] * (keep ? p.scale : 0.0f);
          if (mask) mask[k] = keep ? 1 : 0;
        }
      }
    }
  }
  if (stream) _mm_sfence();
}

}  // namespace fastnn
