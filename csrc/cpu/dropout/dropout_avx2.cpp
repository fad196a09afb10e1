// AVX2 dropout: Philox4x32-10 on 8 counters per vector (32x32→64 products with _mm256_mul_epu32,
// even and odd counters as two halves). Two vectors of counters cover a 64-element group with no transposition
// (the stream layout in common/philox.h is built for that). Leaf code only.
#include <immintrin.h>

#include "common/philox.h"
#include "cpu/dropout/dropout_kernels.h"

namespace fastnn {
namespace {

// Philox4x32-10 of counters {q0 + l, hi(q0), lo(off), hi(off)}, l = 0..7 (q0 % 8 == 0: no carry).
// _mm256_mul_epu32 multiplies the low halves of the 64-bit lanes, so the even counters (the low
// halves as loaded) and the odd ones (shifted down) run as two 4-lane halves whose state words
// keep their value in the low half of each 64-bit lane: hi(p) is one shift, lo(p) is p itself
// (the garbage high halves never reach a product), and no blends are needed until the end. In
// rounds 1 and 2 one product per round is the same for every lane (words 1-3 of the counter are
// lane-uniform), so it is computed once as a scalar.
inline void philox8(uint64_t q0, const DropoutParams& p, __m256i out[4]) {
  const __m256i m0 = _mm256_set1_epi32(int(kPhiloxM0)), m1 = _mm256_set1_epi32(int(kPhiloxM1));
  const __m256i c0 = _mm256_add_epi32(_mm256_set1_epi32(int(uint32_t(q0))), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  uint32_t k0 = uint32_t(p.seed), k1 = uint32_t(p.seed >> 32);
  auto bc = [](uint32_t v) { return _mm256_set1_epi32(int(v)); };
  __m256i h[2][4];  // [even/odd][word]
  // round 1: word 1 and the product with word 2 are uniform
  const uint64_t P1 = uint64_t(kPhiloxM1) * uint32_t(p.offset);
  const uint32_t u0 = uint32_t(P1 >> 32) ^ uint32_t(q0 >> 32) ^ k0, u1 = uint32_t(P1);
  for (int e = 0; e < 2; ++e) {
    const __m256i a = e ? _mm256_srli_epi64(c0, 32) : c0;
    const __m256i pr = _mm256_mul_epu32(a, m0);
    h[e][2] = _mm256_xor_si256(_mm256_srli_epi64(pr, 32), bc(uint32_t(p.offset >> 32) ^ k1));
    h[e][3] = pr;
  }
  k0 += kPhiloxW0, k1 += kPhiloxW1;
  // round 2: words 0 and 1 are uniform (u0, u1)
  const uint64_t P0 = uint64_t(kPhiloxM0) * u0;
  for (int e = 0; e < 2; ++e) {
    const __m256i pr = _mm256_mul_epu32(h[e][2], m1);
    h[e][0] = _mm256_xor_si256(_mm256_srli_epi64(pr, 32), bc(u1 ^ k0));
    h[e][1] = pr;
    h[e][2] = _mm256_xor_si256(h[e][3], bc(uint32_t(P0 >> 32) ^ k1));
    h[e][3] = bc(uint32_t(P0));
  }
  k0 += kPhiloxW0, k1 += kPhiloxW1;
#pragma GCC unroll 8
  for (int r = 2; r < 10; ++r) {
    const __m256i kk0 = bc(k0), kk1 = bc(k1);
    for (int e = 0; e < 2; ++e) {
      const __m256i p0 = _mm256_mul_epu32(h[e][0], m0), p1 = _mm256_mul_epu32(h[e][2], m1);
      h[e][0] = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1, 32), h[e][1]), kk0);
      h[e][1] = p1;
      h[e][2] = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0, 32), h[e][3]), kk1);
      h[e][3] = p0;
    }
    k0 += kPhiloxW0, k1 += kPhiloxW1;
  }
  for (int j = 0; j < 4; ++j) out[j] = _mm256_blend_epi32(h[0][j], _mm256_slli_epi64(h[1][j], 32), 0xAA);
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
