// AVX2 dropout: Philox4x32-10 on 8 counters per vector (32x32→64 products with _mm256_mul_epu32 on
// even and odd lanes). Two vectors of counters cover a 64-element group with no transposition
// (the stream layout in common/philox.h is built for that). Leaf code only.
#include <immintrin.h>

#include "common/philox.h"
#include "cpu/dropout/dropout_kernels.h"

namespace fastnn {
namespace {

inline void mulhilo(__m256i a, __m256i m, __m256i* hi, __m256i* lo) {
  const __m256i pe = _mm256_mul_epu32(a, m);                         // lanes 0, 2, 4, 6
  const __m256i po = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);  // lanes 1, 3, 5, 7
  *lo = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
  *hi = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
}

// Philox4x32-10 of counters {q0 + l, hi(q0), lo(off), hi(off)}, l = 0..7 (q0 % 16 == 0: no carry).
inline void philox8(uint64_t q0, const DropoutParams& p, __m256i out[4]) {
  __m256i c0 = _mm256_add_epi32(_mm256_set1_epi32(int(uint32_t(q0))), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  __m256i c1 = _mm256_set1_epi32(int(uint32_t(q0 >> 32)));
  __m256i c2 = _mm256_set1_epi32(int(uint32_t(p.offset)));
  __m256i c3 = _mm256_set1_epi32(int(uint32_t(p.offset >> 32)));
  const __m256i m0 = _mm256_set1_epi32(int(kPhiloxM0)), m1 = _mm256_set1_epi32(int(kPhiloxM1));
  uint32_t k0 = uint32_t(p.seed), k1 = uint32_t(p.seed >> 32);
#pragma GCC unroll 10
  for (int r = 0; r < 10; ++r) {
    __m256i hi0, lo0, hi1, lo1;
    mulhilo(c0, m0, &hi0, &lo0);
    mulhilo(c2, m1, &hi1, &lo1);
    c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(int(k0)));
    c1 = lo1;
    c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(int(k1)));
    c3 = lo0;
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

inline void put(float* y, __m256 v, bool stream) {
  if (stream && (reinterpret_cast<uintptr_t>(y) & 31) == 0)
    _mm256_stream_ps(y, v);
  else
    _mm256_storeu_ps(y, v);
}

// 8 elements at local index e with keep mask (lanes all-ones / zero).
inline void apply8(const float* x, float* y, uint8_t* mask, int64_t e, __m256i keep, __m256 scale, bool stream) {
  const __m256 kf = _mm256_castsi256_ps(keep);
  if (y) put(y + e, _mm256_mul_ps(_mm256_loadu_ps(x + e), _mm256_and_ps(kf, scale)), stream);
  if (mask) {
    const int bits = _mm256_movemask_ps(kf);
    for (int b = 0; b < 8; ++b) mask[e + b] = uint8_t((bits >> b) & 1);
  }
}

}  // namespace

void dropout_avx2(const float* x, float* y, uint8_t* mask, int64_t n, int64_t start, const DropoutParams& p,
                  bool stream) {
  const int64_t end = start + n;
  const __m256 scale = _mm256_set1_ps(p.scale);
  if (p.threshold == 0 || p.threshold >= kDropoutKeepNone) {  // p = 0 or 1: no random bits needed
    const __m256i keep = p.threshold == 0 ? _mm256_set1_epi32(-1) : _mm256_setzero_si256();
    int64_t e = 0;
    for (; e + 8 <= n; e += 8) apply8(x, y, mask, e, keep, scale, stream);
    for (; e < n; ++e) {
      if (y) y[e] = x[e] * (p.threshold == 0 ? p.scale : 0.0f);
      if (mask) mask[e] = p.threshold == 0;
    }
  } else {
    const __m256i thr = _mm256_set1_epi32(int(uint32_t(p.threshold)));
    for (int64_t i = start; i < end;) {
      const int64_t g0 = i & ~int64_t(63);
      __m256i a[4], b[4];
      philox8(uint64_t(g0 >> 6) * 16, p, a);
      philox8(uint64_t(g0 >> 6) * 16 + 8, p, b);
      if (i == g0 && g0 + 64 <= end) {  // whole group: element g0 + 16j + 8h + l ← word j of counter 8h + l
        for (int j = 0; j < 4; ++j) {
          const __m256i ka = _mm256_cmpeq_epi32(_mm256_max_epu32(a[j], thr), a[j]);  // a ≥ thr, unsigned
          const __m256i kb = _mm256_cmpeq_epi32(_mm256_max_epu32(b[j], thr), b[j]);
          apply8(x, y, mask, g0 - start + 16 * j, ka, scale, stream);
          apply8(x, y, mask, g0 - start + 16 * j + 8, kb, scale, stream);
        }
        i = g0 + 64;
      } else {  // a partial group at either end of the range
        alignas(32) uint32_t w[64];
        for (int j = 0; j < 4; ++j) {
          _mm256_store_si256(reinterpret_cast<__m256i*>(w + 16 * j), a[j]);
          _mm256_store_si256(reinterpret_cast<__m256i*>(w + 16 * j + 8), b[j]);
        }
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
