// Pooling leaf kernels, AVX2+FMA (8 lanes).
#include <immintrin.h>

#include <cstdint>

#include "cpu/pool/pool_kernels.h"
#include "cpu/simd/avx2.h"

namespace fastnn {
namespace {

// VecF32 plus the stride-2 split: p0[l] = s[2l], p1[l] = s[2l + 1] for 16 floats.
struct V : simd_avx2::VecF32 {
  static void deinterleave2(const float* s, reg& p0, reg& p1) {
    const reg a = _mm256_loadu_ps(s), b = _mm256_loadu_ps(s + 8);
    // within 128-bit lanes: (a0 a2 b0 b2 | a4 a6 b4 b6), then 64-bit groups reordered 0 2 1 3
    p0 = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
    p1 = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
  }
};

#include "cpu/pool/pool_body.inc"

}  // namespace

PoolKernels pool_kernels_avx2() { return {mp_plane_any<V>, mp_scratch<V>, mean_rows<V>}; }

}  // namespace fastnn
