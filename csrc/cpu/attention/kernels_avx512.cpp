// AVX-512 leaf kernels for flash attention (contracts in kernels.h; structure as kernels_avx2.cpp).
//
// Register tile 8×48: 24 ZMM accumulators + 3 B vectors + 1 broadcast (28 of 32 registers).
// Per k: 3 aligned loads, 8 broadcasts, 24 FMAs.
// Compiled and dispatched, but not run on the development machine (Zen 3 has no AVX-512).
#include <immintrin.h>

#include "cpu/attention/kernels.h"
#include "cpu/simd/avx512.h"

// GCC 12 reports the _mm512_undefined_ps() operand of the masked min/max/roundscale builtins
// inside simd_avx512::exp as "may be used uninitialized" (a false positive in its headers).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace fastnn {
namespace attn {
namespace {

using namespace simd_avx512;

constexpr int W = kWidth;  // 16 floats
constexpr int MR = 8, NVMAX = 3;

// ---- C[R × NV·16] (mode)= Σ_k A(r, k) · B[k][:] ----------------------------------------------------

// The unroll pragmas keep the accumulator array in registers (see kernels_avx2.cpp).
template <int R, int NV>
void gemm_tile(int64_t kc, const float* a, int64_t rsa, int64_t ksa, const float* b, int64_t ldb, float* c,
               int64_t ldc, GemmMode mode, const float* alpha) {
  __m512 acc[R][NV];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  if (mode != GemmMode::store) {  // C is read back after the k loop: fetch it now (see kernels_avx2.cpp)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + v * W), _MM_HINT_T0);
  }
  const float* ar[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) ar[r] = a + r * rsa;
  int64_t ka = 0;
  for (int64_t k = 0; k < kc; ++k, ka += ksa, b += ldb) {
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_ps(b + v * W);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 x = _mm512_set1_ps(ar[r][ka]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(x, bv[v], acc[r][v]);
    }
  }
  if (mode == GemmMode::store) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) _mm512_store_ps(c + r * ldc + v * W, acc[r][v]);
  } else if (mode == GemmMode::accumulate) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        float* p = c + r * ldc + v * W;
        _mm512_store_ps(p, _mm512_add_ps(_mm512_load_ps(p), acc[r][v]));
      }
  } else {
    __m512 al[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) al[v] = _mm512_load_ps(alpha + v * W);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        float* p = c + r * ldc + v * W;
        _mm512_store_ps(p, _mm512_fmadd_ps(al[v], _mm512_load_ps(p), acc[r][v]));
      }
  }
}

using TileFn = void (*)(int64_t, const float*, int64_t, int64_t, const float*, int64_t, float*, int64_t, GemmMode,
                        const float*);

#define FASTNN_TILE_ROW(R) {gemm_tile<R, 1>, gemm_tile<R, 2>, gemm_tile<R, 3>}
const TileFn kTiles[MR][NVMAX] = {FASTNN_TILE_ROW(1), FASTNN_TILE_ROW(2), FASTNN_TILE_ROW(3), FASTNN_TILE_ROW(4),
                                  FASTNN_TILE_ROW(5), FASTNN_TILE_ROW(6), FASTNN_TILE_ROW(7), FASTNN_TILE_ROW(8)};
#undef FASTNN_TILE_ROW

void gemm_avx512(int64_t m, int64_t n, int64_t k, const float* a, int64_t rsa, int64_t ksa, const float* b,
                 int64_t ldb, float* c, int64_t ldc, GemmMode mode, const float* alpha) {
  for (int64_t j0 = 0; j0 < n; j0 += NVMAX * W) {
    const int64_t nv = (n - j0) / W < NVMAX ? (n - j0) / W : NVMAX;
    const float* al = alpha ? alpha + j0 : nullptr;
    int64_t r0 = 0;
    for (; r0 + MR <= m; r0 += MR)
      kTiles[MR - 1][nv - 1](k, a + r0 * rsa, rsa, ksa, b + j0, ldb, c + r0 * ldc + j0, ldc, mode, al);
    if (r0 < m) kTiles[m - r0 - 1][nv - 1](k, a + r0 * rsa, rsa, ksa, b + j0, ldb, c + r0 * ldc + j0, ldc, mode, al);
  }
}

