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

inline void mulhilo(__m512i a, __m512i m, __m512i* hi, __m512i* lo) {
  const __m512i pe = _mm512_mul_epu32(a, m);
  const __m512i po = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
  *lo = _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
  *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po);
}

inline void philox16(uint64_t q0, const DropoutParams& p, __m512i out[4]) {
  __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32(int(uint32_t(q0))),
                                _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  __m512i c1 = _mm512_set1_epi32(int(uint32_t(q0 >> 32)));
  __m512i c2 = _mm512_set1_epi32(int(uint32_t(p.offset)));
  __m512i c3 = _mm512_set1_epi32(int(uint32_t(p.offset >> 32)));
  const __m512i m0 = _mm512_set1_epi32(int(kPhiloxM0)), m1 = _mm512_set1_epi32(int(kPhiloxM1));
  uint32_t k0 = uint32_t(p.seed), k1 = uint32_t(p.seed >> 32);
#pragma GCC unroll 10
  for (int r = 0; r < 10; ++r) {
    __m512i hi0, lo0, hi1, lo1;
    mulhilo(c0, m0, &hi0, &lo0);
    mulhilo(c2, m1, &hi1, &lo1);
    c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32(int(k0)));
    c1 = lo1;
    c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32(int(k1)));
    c3 = lo0;
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
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
