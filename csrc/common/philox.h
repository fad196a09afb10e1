#pragma once
// Philox4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as 1, 2, 3",
// SC'11): a counter-based generator. Output = a keyed bijection of a 128-bit counter, so any
// element of a random stream is computed on its own, in any order, on any device. Checked against
// Random123's known-answer vectors in tests/test_dropout.py.
//
// Usable from C++ and CUDA (host and device); static so every translation unit, whatever its ISA
// flags, keeps its own copy.
#include <cstdint>

#if defined(__CUDACC__)
#define FASTNN_PHILOX_FN static __host__ __device__ __forceinline__
#else
#define FASTNN_PHILOX_FN static inline
#endif

namespace fastnn {

constexpr uint32_t kPhiloxM0 = 0xD2511F53u, kPhiloxM1 = 0xCD9E8D57u;  // round multipliers
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u, kPhiloxW1 = 0xBB67AE85u;  // Weyl key increments

struct Philox4 {
  uint32_t v[4];
};

// Ten rounds of  (c0, c1, c2, c3) → (hi(M1·c2) ^ c1 ^ k0, lo(M1·c2), hi(M0·c0) ^ c3 ^ k1, lo(M0·c0)),
// bumping the key by (W0, W1) between rounds.
FASTNN_PHILOX_FN Philox4 philox4x32_10(Philox4 c, uint32_t k0, uint32_t k1) {
  for (int r = 0; r < 10; ++r) {
    const uint64_t p0 = uint64_t(kPhiloxM0) * c.v[0];
    const uint64_t p1 = uint64_t(kPhiloxM1) * c.v[2];
    const Philox4 n = {{uint32_t(p1 >> 32) ^ c.v[1] ^ k0, uint32_t(p1), uint32_t(p0 >> 32) ^ c.v[3] ^ k1, uint32_t(p0)}};
    c = n;
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  return c;
}

// ---- the dropout stream ("fastnn dropout stream v1"; the CUDA kernels must reproduce it) ------
//
// Element i (the C-order flat index into the array, 0-based) of the stream (seed, offset) is
//   q    = (i >> 6) · 16 + (i & 15)            counter index: 16 counters per 64-element group
//   j    = (i >> 4) & 3                        which of the counter's four output words
//   u    = philox4x32_10({lo(q), hi(q), lo(offset), hi(offset)}, key = {lo(seed), hi(seed)}).v[j]
//   keep = u ≥ T,  T = ceil(p · 2^32)  computed in double from the float64 p  (T = 2^32: none kept)
// so one counter feeds elements i, i+16, i+32, i+48 of its group: a 16-wide (AVX-512) or two
// 8-wide (AVX2) vectors of consecutive counters give whole vectors of consecutive elements, and
// a CUDA thread per counter writes 4 coalesced 16-element rows. P(keep) = 1 - T/2^32.
FASTNN_PHILOX_FN uint32_t dropout_word(uint64_t seed, uint64_t offset, uint64_t i) {
  const uint64_t q = (i >> 6) * 16 + (i & 15);
  const Philox4 c = {{uint32_t(q), uint32_t(q >> 32), uint32_t(offset), uint32_t(offset >> 32)}};
  return philox4x32_10(c, uint32_t(seed), uint32_t(seed >> 32)).v[(i >> 4) & 3];
}

}  // namespace fastnn
