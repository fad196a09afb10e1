// B-panel packer for the AVX2 micro-kernel (panels 16 floats wide). Each panel row is built in
// two registers from its pieces with masked loads (lanes outside the piece or the image are
// never read and come out zero), then stored with two aligned stores.
#include <immintrin.h>

#include "cpu/conv/igemm_pack.h"

namespace fastnn {

void igemm_pack_avx2_16(const PackJob& job) {
  constexpr int NR = 16;
  const __m256i lane0 = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i lane1 = _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15);
  const int64_t pstride = job.kc * NR;
  constexpr int64_t kAhead = 6;  // rows: the image is read across channel planes, which
                                 // hardware prefetchers do not follow
  for (int64_t kk = 0; kk < job.kc; ++kk) {
    const IgemmRow& r = job.rows[job.k0 + kk];
    const float* plane = job.x + r.x_off;
    const IgemmRow& ra = job.rows[job.k0 + (kk + kAhead < job.kc ? kk + kAhead : kk)];
    const float* plane_a = job.x + ra.x_off;
    float* row = job.out + kk * NR;
    int64_t i = 0;
    for (int64_t q = 0; q < job.npanels; ++q) {
      __m256 v0 = _mm256_setzero_ps(), v1 = _mm256_setzero_ps();
      {
        const PackPiece& pc = job.pieces[i < job.npieces ? i : 0];
        const int64_t iy = pc.oy + ra.dy;
        if (uint64_t(iy) < uint64_t(ra.h)) {
          const char* pa = reinterpret_cast<const char*>(plane_a + pc.n * job.x_n + iy * ra.x_h + pc.ox_a + ra.dx);
          _mm_prefetch(pa, _MM_HINT_T0);
          _mm_prefetch(pa + 60, _MM_HINT_T0);
        }
      }
      for (; i < job.npieces && job.pieces[i].panel == q; ++i) {
        const PackPiece& pc = job.pieces[i];
        const int64_t iy = pc.oy + r.dy;
        if (uint64_t(iy) >= uint64_t(r.h)) continue;
        const int64_t c0 = pc.ox_a + r.dx - pc.a;  // input column of lane 0
        const float* src = plane + pc.n * job.x_n + iy * r.x_h + c0;
        const int64_t lo = pc.a > -c0 ? pc.a : -c0;
        const int64_t hi = pc.b < r.w - c0 ? pc.b : r.w - c0;
        if (lo == 0 && hi == NR) {
          v0 = _mm256_loadu_ps(src);
          v1 = _mm256_loadu_ps(src + 8);
          continue;
        }
        if (hi <= lo) continue;
        const __m256i vlo = _mm256_set1_epi32(int(lo) - 1), vhi = _mm256_set1_epi32(int(hi));
        const __m256i m0 = _mm256_and_si256(_mm256_cmpgt_epi32(lane0, vlo), _mm256_cmpgt_epi32(vhi, lane0));
        const __m256i m1 = _mm256_and_si256(_mm256_cmpgt_epi32(lane1, vlo), _mm256_cmpgt_epi32(vhi, lane1));
        v0 = _mm256_or_ps(v0, _mm256_maskload_ps(src, m0));
        v1 = _mm256_or_ps(v1, _mm256_maskload_ps(src + 8, m1));
      }
      _mm256_store_ps(row + q * pstride, v0);
      _mm256_store_ps(row + q * pstride + 8, v1);
    }
  }
}

}  // namespace fastnn