// ---- masks ------------------------------------------------------------------------------------------

static inline __m512 masked_score(const ScoreBlock& blk, int64_t j, int64_t i0, __m512 x) {
  if (blk.bias_row) x = _mm512_add_ps(x, _mm512_set1_ps(blk.bias_row[j]));
  if (blk.bias_tile) x = _mm512_add_ps(x, _mm512_loadu_ps(blk.bias_tile + j * blk.ldbias + i0));
  if (blk.causal_thr != kNoCausal) {
    const int64_t t = blk.causal_thr + j - i0;  // lanes < t are masked
    if (t > 0) x = _mm512_mask_mov_ps(x, tail_mask(t > W ? W : int(t)), _mm512_set1_ps(-__builtin_inff()));
  }
  return x;
}

static inline bool has_masks(const ScoreBlock& blk) {
  return blk.bias_row || blk.bias_tile || blk.causal_thr != kNoCausal;
}

// ---- forward online softmax -------------------------------------------------------------------------

void softmax_fwd_avx512(const ScoreBlock& blk, float* m, float* l, float* alpha) {
  const __m512 ninf = _mm512_set1_ps(-__builtin_inff());
  const bool masked = has_masks(blk);
  for (int64_t i0 = 0; i0 < blk.n; i0 += W) {
    float* s = blk.s + i0;
    const __m512 m_old = _mm512_load_ps(m + i0);
    __m512 mx0 = m_old, mx1 = ninf;
    int64_t j = 0;
    if (masked) {
      for (; j < blk.nk; ++j) {
        const __m512 x = masked_score(blk, j, i0, _mm512_load_ps(s + j * blk.lds));
        _mm512_store_ps(s + j * blk.lds, x);
        mx0 = _mm512_max_ps(x, mx0);
      }
    } else {
      for (; j + 1 < blk.nk; j += 2) {
        mx0 = _mm512_max_ps(_mm512_load_ps(s + j * blk.lds), mx0);
        mx1 = _mm512_max_ps(_mm512_load_ps(s + (j + 1) * blk.lds), mx1);
      }
      if (j < blk.nk) mx0 = _mm512_max_ps(_mm512_load_ps(s + j * blk.lds), mx0);
    }
    const __m512 m_new = _mm512_max_ps(mx1, mx0);
    const __m512 safe = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(m_new, ninf, _CMP_NEQ_UQ), m_new);  // -inf → 0
    __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
    j = 0;
    for (; j + 1 < blk.nk; j += 2) {
      float* p0 = s + j * blk.lds;
      float* p1 = p0 + blk.lds;
      const __m512 e0 = exp(_mm512_sub_ps(_mm512_load_ps(p0), safe));
      const __m512 e1 = exp(_mm512_sub_ps(_mm512_load_ps(p1), safe));
      _mm512_store_ps(p0, e0);
      _mm512_store_ps(p1, e1);
      sum0 = _mm512_add_ps(sum0, e0);
      sum1 = _mm512_add_ps(sum1, e1);
    }
    if (j < blk.nk) {
      float* p0 = s + j * blk.lds;
      const __m512 e0 = exp(_mm512_sub_ps(_mm512_load_ps(p0), safe));
      _mm512_store_ps(p0, e0);
      sum0 = _mm512_add_ps(sum0, e0);
    }
    const __m512 al = exp(_mm512_sub_ps(m_old, safe));
    _mm512_store_ps(alpha + i0, al);
    _mm512_store_ps(l + i0, _mm512_fmadd_ps(al, _mm512_load_ps(l + i0), _mm512_add_ps(sum0, sum1)));
    _mm512_store_ps(m + i0, m_new);
  }
}

