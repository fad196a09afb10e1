// AVX2 packers for the 6×16 kernel. A panel is W lines (W = 6 rows of A or 16 columns of B),
// each kc long; element (l, k) sits at src[l*ls + k*ks] and goes to out[k*W + l].
//   ks == 1 (row-major A, transposed B): 8 lines × 8 k loaded as rows, transposed in registers;
//   ls == 1 (column-major A, row-major B): W contiguous floats per k, vector copies;
//   otherwise, and for other widths, the generic packers.
#include <immintrin.h>

#include "cpu/gemm/pack.h"
#include "cpu/simd/avx2.h"

namespace fastnn {
namespace {

// Stores the first 6 lanes of x at d (two stores, nothing written past d[5]).
inline void store6(float* d, __m256 x) {
  const __m128 lo = _mm256_castps256_ps128(x);
  _mm_storeu_ps(d, lo);
  _mm_storel_pi(reinterpret_cast<__m64*>(d + 4), _mm256_extractf128_ps(x, 1));
}

// Lines l0..l0+7 of the panel (zero for l ≥ w), k .. k+7, transposed: r[t] = lines at k + t.
inline void load_transposed(const float* src, int64_t ls, int l0, int w, int64_t k, __m256 r[8]) {
  for (int l = 0; l < 8; ++l)
    r[l] = l0 + l < w ? _mm256_loadu_ps(src + (l0 + l) * ls + k) : _mm256_setzero_ps();
  simd_avx2::transpose8x8(r);
}

template <int W>
void pack_panel_kcontig(int64_t kc, const float* src, int64_t ls, int w, float* out) {
  static_assert(W == 6 || W == 16, "");
  int64_t k = 0;
  __m256 r[8];
  for (; k + 8 <= kc; k += 8) {
    if constexpr (W == 16) {
      for (int g = 0; g < 2; ++g) {
        load_transposed(src, ls, 8 * g, w, k, r);
        for (int t = 0; t < 8; ++t) _mm256_store_ps(out + (k + t) * 16 + 8 * g, r[t]);
      }
    } else {
      load_transposed(src, ls, 0, w, k, r);
      // 8-wide stores overlap the next k's slot, which is written next; the last one is split.
      for (int t = 0; t < 7; ++t) _mm256_storeu_ps(out + (k + t) * 6, r[t]);
      store6(out + (k + 7) * 6, r[7]);
    }
  }
  for (; k < kc; ++k) {
    float* d = out + k * W;
    for (int l = 0; l < w; ++l) d[l] = src[l * ls + k];
    for (int l = w; l < W; ++l) d[l] = 0.0f;
  }
}

// All full panels of a W-contiguous source (row-major B): k-blocks of 16 rows, panel by panel,
// so the reads walk 16 rows sequentially (prefetch-friendly) instead of hopping one row
// stride per 64 bytes across a whole kc-row column strip.
template <int W>
void pack_full_panels_lcontig(int64_t panels, int64_t kc, const float* src, int64_t ks, float* out) {
  static_assert(W == 6 || W == 16, "");
  constexpr int64_t KB = 16;
  for (int64_t k0 = 0; k0 < kc; k0 += KB) {
    const int64_t k1 = k0 + KB < kc ? k0 + KB : kc;
    for (int64_t q = 0; q < panels; ++q) {
      const float* s = src + q * W;
      float* o = out + q * kc * W;
      for (int64_t k = k0; k < k1; ++k) {
        const float* sk = s + k * ks;
        float* d = o + k * W;
        if constexpr (W == 16) {
          _mm256_store_ps(d, _mm256_loadu_ps(sk));
          _mm256_store_ps(d + 8, _mm256_loadu_ps(sk + 8));
        } else {
          _mm_storeu_ps(d, _mm_loadu_ps(sk));
          _mm_storel_pi(reinterpret_cast<__m64*>(d + 4),
                        _mm_loadl_pi(_mm_setzero_ps(), reinterpret_cast<const __m64*>(sk + 4)));
        }
      }
    }
  }
}

// n lines → ceil(n/W) panels; false when this layout/width has no fast path here.
template <int W>
bool pack_lines(int64_t n, int64_t kc, const float* src, int64_t ls, int64_t ks, float* out) {
  if (ks != 1 && ls != 1) return false;
  int64_t l0 = 0;
  if (ks != 1) {  // ls == 1
    const int64_t full = n / W;
    pack_full_panels_lcontig<W>(full, kc, src, ks, out);
    l0 = full * W;
    out += full * kc * W;
  }
  for (; l0 < n; l0 += W) {
    const int w = int(n - l0 < W ? n - l0 : W);
    const float* s = src + l0 * ls;
    if (ks == 1) {
      pack_panel_kcontig<W>(kc, s, ls, w, out);
    } else {  // the partial last panel of an ls == 1 source
      for (int64_t k = 0; k < kc; ++k) {
        float* d = out + k * W;
        for (int l = 0; l < w; ++l) d[l] = s[l + k * ks];
        for (int l = w; l < W; ++l) d[l] = 0.0f;
      }
    }
    out += kc * W;
  }
  return true;
}

}  // namespace

void sgemm_pack_a_avx2(int64_t mc, int64_t kc, const float* a, int64_t rs, int64_t cs, int mr, float* out) {
  if (mr == 6 && pack_lines<6>(mc, kc, a, rs, cs, out)) return;
  pack_a(mc, kc, a, rs, cs, mr, out);
}

void sgemm_pack_b_avx2(int64_t kc, int64_t nc, const float* b, int64_t rs, int64_t cs, int nr, float* out) {
  if (nr == 16 && pack_lines<16>(nc, kc, b, cs, rs, out)) return;
  pack_b(kc, nc, b, rs, cs, nr, out);
}

}  // namespace fastnn
