// B-panel packer for the AVX-512 micro-kernel (panels 32 floats wide): as the AVX2 one, with
// mask registers. Compiled and dispatched; unverified on hardware here (no AVX-512 machine).
#include <immintrin.h>

#include "cpu/conv/igemm_pack.h"

namespace fastnn {
namespace {

// Bits [lo, hi) of a 16-lane mask whose lane 0 is lane `base` of the panel.
inline __mmask16 lane_mask(int64_t lo, int64_t hi, int64_t base) {
  int64_t a = lo - base, b = hi - base;
  a = a < 0 ? 0 : (a > 16 ? 16 : a);
  b = b < 0 ? 0 : (b > 16 ? 16 : b);
  if (b <= a) return 0;
  return __mmask16(((1u << b) - 1u) & ~((1u << a) - 1u));
}

}  // namespace

void igemm_pack_avx512_32(const PackJob& job) {
  constexpr int NR = 32;
  const int64_t pstride = job.kc * NR;
  for (int64_t kk = 0; kk < job.kc; ++kk) {
    const IgemmRow& r = job.rows[job.k0 + kk];
    const float* plane = job.x + r.x_off;
    float* row = job.out + kk * NR;
    int64_t i = 0;
    for (int64_t q = 0; q < job.npanels; ++q) {
      __m512 v0 = _mm512_setzero_ps(), v1 = _mm512_setzero_ps();
      for (; i < job.npieces && job.pieces[i].panel == q; ++i) {
        const PackPiece& pc = job.pieces[i];
        const int64_t iy = pc.oy + r.dy;
        if (uint64_t(iy) >= uint64_t(r.h)) continue;
        const int64_t c0 = pc.ox_a + r.dx - pc.a;
        const float* src = plane + pc.n * job.x_n + iy * r.x_h + c0;
        const int64_t lo = pc.a > -c0 ? pc.a : -c0;
        const int64_t hi = pc.b < r.w - c0 ? pc.b : r.w - c0;
        if (lo == 0 && hi == NR) {
          v0 = _mm512_loadu_ps(src);
          v1 = _mm512_loadu_ps(src + 16);
          continue;
        }
        if (hi <= lo) continue;
        v0 = _mm512_or_ps(v0, _mm512_maskz_loadu_ps(lane_mask(lo, hi, 0), src));
        v1 = _mm512_or_ps(v1, _mm512_maskz_loadu_ps(lane_mask(lo, hi, 16), src + 16));
      }
      _mm512_store_ps(row + q * pstride, v0);
      _mm512_store_ps(row + q * pstride + 16, v1);
    }
  }
}

}  // namespace fastnn