// ---- backward ---------------------------------------------------------------------------------------

void softmax_bwd_avx512(const ScoreBlock& blk, const float* lse, const float* delta, float* dp, int64_t lddp) {
  const bool masked = has_masks(blk);
  for (int64_t i0 = 0; i0 < blk.n; i0 += W) {
    const __m512 ls = _mm512_load_ps(lse + i0), de = _mm512_load_ps(delta + i0);
    for (int64_t j = 0; j < blk.nk; ++j) {
      float* ps = blk.s + j * blk.lds + i0;
      float* pd = dp + j * lddp + i0;
      __m512 x = _mm512_load_ps(ps);
      if (masked) x = masked_score(blk, j, i0, x);
      const __m512 p = exp(_mm512_sub_ps(x, ls));
      _mm512_store_ps(ps, p);
      _mm512_store_ps(pd, _mm512_mul_ps(p, _mm512_sub_ps(_mm512_load_ps(pd), de)));
    }
  }
}

// ---- decode (structure as kernels_avx2.cpp) ----------------------------------------------------------

// Eight horizontal sums (one per ymm) as one ymm.
static inline __m256 hsum8(const __m256* a) {
  const __m256 h01 = _mm256_hadd_ps(a[0], a[1]), h23 = _mm256_hadd_ps(a[2], a[3]);
  const __m256 h45 = _mm256_hadd_ps(a[4], a[5]), h67 = _mm256_hadd_ps(a[6], a[7]);
  const __m256 h0123 = _mm256_hadd_ps(h01, h23), h4567 = _mm256_hadd_ps(h45, h67);
  return _mm256_add_ps(_mm256_permute2f128_ps(h0123, h4567, 0x20), _mm256_permute2f128_ps(h0123, h4567, 0x31));
}

// Sixteen dot products q·k_jj as one vector (lane jj); k16 holds the row pointers.
static inline __m512 dot16(const float* q, const float* const* k16, int64_t d) {
  __m512 acc[16];
#pragma GCC unroll 16
  for (int jj = 0; jj < 16; ++jj) acc[jj] = _mm512_setzero_ps();
  const int64_t full = d / W * W;
  for (int64_t t = 0; t < full; t += W) {
    const __m512 qv = _mm512_load_ps(q + t);
#pragma GCC unroll 16
    for (int jj = 0; jj < 16; ++jj) acc[jj] = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k16[jj] + t), acc[jj]);
  }
  if (full < d) {
    const __mmask16 m = tail_mask(int(d - full));
    const __m512 qv = _mm512_load_ps(q + full);
#pragma GCC unroll 16
    for (int jj = 0; jj < 16; ++jj)
      acc[jj] = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k16[jj] + full), acc[jj]);
  }
  __m256 half[16];
#pragma GCC unroll 16
  for (int jj = 0; jj < 16; ++jj)
    half[jj] = _mm256_add_ps(_mm512_castps512_ps256(acc[jj]), _mm512_extractf32x8_ps(acc[jj], 1));
  return _mm512_insertf32x8(_mm512_castps256_ps512(hsum8(half)), hsum8(half + 8), 1);
}

