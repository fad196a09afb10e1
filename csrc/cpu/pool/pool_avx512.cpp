// Pooling leaf kernels, AVX-512F (16 lanes). Compiled and dispatched;
// unverified on hardware where the build machine lacks AVX-512 (the SIMDe emulation check in
// tools/avx512_emulation runs the same body).
#include <immintrin.h>

#include <cstdint>

#include "cpu/pool/pool_kernels.h"
#include "cpu/simd/avx512.h"

namespace fastnn {
namespace {

// VecF32 plus the stride-2 split: p0[l] = s[2l], p1[l] = s[2l + 1] for 32 floats.
struct V : simd_avx512::VecF32 {
  static void deinterleave2(const float* s, reg& p0, reg& p1) {
    const reg a = _mm512_loadu_ps(s), b = _mm512_loadu_ps(s + 16);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    p0 = _mm512_permutex2var_ps(a, even, b);
    p1 = _mm512_permutex2var_ps(a, odd, b);
  }
};

#include "cpu/pool/pool_body.inc"

}  // namespace

PoolKernels pool_kernels_avx512() { return {mp_plane_any<V>, mp_scratch<V>, mean_rows<V>}; }

}  // namespace fastnn
