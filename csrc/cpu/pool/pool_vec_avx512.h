#pragma once
// simd_avx512::VecF32 plus the stride-2 split the max-pool body needs; for pool_avx512.cpp and
// the emulation check (tools/avx512_emulation/check_conv_pool.cpp) only.
#include <immintrin.h>

#include "cpu/simd/avx512.h"

namespace fastnn {
namespace {

struct PoolVecAvx512 : simd_avx512::VecF32 {
  // p0[l] = s[2l], p1[l] = s[2l + 1] for 32 floats.
  static void deinterleave2(const float* s, reg& p0, reg& p1) {
    const reg a = _mm512_loadu_ps(s), b = _mm512_loadu_ps(s + 16);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    p0 = _mm512_permutex2var_ps(a, even, b);
    p1 = _mm512_permutex2var_ps(a, odd, b);
  }
};

}  // namespace
}  // namespace fastnn