template <int R, int NV, bool kMasked>
static inline void pv_strip(const DecodeBlock& d, int r0, int64_t j0, int64_t j1, int64_t t, __mmask16 tail) {
  __m512 acc[R][NV];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_load_ps(d.o + (r0 + r) * d.ldo + t + v * W);
  for (int64_t j = j0; j < j1; ++j) {
    const float* vj = d.v + j * d.ldv + t;
    __m512 vv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) vv[v] = kMasked ? _mm512_maskz_loadu_ps(tail, vj) : _mm512_loadu_ps(vj + v * W);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m512 p = _mm512_set1_ps(d.s[(r0 + r) * d.lds + j]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(p, vv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) _mm512_store_ps(d.o + (r0 + r) * d.ldo + t + v * W, acc[r][v]);
}

template <int R>
static void pv_rows(const DecodeBlock& d, int r0) {
  constexpr int NV = R == 1 ? 8 : (R == 2 ? 6 : 4);
  constexpr int64_t kChunk = 32;
  const int64_t full = d.dv / W * W;
  for (int64_t j0 = 0; j0 < d.nk; j0 += kChunk) {
    const int64_t j1 = d.nk - j0 < kChunk ? d.nk : j0 + kChunk;
    int64_t t = 0;
    for (; t + NV * W <= full; t += NV * W) pv_strip<R, NV, false>(d, r0, j0, j1, t, 0);
    for (; t < full; t += W) pv_strip<R, 1, false>(d, r0, j0, j1, t, 0);
    if (t < d.dv) pv_strip<R, 1, true>(d, r0, j0, j1, t, tail_mask(int(d.dv - t)));
  }
}

void decode_avx512(const DecodeBlock& d) {
  const __m512 ninf = _mm512_set1_ps(-__builtin_inff());
  __m512 mx[kDecodeMaxRows];
  for (int r = 0; r < d.rows; ++r) mx[r] = _mm512_set1_ps(d.m[r]);
  for (int64_t j = 0; j < d.nk; j += W) {
    const float* k16[16];
    for (int jj = 0; jj < 16; ++jj) k16[jj] = d.k + (j + jj < d.nk ? j + jj : j) * d.ldk;
    for (int r = 0; r < d.rows; ++r) {
      __m512 x = dot16(d.q + r * d.ldq, k16, d.d);
      if (d.bias) {
        const float* b = d.bias + r * d.ldbias + j;
        x = _mm512_add_ps(x, j + W <= d.nk ? _mm512_loadu_ps(b) : _mm512_maskz_loadu_ps(tail_mask(int(d.nk - j)), b));
      }
      int64_t lim = d.nk - j;
      if (d.limit && d.limit[r] - j < lim) lim = d.limit[r] - j;
      if (lim < W) x = _mm512_mask_mov_ps(ninf, tail_mask(lim < 0 ? 0 : int(lim)), x);
      _mm512_store_ps(d.s + r * d.lds + j, x);
      mx[r] = _mm512_max_ps(x, mx[r]);
    }
  }
  const int64_t nkp = (d.nk + W - 1) / W * W;
  for (int r = 0; r < d.rows; ++r) {
    float* s = d.s + r * d.lds;
    const float m_new = hmax(mx[r]);
    const float safe = m_new == -__builtin_inff() ? 0.0f : m_new;
    const __m512 sv = _mm512_set1_ps(safe);
    __m512 sum = _mm512_setzero_ps();
    for (int64_t j = 0; j < nkp; j += W) {
      const __m512 p = exp(_mm512_sub_ps(_mm512_load_ps(s + j), sv));
      _mm512_store_ps(s + j, p);
      sum = _mm512_add_ps(sum, p);
    }
    const __m512 al = exp(_mm512_set1_ps(d.m[r] - safe));
    d.l[r] = _mm512_cvtss_f32(al) * d.l[r] + hsum(sum);
    d.m[r] = m_new;
    float* o = d.o + r * d.ldo;
    for (int64_t t = 0; t < d.dv; t += W) _mm512_store_ps(o + t, _mm512_mul_ps(al, _mm512_load_ps(o + t)));
  }
  int r0 = 0;
  for (; r0 + 4 <= d.rows; r0 += 4) pv_rows<4>(d, r0);
  switch (d.rows - r0) {
    case 3: pv_rows<3>(d, r0); break;
    case 2: pv_rows<2>(d, r0); break;
    case 1: pv_rows<1>(d, r0); break;
    default: break;
  }
}

const Leaves kAvx512 = {"avx512", W, MR, 96, 192, 64, gemm_avx512, softmax_fwd_avx512, softmax_bwd_avx512, decode_avx512};

}  // namespace

const Leaves& leaves_avx512() { return kAvx512; }

}  // namespace attn
}  // namespace fastnn
